package target

import (
	"encoding/binary"
	"fmt"
	"strings"

	"glassbox/cpu"
	"glassbox/machine"
)

// Seg is a segment register with its hidden descriptor cache.
type Seg struct {
	Sel   uint16
	Base  uint64
	Limit uint32
	Attr  uint16 // descriptor bits 40-47 low byte, 52-55 in bits 12-15
}

// Regs is a snapshot of one vCPU's architectural state.
type Regs struct {
	CPU    int
	Mode   string // real, v8086, protected16, protected32, compat16, compat32, long64
	Bits   int    // decode width: 16, 32 or 64
	CPL    int
	Halted bool
	// WaitSIPI: an application processor that has not been started yet.
	WaitSIPI bool
	ICount   uint64
	GPR      [16]uint64 // RAX..R15 in encoding order
	RIP      uint64     // offset in CS
	PC       uint64     // linear address of the next instruction
	RFLAGS   uint64
	Seg      [6]Seg // ES CS SS DS FS GS
	LDTR     Seg
	TR       Seg
	GDTBase  uint64
	GDTLim   uint32
	IDTBase  uint64
	IDTLim   uint32
	CR0      uint64
	CR2      uint64
	CR3      uint64
	CR4      uint64
	CR8      uint64
	EFER     uint64
	DR       [8]uint64
	KGSBase  uint64
	A20      bool
	// LastException is the last exception delivered (-1 if none).
	LastException int
	ExcChain      []string
	FPU           FPU
}

// FPU is the x87 and SSE state of a vCPU.
type FPU struct {
	FCW, FSW, FTW, FOP uint16 // FSW includes TOP; FTW is the full tag word (11 = empty)
	FIP, FDP           uint64
	FCS, FDS           uint16
	ST                 [8]F80 // ST(0)..ST(7)
	XMM                [16][2]uint64
	MXCSR              uint32
}

// F80 is an 80-bit extended value: sign and exponent, significand.
type F80 struct {
	SE uint16
	M  uint64
}

// Regs returns a snapshot of vCPU i.
func (t *Target) Regs(i int) (Regs, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.cpu(i)
	if err != nil {
		return Regs{}, err
	}
	r := Regs{CPU: i, Mode: c.Mode().String(), CPL: c.CPL(), Halted: c.Halted, WaitSIPI: c.WaitingForSIPI(), ICount: c.ICount,
		GPR: c.R, RIP: c.EIP, PC: c.PC(), RFLAGS: c.Flags(), CR0: c.CR0, CR2: c.CR2, CR3: c.CR3,
		CR4: c.CR4, CR8: c.CR8, EFER: c.EFER, DR: c.DR, A20: c.A20(), LastException: c.ExcFirst()}
	switch c.Mode() {
	case cpu.ModeLong64:
		r.Bits = 64
	case cpu.ModeProt32, cpu.ModeCompat32:
		r.Bits = 32
	default:
		r.Bits = 16
	}
	for s := 0; s < 6; s++ {
		x := &c.Seg[s]
		r.Seg[s] = Seg{x.Sel, x.Base, x.Limit, x.Attr}
	}
	r.LDTR = Seg{c.LDTR.Sel, c.LDTR.Base, c.LDTR.Limit, c.LDTR.Attr}
	r.TR = Seg{c.TR.Sel, c.TR.Base, c.TR.Limit, c.TR.Attr}
	r.GDTBase, r.GDTLim = c.GDTR.Base, c.GDTR.Limit
	r.IDTBase, r.IDTLim = c.IDTR.Base, c.IDTR.Limit
	f := c.FPU()
	r.FPU = FPU{FCW: f.FCW, FSW: f.FSW, FTW: f.FTW, FOP: f.FOP, FIP: f.FIP, FDP: f.FDP, FCS: f.FCS, FDS: f.FDS,
		XMM: f.XMM, MXCSR: f.MXCSR}
	for k, st := range f.ST {
		r.FPU.ST[k] = F80{st.SE, st.M}
	}
	r.LastException = -1
	if len(c.ExcChain) > 0 {
		r.LastException = c.LastExc.Vector
		r.ExcChain = strings.Split(machine.FormatChain(c.ExcChain), " -> ")
	}
	return r, nil
}

