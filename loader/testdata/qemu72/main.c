typedef unsigned int u32; typedef unsigned short u16; typedef unsigned char u8; typedef unsigned long long u64;
extern u8 sv[]; extern u8 bssmarker[]; extern char _end[], _edata[], _start[];
static inline void outb(u16 p, u8 v){ __asm__ volatile("outb %0,%1"::"a"(v),"Nd"(p)); }
static void putc_(char c){ outb(0x3f8,c); }
static void puts_(const char*s){ while(*s) putc_(*s++); }
static void hex(u32 v,int n){ for(int i=n-1;i>=0;i--) putc_("0123456789abcdef"[(v>>(4*i))&15]); }
static void kv(const char*k,u32 v){ puts_(k); puts_("="); hex(v,8); puts_("\n"); }
static u32 rd32(u32 a){ return *(volatile u32*)a; }
static void qstr(u32 a){ putc_('"'); const char*s=(const char*)a; for(int i=0;i<200&&s[i];i++){ if(s[i]<32||s[i]>126){puts_("\\x");hex((u8)s[i],2);} else putc_(s[i]); } putc_('"'); }
void kmain(void){
  static const char *rn[]={"eax","ebx","ecx","edx","esi","edi","esp","ebp","eflags","cr0","cr3","cr4"};
  for(int i=0;i<12;i++) kv(rn[i], *(u32*)(sv+4*i));
  static const char *sn[]={"cs","ds","es","fs","gs","ss"};
  for(int i=0;i<6;i++){ puts_(sn[i]); puts_("="); hex(*(u16*)(sv+48+2*i),4); puts_("\n"); }
  u16 gl=*(u16*)(sv+60); u32 gb=*(u32*)(sv+62);
  puts_("gdtr base="); hex(gb,8); puts_(" limit="); hex(gl,4); puts_("\n");
  puts_("idtr base="); hex(*(u32*)(sv+70),8); puts_(" limit="); hex(*(u16*)(sv+68),4); puts_("\n");
  for(u32 o=0;o+7<=gl;o+=8){ puts_(" gdt["); hex(o,2); puts_("]="); hex(rd32(gb+o+4),8); hex(rd32(gb+o),8); puts_("\n"); }
  kv("kernel_start",(u32)_start); kv("edata",(u32)_edata); kv("end",(u32)_end);
  int z=1; for(int i=0;i<64;i++) if(bssmarker[i]) z=0; kv("bss_zero",z);
  u32 m=*(u32*)(sv+4);
  puts_("mbi:"); for(int i=0;i<22;i++){ puts_(" "); hex(rd32(m+4*i),8);} puts_("\n");
  u32 fl=rd32(m);
  kv("flags",fl); kv("mem_lower",rd32(m+4)); kv("mem_upper",rd32(m+8)); kv("boot_device",rd32(m+12));
  kv("cmdline",rd32(m+16)); puts_(" cmdline_str="); qstr(rd32(m+16)); puts_("\n");
  u32 mc=rd32(m+20), ma=rd32(m+24); kv("mods_count",mc); kv("mods_addr",ma);
  for(u32 i=0;i<mc;i++){ u32 e=ma+16*i; puts_(" mod "); hex(rd32(e),8); puts_("-"); hex(rd32(e+4),8); puts_(" str="); hex(rd32(e+8),8); puts_(" rsv="); hex(rd32(e+12),8); puts_(" "); qstr(rd32(e+8)); puts_(" data="); for(int j=0;j<8;j++) hex(*(u8*)(rd32(e)+j),2); puts_("\n"); }
  u32 ml=rd32(m+44), mm=rd32(m+48); kv("mmap_length",ml); kv("mmap_addr",mm);
  for(u32 p=mm;p<mm+ml;){ u32 sz=rd32(p); puts_(" e820 size="); hex(sz,8); puts_(" base="); hex(rd32(p+8),8); hex(rd32(p+4),8); puts_(" len="); hex(rd32(p+16),8); hex(rd32(p+12),8); puts_(" type="); hex(rd32(p+20),8); puts_("\n"); p+=sz+4; }
  kv("boot_loader_name",rd32(m+64)); puts_(" name="); qstr(rd32(m+64)); puts_("\n");
  puts_("DONE\n");
  outb(0xf4,0);
}