// SetReg writes one register by name (gdb/QEMU names: rax..r15, eax..,
// rip/eip/pc, eflags/rflags, cs..gs selectors, cr0..cr4, cr8, efer,
// fs_base, gs_base, k_gs_base, dr0..dr7).
func (t *Target) SetReg(i int, name string, v uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.cpu(i)
	if err != nil {
		return err
	}
	n := strings.ToLower(name)
	for k, rn := range cpu.RegNames64 {
		if n == rn {
			c.R[k] = v
			return nil
		}
	}
	for k, rn := range []string{"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"} {
		if n == rn {
			c.R[k] = v & 0xFFFFFFFF
			return nil
		}
	}
	for k, rn := range []string{"ax", "cx", "dx", "bx", "sp", "bp", "si", "di"} {
		if n == rn {
			c.R[k] = c.R[k]&^0xFFFF | v&0xFFFF
			return nil
		}
	}
	switch n {
	case "rip", "eip", "ip":
		c.EIP = v
	case "pc":
		// a linear PC: convert back to an offset in CS
		c.EIP = v - c.Seg[cpu.CS].Base
	case "eflags", "rflags", "flags":
		c.SetFlags(v)
	case "cr0", "cr3", "cr4":
		cr0, cr3, cr4 := c.CR0, c.CR3, c.CR4
		switch n {
		case "cr0":
			cr0 = v
		case "cr3":
			cr3 = v
		default:
			cr4 = v
		}
		efer := c.EFER &^ cpu.EFER_LMA
		if cr0&cpu.CR0_PG != 0 && efer&cpu.EFER_LME != 0 {
			efer |= cpu.EFER_LMA // as MOV to CR0 does (SDM Vol. 3 §10.8.5)
		}
		c.SetControl(cr0, cr3, cr4, efer)
	case "cr2":
		c.CR2 = v
	case "cr8":
		c.CR8 = v & 15
	case "efer":
		v &^= cpu.EFER_LMA
		if c.CR0&cpu.CR0_PG != 0 && v&cpu.EFER_LME != 0 {
			v |= cpu.EFER_LMA
		}
		c.SetControl(c.CR0, c.CR3, c.CR4, v)
	case "fs_base":
		c.Seg[cpu.FS].Base = v
	case "gs_base":
		c.Seg[cpu.GS].Base = v
	default:
		for s, sn := range cpu.SegNames {
			if n == sn {
				// Debugger segment writes load real-mode style (base =
				// sel<<4) in real/v86 mode, else keep the cached descriptor.
				seg := c.Seg[s]
				if c.Mode() == cpu.ModeReal || c.Mode() == cpu.ModeV86 {
					seg.Base = (v & 0xFFFF) << 4
				}
				c.SetSegment(s, uint16(v), seg.Base, seg.Limit, seg.Attr)
				return nil
			}
		}
		if strings.HasPrefix(n, "dr") && len(n) == 3 && n[2] >= '0' && n[2] <= '7' {
			c.SetDR(int(n[2]-'0'), v)
			return nil
		}
		return fmt.Errorf("unknown register %q", name)
	}
	return nil
}

// InterruptsEnabled reports EFLAGS.IF of vCPU i.
func (r *Regs) InterruptsEnabled() bool { return r.RFLAGS&cpu.FLAG_IF != 0 }

// SetFPUReg writes one x87/SSE register from its little-endian bytes, as
// gdb sends them: st0-st7 (10 bytes, stack order), fctrl, fstat (TOP
// included), ftag (full tag word), fiseg, fioff, foseg, fooff, fop,
// xmm0-xmm15 (16 bytes), mxcsr (bits outside MXCSR_MASK dropped).
func (t *Target) SetFPUReg(i int, name string, raw []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, err := t.cpu(i)
	if err != nil {
		return err
	}
	f := c.FPU()
	le := binary.LittleEndian
	word := func() (uint64, error) {
		if len(raw) < 1 || len(raw) > 8 {
			return 0, fmt.Errorf("%s: want 1..8 bytes, got %d", name, len(raw))
		}
		var b [8]byte
		copy(b[:], raw)
		return le.Uint64(b[:]), nil
	}
	var k int
	switch {
	case len(name) == 3 && strings.HasPrefix(name, "st") && name[2] >= '0' && name[2] <= '7':
		if len(raw) != 10 {
			return fmt.Errorf("%s: want 10 bytes, got %d", name, len(raw))
		}
		k = int(name[2] - '0')
		f.ST[k].M, f.ST[k].SE = le.Uint64(raw[0:]), le.Uint16(raw[8:])
	case strings.HasPrefix(name, "xmm"):
		if _, err := fmt.Sscanf(name, "xmm%d", &k); err != nil || k < 0 || k > 15 || len(raw) != 16 {
			return fmt.Errorf("%s: want xmm0..xmm15 and 16 bytes", name)
		}
		f.XMM[k][0], f.XMM[k][1] = le.Uint64(raw[0:]), le.Uint64(raw[8:])
	default:
		v, err := word()
		if err != nil {
			return err
		}
		switch name {
		case "fctrl":
			f.FCW = uint16(v)
		case "fstat":
			f.FSW = uint16(v)
		case "ftag":
			f.FTW = uint16(v)
		case "fiseg":
			f.FCS = uint16(v)
		case "fioff":
			f.FIP = v
		case "foseg":
			f.FDS = uint16(v)
		case "fooff":
			f.FDP = v
		case "fop":
			f.FOP = uint16(v)
		case "mxcsr":
			f.MXCSR = uint32(v)
		default:
			return fmt.Errorf("no x87/SSE register %q", name)
		}
	}
	c.SetFPU(f)
	return nil
}
