package gdbstub

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"glassbox/guests"
)

// Protocol-level tests with the in-repo client.

func TestQSupported(t *testing.T) {
	s := startStub(t, demoGuest, Config{})
	c := dial(t, s.addr)
	c.raw("+")
	r := c.cmd("qSupported:swbreak+;hwbreak+;vContSupported+")
	for _, f := range []string{"PacketSize=4000", "QStartNoAckMode+", "qXfer:features:read+",
		"qXfer:memory-map:read+", "swbreak+", "hwbreak+", "vContSupported+"} {
		if !strings.Contains(";"+r+";", ";"+f+";") {
			t.Errorf("qSupported reply %q lacks %s", r, f)
		}
	}
	if strings.Contains(r, "multiprocess+") {
		t.Errorf("qSupported must not claim multiprocess: %q", r)
	}
}

// fetchXfer reads a whole qXfer object in chunks of n bytes.
func fetchXfer(t *testing.T, c *client, object, annex string, n int) string {
	t.Helper()
	var doc []byte
	for {
		r := c.cmd(fmt.Sprintf("qXfer:%s:read:%s:%x,%x", object, annex, len(doc), n))
		if r == "" || r[0] == 'E' {
			t.Fatalf("qXfer %s: %q", object, r)
		}
		data, err := unescape([]byte(r[1:]))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > n {
			t.Fatalf("qXfer chunk of %d bytes for a request of %d", len(data), n)
		}
		doc = append(doc, data...)
		if r[0] == 'l' {
			return string(doc)
		}
		if r[0] != 'm' {
			t.Fatalf("qXfer reply %q", r)
		}
	}
}

type xmlTarget struct {
	Arch     string `xml:"architecture"`
	Features []struct {
		Name string `xml:"name,attr"`
		Regs []struct {
			Name    string `xml:"name,attr"`
			Bitsize int    `xml:"bitsize,attr"`
			Regnum  int    `xml:"regnum,attr"`
		} `xml:"reg"`
	} `xml:"feature"`
}

func TestTargetDescriptions(t *testing.T) {
	want := map[string][]string{
		ArchI386: {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip", "eflags",
			"cs", "ss", "ds", "es", "fs", "gs", "st0", "st1", "st2", "st3", "st4", "st5", "st6", "st7",
			"fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop",
			"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "mxcsr",
			"cr0", "cr2", "cr3", "cr4", "cr8", "efer", "cs_base", "ss_base", "ds_base", "es_base",
			"fs_base", "gs_base", "k_gs_base", "mode_bits"},
		ArchX8664: {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
			"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "eflags",
			"cs", "ss", "ds", "es", "fs", "gs", "st0", "st1", "st2", "st3", "st4", "st5", "st6", "st7",
			"fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop",
			"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
			"xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "mxcsr",
			"fs_base", "gs_base",
			"cr0", "cr2", "cr3", "cr4", "cr8", "efer", "cs_base", "ss_base", "ds_base", "es_base",
			"k_gs_base", "mode_bits"},
	}
	for _, tc := range []struct {
		arch, declared string
		g              guestKind
	}{
		{ArchI386, "i8086", demoGuest},  // reset vector: 16-bit code
		{ArchI386, "i386", kernelGuest}, // multiboot entry: 32-bit code
		{ArchI8086, "i8086", kernelGuest},
		{ArchX8664, "i386:x86-64", demoGuest},
	} {
		t.Run(tc.arch+"/"+tc.declared, func(t *testing.T) {
			s := startStub(t, tc.g, Config{Arch: tc.arch})
			c := dial(t, s.addr)
			c.handshake()
			// small chunks exercise m/l continuation and escaping
			doc := fetchXfer(t, c, "features", "target.xml", 200)
			var x xmlTarget
			if err := xml.Unmarshal([]byte(doc), &x); err != nil {
				t.Fatalf("target.xml does not parse: %v\n%s", err, doc)
			}
			if x.Arch != tc.declared {
				t.Errorf("architecture %q, want %q", x.Arch, tc.declared)
			}
			var names []string
			bits := 0
			for _, f := range x.Features {
				for _, r := range f.Regs {
					if r.Regnum != len(names) {
						t.Errorf("%s: regnum %d, want %d", r.Name, r.Regnum, len(names))
					}
					names = append(names, r.Name)
					bits += r.Bitsize
				}
			}
			arch := tc.arch
			if arch == ArchI8086 {
				arch = ArchI386
			}
			if strings.Join(names, ",") != strings.Join(want[arch], ",") {
				t.Errorf("registers\n got %v\nwant %v", names, want[arch])
			}
			g := c.cmd("g")
			if len(g) != bits/4 {
				t.Errorf("g reply has %d hex digits, the description %d", len(g), bits/4)
			}
			feats := map[string]bool{}
			for _, f := range x.Features {
				feats[f.Name] = true
			}
			for _, f := range []string{featCore, featSSE, featSys} {
				if !feats[f] {
					t.Errorf("feature %s missing", f)
				}
			}
			if arch == ArchX8664 != feats[featSegments] {
				t.Errorf("segments feature present=%v for %s", feats[featSegments], arch)
			}
			// unknown annex / object / op
			if r := c.cmd("qXfer:features:read:other.xml:0,100"); r != "E00" {
				t.Errorf("unknown annex: %q", r)
			}
			if r := c.cmd("qXfer:nothing:read::0,100"); r != "" {
				t.Errorf("unknown object: %q", r)
			}
			if r := c.cmd("qXfer:features:write:target.xml:0,100"); r != "" {
				t.Errorf("write: %q", r)
			}
			if r := c.cmd("qXfer:features:read:target.xml:zz"); r != "E01" {
				t.Errorf("bad offset: %q", r)
			}
			if r := c.cmd(fmt.Sprintf("qXfer:features:read:target.xml:%x,10", len(doc)+5)); r != "l" {
				t.Errorf("read past the end: %q", r)
			}
		})
	}
}

func TestResetVectorRegisters(t *testing.T) {
	s := startStub(t, demoGuest, Config{})
	c := dial(t, s.addr)
	if r := c.handshake(); r != "T05thread:1;" {
		t.Errorf("? = %q", r)
	}
	l := layouts[ArchI386]
	g := c.cmd("g")
	for _, x := range []struct {
		name string
		want uint64
	}{
		{"eip", 0xfffffff0}, {"cs", 0xf000}, {"cs_base", 0xffff0000}, {"eflags", 2},
		{"fctrl", 0x37f}, {"ftag", 0xffff}, {"mxcsr", 0x1f80}, {"mode_bits", 16}, {"cr0", 0x60000010},
	} {
		if v := regAt(t, l, g, x.name); v != x.want {
			t.Errorf("%s = %#x, want %#x", x.name, v, x.want)
		}
	}
	// p: eip is register 8
	if r := c.cmd("p8"); r != le32(0xfffffff0) {
		t.Errorf("p8 = %q", r)
	}
	if r := c.cmd(fmt.Sprintf("p%x", l.find("st0"))); r != strings.Repeat("0", 20) {
		t.Errorf("st0 = %q", r)
	}
	if r := c.cmd("p1000"); r != "E22" {
		t.Errorf("p out of range: %q", r)
	}
	if r := c.cmd("pzz"); r != "E01" {
		t.Errorf("p malformed: %q", r)
	}
	// memory at the linear PC is the reset vector of the ROM
	m := c.cmd("mfffffff0,10")
	if want := hex.EncodeToString(guests.DemoROM[len(guests.DemoROM)-16:]); m != want {
		t.Errorf("m at the reset vector = %s, want %s", m, want)
	}
	// qThreadExtraInfo
	info, _ := hex.DecodeString(c.cmd("qThreadExtraInfo,1"))
	if string(info) != "CPU#0 real" {
		t.Errorf("qThreadExtraInfo = %q", info)
	}
}

func TestRegisterWrites(t *testing.T) {
	s := startStub(t, demoGuest, Config{})
	c := dial(t, s.addr)
	c.handshake()
	l := layouts[ArchI386]
	// P eax
	if r := c.cmd("P0=" + le32(0x12345678)); r != "OK" {
		t.Fatalf("P eax: %q", r)
	}
	if r := c.cmd("p0"); r != le32(0x12345678) {
		t.Errorf("eax after P = %q", r)
	}
	// the PC slot is linear: writing it converts back to an offset in CS
	if r := c.cmd("P8=" + le32(0xffff1234)); r != "OK" {
		t.Fatalf("P eip: %q", r)
	}
	regs, _ := s.t.Regs(0)
	if regs.RIP != 0x1234 || regs.PC != 0xffff1234 {
		t.Errorf("after writing the linear PC: EIP=%#x PC=%#x", regs.RIP, regs.PC)
	}
	// G with the g contents is a no-op that succeeds (x87/SSE and
	// read-only registers unchanged)
	g := c.cmd("g")
	if r := c.cmd("G" + g); r != "OK" {
		t.Errorf("G round trip: %q", r)
	}
	// G changing ebx and an xmm register (ignored)
	gb := []byte(g)
	copy(gb[3*8:], le32(0xcafe))
	xo := 0
	for _, d := range l.regs[:l.find("xmm3")] {
		xo += d.bits / 4
	}
	copy(gb[xo:], "ff")
	if r := c.cmd("G" + string(gb)); r != "OK" {
		t.Errorf("G: %q", r)
	}
	regs, _ = s.t.Regs(0)
	if regs.GPR[3] != 0xcafe {
		t.Errorf("ebx = %#x after G", regs.GPR[3])
	}
	// x87/SSE writes are accepted and ignored
	if r := c.cmd(fmt.Sprintf("P%x=%s", l.find("xmm0"), strings.Repeat("11", 16))); r != "OK" {
		t.Errorf("P xmm0: %q", r)
	}
	// read-only registers refuse a change, accept the same value
	cb := l.find("cs_base")
	if r := c.cmd(fmt.Sprintf("P%x=%s", cb, "0000000000000000")); r != "E16" {
		t.Errorf("P cs_base change: %q", r)
	}
	if r := c.cmd(fmt.Sprintf("P%x=%s", cb, "0000ffff00000000")); r != "OK" {
		t.Errorf("P cs_base same value: %q", r)
	}
	// control registers go to the target
	if r := c.cmd(fmt.Sprintf("P%x=%s", l.find("cr2"), "efbeadde00000000")); r != "OK" {
		t.Errorf("P cr2: %q", r)
	}
	regs, _ = s.t.Regs(0)
	if regs.CR2 != 0xdeadbeef {
		t.Errorf("cr2 = %#x", regs.CR2)
	}
	// malformed
	for _, p := range []string{"P", "P0", "P0=", "P0=123", "P0=zzzzzzzz", "Pzz=00000000", "P1000=00000000", "G1", "Gzz", "G" + g + "00"} {
		if r := c.cmd(p); r != "E01" && r != "E22" {
			t.Errorf("%q: %q, want an error", p, r)
		}
	}
}

func TestMemory(t *testing.T) {
	s := startStub(t, demoGuest, Config{})
	c := dial(t, s.addr)
	c.handshake()
	if r := c.cmd("M2000,4:deadbeef"); r != "OK" {
		t.Fatalf("M: %q", r)
	}
	if r := c.cmd("m2000,4"); r != "deadbeef" {
		t.Errorf("m after M = %q", r)
	}
	// X with bytes that need escaping: $ # } *
	data := []byte{'$', '#', '}', '*', 0, 0xff}
	if r := c.cmd("X2010,6:" + string(escape(data))); r != "OK" {
		t.Fatalf("X: %q", r)
	}
	buf := make([]byte, 6)
	s.t.ReadPhys(0x2010, buf)
	if !bytes.Equal(buf, data) {
		t.Errorf("X wrote % x, want % x", buf, data)
	}
	// the reply to m is hex, never escaped
	if r := c.cmd("m2010,6"); r != hex.EncodeToString(data) {
		t.Errorf("m = %q", r)
	}
	// X probe
	if r := c.cmd("X2000,0:"); r != "OK" {
		t.Errorf("X probe: %q", r)
	}
	// a large read is truncated, not refused
	if r := c.cmd("m0,100000"); len(r) == 0 || len(r) > PacketSize {
		t.Errorf("large m: %d hex digits", len(r))
	}
	for _, p := range []string{"m", "m2000", "m2000,", "mzz,4", "m2000,zz", "M2000,4", "M2000,4:dead", "M2000,2:zzzz",
		"X2000,4", "X2000,4:ab", "Xzz,1:a", "X2000,1:}", "m11111111111111111,1"} {
		if r := c.cmd(p); r != "E01" {
			t.Errorf("%q: %q, want E01", p, r)
		}
	}
	// writes to unassigned physical memory fail
	if r := c.cmd("M10000000,1:00"); r != "E14" {
		t.Errorf("M to unassigned memory: %q", r)
	}
}

// enablePaging identity-maps the first 4 MiB with one page table, leaving
// everything else unmapped, and turns on protected mode and paging.
func enablePaging(t *testing.T, s *stub) {
	t.Helper()
	pd := make([]byte, 4096)
	binary.LittleEndian.PutUint32(pd, 0x11000|3)
	pt := make([]byte, 4096)
	for i := 0; i < 1024; i++ {
		binary.LittleEndian.PutUint32(pt[4*i:], uint32(i)<<12|3)
	}
	if err := s.t.WritePhys(0x10000, pd); err != nil {
		t.Fatal(err)
	}
	if err := s.t.WritePhys(0x11000, pt); err != nil {
		t.Fatal(err)
	}
	if err := s.t.SetReg(0, "cr3", 0x10000); err != nil {
		t.Fatal(err)
	}
	if err := s.t.SetReg(0, "cr0", 0x80000011); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryUnmappedAndPhys(t *testing.T) {
	s := startStub(t, kernelGuest, Config{})
	c := dial(t, s.addr)
	c.handshake()
	s.t.WritePhys(0x500000, []byte{1, 2, 3, 4})
	if r := c.cmd("m500000,4"); r != "01020304" {
		t.Fatalf("m before paging: %q", r)
	}
	enablePaging(t, s)
	if r := c.cmd("m500000,4"); r != "E14" {
		t.Errorf("m on an unmapped linear address: %q, want E14", r)
	}
	if r := c.cmd("M500000,1:00"); r != "E14" {
		t.Errorf("M on an unmapped linear address: %q", r)
	}
	// partial read up to the end of the mapping
	if r := c.cmd("m3ffffe,4"); len(r) != 4 {
		t.Errorf("partial read: %q, want 2 bytes", r)
	}
	// monitor phys on: physical addresses
	con, r := c.cmdConsole("qRcmd," + hexText([]byte("phys on")))
	if r != "OK" || !strings.Contains(con, "PHYSICAL") {
		t.Errorf("phys on: %q %q", con, r)
	}
	if r := c.cmd("m500000,4"); r != "01020304" {
		t.Errorf("m in phys mode: %q", r)
	}
	if r := c.cmd("M500000,1:09"); r != "OK" {
		t.Errorf("M in phys mode: %q", r)
	}
	if r := c.cmd("m500000,1"); r != "09" {
		t.Errorf("m in phys mode after M: %q", r)
	}
	c.cmdConsole("qRcmd," + hexText([]byte("phys off")))
	if r := c.cmd("m500000,4"); r != "E14" {
		t.Errorf("m after phys off: %q", r)
	}
}

func TestMemoryMap(t *testing.T) {
	s := startStub(t, demoGuest, Config{})
	c := dial(t, s.addr)
	c.handshake()
	doc := fetchXfer(t, c, "memory-map", "", 100)
	var mm struct {
		Regions []struct {
			Type   string `xml:"type,attr"`
			Start  string `xml:"start,attr"`
			Length string `xml:"length,attr"`
		} `xml:"memory"`
	}
	if err := xml.Unmarshal([]byte(doc), &mm); err != nil {
		t.Fatalf("memory map: %v\n%s", err, doc)
	}
	var got []string
	end := uint64(0)
	for _, r := range mm.Regions {
		var a, n uint64
		fmt.Sscanf(r.Start, "0x%x", &a)
		fmt.Sscanf(r.Length, "0x%x", &n)
		if a != end {
			t.Errorf("gap or overlap at %#x (previous end %#x)", a, end)
		}
		end = a + n
		got = append(got, fmt.Sprintf("%s %#x-%#x", r.Type, a, a+n))
	}
	want := []string{"ram 0x0-0xf0000", "rom 0xf0000-0x100000", "ram 0x100000-0xffff0000", "rom 0xffff0000-0x100000000"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("memory map\n got %v\nwant %v", got, want)
	}
	if r := c.cmd("qXfer:memory-map:read:annex:0,10"); r != "E00" {
		t.Errorf("memory map with an annex: %q", r)
	}
}

// start32 finds the demo ROM's 32-bit entry: the operand of its
// "ljmpl $0x08, $start32" (66 EA imm32 08 00).
func start32(t *testing.T) uint64 {
	t.Helper()
	rom := guests.DemoROM
	for i := 0; i+8 <= len(rom); i++ {
		if rom[i] == 0x66 && rom[i+1] == 0xea && rom[i+6] == 0x08 && rom[i+7] == 0 {
			return uint64(binary.LittleEndian.Uint32(rom[i+2:]))
		}
	}
	t.Fatal("no ljmpl $0x08 in the demo ROM")
	return 0
}

func TestStepAndBreakpoints(t *testing.T) {
	s := startStub(t, demoGuest, Config{})
	c := dial(t, s.addr)
	c.handshake()
	// s: the reset vector's far jump lands at F000:0000 = linear 0xf0000
	if r := c.cmd("s"); r != "T05thread:1;" {
		t.Fatalf("s = %q", r)
	}
	if r := c.cmd("p8"); r != le32(0xf0000) {
		t.Errorf("eip after the first step = %q, want linear 0xf0000", r)
	}
	// vCont;s:1 and vCont;s (current thread)
	if r := c.cmd("vCont;s:1;c"); r != "T05thread:1;" {
		t.Errorf("vCont;s:1;c = %q", r)
	}
	if r := c.cmd("vCont;s"); r != "T05thread:1;" {
		t.Errorf("vCont;s = %q", r)
	}
	if r := c.cmd("p8"); r != le32(0xf0002) {
		t.Errorf("eip after 3 steps = %q, want 0xf0002 (cli; cld)", r)
	}
	// Z0 on a linear address in 32-bit code, continue: swbreak
	bp := start32(t)
	if r := c.cmd(fmt.Sprintf("Z0,%x,1", bp)); r != "OK" {
		t.Fatalf("Z0: %q", r)
	}
	if r := c.cmd("vCont;c"); r != "T05thread:1;swbreak:;" {
		t.Fatalf("continue to the breakpoint: %q", r)
	}
	if r := c.cmd("p8"); r != le32(uint32(bp)) {
		t.Errorf("eip at the breakpoint = %q, want %#x", r, bp)
	}
	if r := c.cmd(fmt.Sprintf("p%x", layouts[ArchI386].find("mode_bits"))); r != le32(32) {
		t.Errorf("mode_bits in 32-bit code = %q", r)
	}
	// stepping from a breakpoint address makes progress
	if r := c.cmd("s"); r != "T05thread:1;" {
		t.Errorf("s from a breakpoint: %q", r)
	}
	if r := c.cmd("p8"); r == le32(uint32(bp)) {
		t.Errorf("s from a breakpoint did not move")
	}
	// set a breakpoint on the current PC with Z1 and continue from it:
	// it must not re-report the same breakpoint
	regs, _ := s.t.Regs(0)
	here := regs.PC
	// find the next instruction by stepping, then go back
	c.cmd("s")
	regs2, _ := s.t.Regs(0)
	next := regs2.PC
	if r := c.cmd(fmt.Sprintf("Z1,%x,1", next)); r != "OK" {
		t.Fatal(r)
	}
	if r := c.cmd(fmt.Sprintf("c%x", here)); r != "T05thread:1;hwbreak:;" {
		t.Errorf("c ADDR to a Z1 breakpoint: %q", r)
	}
	if r := c.cmd(fmt.Sprintf("z1,%x,1", next)); r != "OK" {
		t.Error(r)
	}
	if r := c.cmd(fmt.Sprintf("z0,%x,1", bp)); r != "OK" {
		t.Error(r)
	}
	if bs, _ := s.t.Breakpoints(); len(bs) != 0 {
		t.Errorf("breakpoints left after z0/z1: %v", bs)
	}
	// removing something that is not there is fine
	if r := c.cmd("z0,1234,1"); r != "OK" {
		t.Errorf("z0 of nothing: %q", r)
	}
	for _, p := range []string{"Z0", "Z0,", "Z0,zz,1", "Z0,1234", "Z9,1234,1", "Z0,1234,zz", "Z00,1234,1"} {
		r := c.cmd(p)
		if p == "Z9,1234,1" {
			if r != "" {
				t.Errorf("%q: %q, want unsupported", p, r)
			}
			continue
		}
		if r != "E01" {
			t.Errorf("%q: %q, want E01", p, r)
		}
	}
	// C/S with a signal are accepted (signal ignored)
	if r := c.cmd("S05"); r != "T05thread:1;" {
		t.Errorf("S05: %q", r)
	}
	if r := c.cmd("Szz"); r != "E01" {
		t.Errorf("Szz: %q", r)
	}
	if r := c.cmd("vCont;S05:1"); r != "T05thread:1;" {
		t.Errorf("vCont;S05:1: %q", r)
	}
	for _, p := range []string{"vCont;", "vCont;x", "vCont;s:zz", "vCont;Szz", "vCont;cc", "vCont"} {
		if r := c.cmd(p); r != "E01" {
			t.Errorf("%q: %q, want E01", p, r)
		}
	}
	if r := c.cmd("vCont;s:5"); r != "E02" {
		t.Errorf("vCont on a missing thread: %q", r)
	}
	if r := c.cmd("vCont;t"); r != "OK" {
		t.Errorf("vCont;t: %q", r)
	}
}

func TestWatchpoints(t *testing.T) {
	gv := kernelSym(t, "global_var")
	counter := kernelSym(t, "counter")
	release := kernelSym(t, "release")
	s := startStub(t, kernelGuest, Config{})
	c := dial(t, s.addr)
	c.handshake()
	if r := c.cmd(fmt.Sprintf("Z2,%x,4", gv)); r != "OK" {
		t.Fatal(r)
	}
	if r := c.cmd("vCont;c"); r != fmt.Sprintf("T05thread:1;watch:%x;", gv) {
		t.Fatalf("write watchpoint: %q", r)
	}
	// the store has completed: the new value is visible
	if r := c.cmd(fmt.Sprintf("m%x,4", gv)); r != le32(42) {
		t.Errorf("global_var at the watchpoint = %q, want 42", r)
	}
	c.cmd(fmt.Sprintf("z2,%x,4", gv))
	// an unaligned, odd-length watch covering the counter's second byte
	if r := c.cmd(fmt.Sprintf("Z3,%x,3", counter+1)); r != "OK" {
		t.Fatal(r)
	}
	if r := c.cmd("c"); r != fmt.Sprintf("T05thread:1;rwatch:%x;", counter+1) {
		t.Errorf("read watchpoint: %q", r)
	}
	c.cmd(fmt.Sprintf("z3,%x,3", counter+1))
	if r := c.cmd(fmt.Sprintf("Z4,%x,1", release)); r != "OK" {
		t.Fatal(r)
	}
	if r := c.cmd("c"); r != fmt.Sprintf("T05thread:1;awatch:%x;", release) {
		t.Errorf("access watchpoint: %q", r)
	}
	if r := c.cmd(fmt.Sprintf("Z4,%x,1", release)); r != "OK" { // duplicate insert
		t.Error(r)
	}
	c.cmd(fmt.Sprintf("z4,%x,1", release))
	if _, ws := s.t.Breakpoints(); len(ws) != 0 {
		t.Errorf("watchpoints left: %v", ws)
	}
	if r := c.cmd("Z2,1000,0"); r != "E22" {
		t.Errorf("zero-length watchpoint: %q", r)
	}
}

func TestInterruptAndExit(t *testing.T) {
	release := kernelSym(t, "release")
	s := startStub(t, kernelGuest, Config{})
	c := dial(t, s.addr)
	c.handshake()
	c.send("vCont;c")
	// the kernel spins until release is set; let it run a little
	time.Sleep(50 * time.Millisecond)
	c.raw("\x03")
	if r := c.recv(); r != "T02thread:1;" {
		t.Fatalf("stop after 0x03: %q", r)
	}
	if !strings.Contains(s.serial.String(), "kernel: spinning") {
		t.Errorf("serial output: %q", s.serial.String())
	}
	// 0x03 while stopped is ignored
	c.raw("\x03")
	if r := c.cmd("qAttached"); r != "1" {
		t.Errorf("qAttached after a stray 0x03: %q", r)
	}
	if r := c.cmd(fmt.Sprintf("M%x,4:01000000", release)); r != "OK" {
		t.Fatal(r)
	}
	if r := c.cmd("c"); r != "W21" {
		t.Errorf("exit: %q, want W21 (status 0x10<<1|1)", r)
	}
	if r := c.cmd("?"); r != "W21" {
		t.Errorf("? after exit: %q", r)
	}
	if r := c.cmd("c"); r != "W21" {
		t.Errorf("c after exit: %q", r)
	}
}

func TestTripleFault(t *testing.T) {
	s := startStub(t, kernelGuest, Config{})
	c := dial(t, s.addr)
	c.handshake()
	// lidt [0x600] with a null IDT, then int3: triple fault
	regs, _ := s.t.Regs(0)
	s.t.WritePhys(0x600, make([]byte, 6))
	code := []byte{0x0f, 0x01, 0x1d, 0x00, 0x06, 0x00, 0x00, 0xcc}
	if _, err := s.t.WriteLinear(0, regs.PC, code); err != nil {
		t.Fatal(err)
	}
	con, r := c.cmdConsole("c")
	if r != "T0bthread:1;" || !strings.Contains(con, "triple-faulted") {
		t.Fatalf("triple fault: %q %q", con, r)
	}
	if r := c.cmd("g"); len(r) == 0 || r[0] == 'E' {
		t.Errorf("registers after the fault: %q", r)
	}
	if r := c.cmd("c"); r != "W02" {
		t.Errorf("resume after a shutdown: %q", r)
	}
}

func TestThreadsAndQueries(t *testing.T) {
	s := startStub(t, demoGuest, Config{})
	c := dial(t, s.addr)
	c.handshake()
	for _, x := range []struct{ in, want string }{
		{"qfThreadInfo", "m1"},
		{"qsThreadInfo", "l"},
		{"qC", "QC1"},
		{"Hg1", "OK"},
		{"Hg0", "OK"},
		{"Hg-1", "OK"},
		{"Hc-1", "OK"},
		{"Hc1", "OK"},
		{"Hg2", "E02"},
		{"Hx1", "E01"},
		{"H", "E01"},
		{"Hgzz", "E01"},
		{"T1", "OK"},
		{"T2", "E02"},
		{"Tzz", "E01"},
		{"qThreadExtraInfo,2", "E02"},
		{"qThreadExtraInfo,zz", "E01"},
		{"qAttached", "1"},
		{"qAttached:1", "1"},
		{"qOffsets", "Text=0;Data=0;Bss=0"},
		{"qSymbol::", "OK"},
		{"vCont?", "vCont;c;C;s;S;t"},
		{"vMustReplyEmpty", ""},
		{"qTStatus", ""},
		{"vFile:open:x", ""},
		{"!", ""},
		{"QThreadEvents:1", ""},
		{"y", ""},
	} {
		if r := c.cmd(x.in); r != x.want {
			t.Errorf("%s = %q, want %q", x.in, r, x.want)
		}
	}
	if r := c.cmd("qC"); r != "QC1" {
		t.Errorf("qC after Hg1: %q", r)
	}
}

func TestNoAckMode(t *testing.T) {
	s := startStub(t, demoGuest, Config{})
	c := dial(t, s.addr)
	c.raw("+")
	c.cmd("qSupported")
	if r := c.cmd("QStartNoAckMode"); r != "OK" {
		t.Fatal(r)
	}
	c.noAck = true
	// from now on no acks either way: the next byte is the reply itself
	c.raw(pkt("qAttached"))
	b, err := c.readByte()
	if err != nil || b != '$' {
		t.Fatalf("no-ack reply starts with %q (%v)", b, err)
	}
	c.r.UnreadByte()
	if r := c.recv(); r != "1" {
		t.Errorf("qAttached = %q", r)
	}
	// a bad checksum in no-ack mode: E01 (nothing can be retransmitted)
	c.raw("$qAttached#00")
	if r := c.recv(); r != "E01" {
		t.Errorf("bad checksum in no-ack mode: %q", r)
	}
	if r := c.cmd("g"); len(r) < 100 {
		t.Errorf("g in no-ack mode: %q", r)
	}
}

func TestAcksAndMalformedInput(t *testing.T) {
	s := startStub(t, demoGuest, Config{})
	c := dial(t, s.addr)
	c.handshake()
	// bad checksum: '-' (please retransmit), no reply
	c.raw("$qAttached#00")
	if b, _ := c.readByte(); b != '-' {
		t.Errorf("bad checksum answered %q, want '-'", b)
	}
	// non-hex checksum
	c.raw("$qAttached#zz")
	if b, _ := c.readByte(); b != '-' {
		t.Errorf("non-hex checksum answered %q, want '-'", b)
	}
	// '-' from us makes the stub resend its last packet
	if r := c.cmd("qAttached"); r != "1" {
		t.Fatal(r)
	}
	c.raw("-")
	if r := c.recv(); r != "1" {
		t.Errorf("retransmission: %q", r)
	}
	// garbage between packets is ignored
	c.raw("hello world\r\n\x00\xff#12")
	if r := c.cmd("qAttached"); r != "1" {
		t.Errorf("after garbage: %q", r)
	}
	// a truncated packet followed by a new one: the first is bad
	c.raw("$qAtt" + pkt("qAttached"))
	if b, _ := c.readByte(); b != '-' {
		t.Errorf("truncated packet answered %q", b)
	}
	c.expectAck()
	if r := c.recv(); r != "1" {
		t.Errorf("packet after a truncated one: %q", r)
	}
	// an empty packet is unsupported
	if r := c.cmd(""); r != "" {
		t.Errorf("empty packet: %q", r)
	}
	// a huge packet is discarded with an error and the session goes on
	huge := "M2000,1:" + strings.Repeat("00", 3*PacketSize)
	c.raw(pkt(huge))
	c.expectAck()
	if r := c.recv(); r != "E01" {
		t.Errorf("huge packet: %q", r)
	}
	// a packet within maxPacket but larger than PacketSize still works
	big := make([]byte, PacketSize)
	if r := c.cmd(fmt.Sprintf("M3000,%x:%s", len(big), hex.EncodeToString(big))); r != "OK" {
		t.Errorf("big M: %q", r)
	}
	// run-length encoded input: "a*\"" is 6 a's
	if r := c.cmd("M2000,5:a*\"bbbb"); r != "OK" {
		t.Errorf("RLE M: %q", r)
	}
	if r := c.cmd("m2000,5"); r != "aaaaaabbbb" {
		t.Errorf("after RLE M: %q", r)
	}
	for _, p := range []string{"*a", "m2000,4*"} {
		if r := c.cmd(p); r != "E01" {
			t.Errorf("bad RLE %q: %q", p, r)
		}
	}
	if r := c.cmd("qAttached"); r != "1" {
		t.Errorf("session broken at the end: %q", r)
	}
}

func TestSecondClientRefused(t *testing.T) {
	s := startStub(t, demoGuest, Config{})
	c := dial(t, s.addr)
	c.handshake()
	c2 := dial(t, s.addr)
	c2.raw("+")
	if r := c2.cmd("qSupported"); r != "E.glassbox: another gdb is already connected (one client at a time)" {
		t.Errorf("second client got %q", r)
	}
	c2.expectEOF()
	// a client that sends nothing is refused too
	c3 := dial(t, s.addr)
	if r := c3.recv(); !strings.HasPrefix(r, "E.") {
		t.Errorf("silent second client got %q", r)
	}
	c3.expectEOF()
	if !strings.Contains(s.log.String(), "refused a second gdb connection") {
		t.Errorf("log: %q", s.log.String())
	}
	if r := c.cmd("qAttached"); r != "1" {
		t.Errorf("first client after the refusal: %q", r)
	}
}

// TestReconnect checks that attaching stops background running, that
// detaching / disconnecting resumes it and removes the client's
// breakpoints, and that it works any number of times.
func TestReconnect(t *testing.T) {
	release := kernelSym(t, "release")
	s := startStub(t, kernelGuest, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.t.RunUntilExit(ctx)
		close(done)
	}()
	defer func() {
		cancel()
		s.t.Pause()
		<-done
	}()
	icount := func() uint64 {
		r, err := s.t.Regs(0)
		if err != nil {
			t.Fatal(err)
		}
		return r.ICount
	}
	for i := 0; i < 5; i++ {
		c := dial(t, s.addr)
		if r := c.handshake(); !strings.HasPrefix(r, "T05thread:1;") {
			t.Fatalf("round %d: ? = %q", i, r)
		}
		if bs, _ := s.t.Breakpoints(); len(bs) != 0 {
			t.Fatalf("round %d: the previous client's breakpoints are still there: %v", i, bs)
		}
		a := icount()
		time.Sleep(20 * time.Millisecond)
		if b := icount(); b != a {
			t.Fatalf("round %d: the guest runs while gdb is attached (%d -> %d)", i, a, b)
		}
		if r := c.cmd("Z0,100000,1"); r != "OK" {
			t.Fatal(r)
		}
		if i%2 == 0 {
			if r := c.cmd("D"); r != "OK" {
				t.Errorf("D: %q", r)
			}
			c.expectEOF()
		} else {
			c.close()
		}
		// the guest runs again in the background (inspection calls would
		// wait for it to stop: only Running may be asked)
		deadline := time.Now().Add(ioTimeout)
		for !s.t.Running() {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the guest did not resume after the client left", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// let the guest finish
	c := dial(t, s.addr)
	c.handshake()
	c.cmd(fmt.Sprintf("M%x,4:01000000", release))
	if r := c.cmd("c"); r != "W21" {
		t.Errorf("exit: %q", r)
	}
	select {
	case <-done:
	case <-time.After(ioTimeout):
		t.Error("RunUntilExit did not return after the guest exited")
	}
}

func TestKill(t *testing.T) {
	for _, p := range []string{"k", "vKill;1"} {
		t.Run(p, func(t *testing.T) {
			s := startStub(t, demoGuest, Config{})
			c := dial(t, s.addr)
			c.handshake()
			c.send(p)
			if p != "k" {
				if r := c.recv(); r != "OK" {
					t.Errorf("%s: %q", p, r)
				}
			}
			c.expectEOF()
			select {
			case <-s.kills:
			case <-time.After(ioTimeout):
				t.Fatal("OnKill was not called")
			}
		})
	}
	t.Run("no OnKill", func(t *testing.T) {
		s := startStubKill(t, demoGuest, Config{}, false)
		c := dial(t, s.addr)
		c.handshake()
		c.send("k")
		c.expectEOF()
		// the emulator was killed: new clients are refused
		c2 := dial(t, s.addr)
		c2.raw("+")
		if r := c2.cmd("qSupported"); r != "E.glassbox: the emulator was killed by gdb" {
			t.Errorf("client after kill: %q", r)
		}
		c2.expectEOF()
	})
}

func TestMonitor(t *testing.T) {
	s := startStub(t, demoGuest, Config{})
	c := dial(t, s.addr)
	c.handshake()
	mon := func(cmd string) string {
		t.Helper()
		con, r := c.cmdConsole("qRcmd," + hexText([]byte(cmd)))
		if r != "OK" {
			t.Errorf("monitor %s: final reply %q", cmd, r)
		}
		return con
	}
	if out := mon("help"); !strings.Contains(out, "wp-phys") || !strings.Contains(out, "info registers") {
		t.Errorf("help: %q", out)
	}
	out := mon("info registers")
	for _, w := range []string{"CS:IP=f000:fff0", "linear PC=0xfffffff0", "mode=real", "CR0=60000010"} {
		if !strings.Contains(out, w) {
			t.Errorf("info registers lacks %q:\n%s", w, out)
		}
	}
	if out := mon("info mode"); out != "real\n" {
		t.Errorf("info mode: %q", out)
	}
	if out := mon("frobnicate"); !strings.Contains(out, "unknown monitor command") {
		t.Errorf("unknown: %q", out)
	}
	if out := mon("sstep"); out != "sstep irq off\n" {
		t.Errorf("sstep default: %q (single steps mask interrupts by default, as QEMU)", out)
	}
	if out := mon("sstep irq off"); out != "sstep irq off\n" {
		t.Errorf("sstep irq off: %q", out)
	}
	if out := mon("sstep irq on"); out != "sstep irq on\n" {
		t.Errorf("sstep irq on: %q", out)
	}
	if out := mon("sstep"); out != "sstep irq on\n" {
		t.Errorf("sstep: %q", out)
	}
	if out := mon("phys maybe"); !strings.Contains(out, "usage") {
		t.Errorf("phys maybe: %q", out)
	}
	// physical watchpoint: the demo writes its POST variables at 0x504
	out = mon("wp-phys 504 4 w")
	if !strings.Contains(out, "physical watchpoint") {
		t.Fatalf("wp-phys: %q", out)
	}
	if _, ws := s.t.Breakpoints(); len(ws) != 1 || !ws[0].Phys {
		t.Fatalf("watchpoints: %+v", ws)
	}
	con, r := c.cmdConsole("c")
	if r != "T05thread:1;" || !strings.Contains(con, "physical watchpoint") {
		t.Errorf("physical watchpoint hit: %q %q", con, r)
	}
	if out := mon("wp-phys-del 99"); !strings.Contains(out, "no physical watchpoint") {
		t.Errorf("wp-phys-del 99: %q", out)
	}
	_, ws := s.t.Breakpoints()
	if out := mon(fmt.Sprintf("wp-phys-del %d", ws[0].ID)); out != "" {
		t.Errorf("wp-phys-del: %q", out)
	}
	for _, bad := range []string{"wp-phys", "wp-phys zz 4", "wp-phys 504 x", "wp-phys 504 4 q", "wp-phys-del", "wp-phys-del x"} {
		if out := mon(bad); !strings.Contains(out, "error") {
			t.Errorf("%s: %q", bad, out)
		}
	}
	if r := c.cmd("qRcmd,zz"); r != "E01" {
		t.Errorf("qRcmd,zz: %q", r)
	}
	if r := c.cmd("qRcmd"); r != "" {
		t.Errorf("qRcmd without argument: %q", r)
	}
}

func TestMonitorHook(t *testing.T) {
	var mu sync.Mutex
	var got []string
	s := startStub(t, demoGuest, Config{Monitor: func(cmd string, w fmtWriter) error {
		mu.Lock()
		got = append(got, cmd)
		mu.Unlock()
		switch cmd {
		case "fail":
			return fmt.Errorf("it failed")
		case "big":
			// long output is split into several O packets
			w.Write(bytes.Repeat([]byte("x"), 3*PacketSize))
			return nil
		}
		fmt.Fprintf(w, "repl ran %q\n", cmd)
		return nil
	}})
	c := dial(t, s.addr)
	c.handshake()
	con, r := c.cmdConsole("qRcmd," + hexText([]byte("tb list")))
	if r != "OK" || con != "repl ran \"tb list\"\n" {
		t.Errorf("hooked command: %q %q", con, r)
	}
	con, _ = c.cmdConsole("qRcmd," + hexText([]byte("fail")))
	if con != "error: it failed\n" {
		t.Errorf("failing hook: %q", con)
	}
	con, _ = c.cmdConsole("qRcmd," + hexText([]byte("help")))
	if !strings.Contains(con, "wp-phys") || !strings.Contains(con, "repl ran \"help\"") {
		t.Errorf("help with a hook: %q", con)
	}
	// stub-owned commands never reach the hook
	c.cmdConsole("qRcmd," + hexText([]byte("phys off")))
	con, _ = c.cmdConsole("qRcmd," + hexText([]byte("big")))
	if len(con) != 3*PacketSize {
		t.Errorf("long output: %d bytes", len(con))
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "tb list,fail,help,big" {
		t.Errorf("hook saw %v", got)
	}
}

func TestPprofLabel(t *testing.T) {
	s := startStub(t, demoGuest, Config{})
	c := dial(t, s.addr)
	c.handshake()
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 1)
	if !strings.Contains(b.String(), `"glassbox.thread":"gdbstub"`) {
		t.Errorf("no goroutine labelled glassbox.thread=gdbstub")
	}
}

func TestParseSpec(t *testing.T) {
	for _, x := range []struct {
		in      string
		network string
		addr    string
		arch    string
		all     bool
		bad     bool
	}{
		{in: "tcp::1234", network: "tcp", addr: "127.0.0.1:1234"},
		{in: "tcp:localhost:1234", network: "tcp", addr: "localhost:1234"},
		{in: "tcp:0.0.0.0:1234", network: "tcp", addr: "0.0.0.0:1234", all: true},
		{in: "tcp:*:1234", network: "tcp", addr: "0.0.0.0:1234", all: true},
		{in: "tcp:[::]:1234", network: "tcp", addr: "[::]:1234", all: true},
		{in: ":1234", network: "tcp", addr: "127.0.0.1:1234"},
		{in: "1234", network: "tcp", addr: "127.0.0.1:1234"},
		{in: "tcp::1234,arch=i386", network: "tcp", addr: "127.0.0.1:1234", arch: ArchI386},
		{in: "tcp::1234,arch=x86-64", network: "tcp", addr: "127.0.0.1:1234", arch: ArchX8664},
		{in: "tcp::1234,arch=i8086", network: "tcp", addr: "127.0.0.1:1234", arch: ArchI8086},
		{in: "unix:/tmp/gb.sock", network: "unix", addr: "/tmp/gb.sock"},
		{in: "unix:/tmp/gb.sock,arch=auto", network: "unix", addr: "/tmp/gb.sock"},
		{in: "unix:", bad: true},
		{in: "tcp:", bad: true},
		{in: "tcp:1.2.3.4:", bad: true},
		{in: "tcp::99999", bad: true},
		{in: "tcp::1234,arch=arm", bad: true},
		{in: "tcp::1234,frob=1", bad: true},
		{in: "serial:/dev/ttyS0", bad: true},
	} {
		sp, err := ParseSpec(x.in)
		if x.bad {
			if err == nil {
				t.Errorf("%q: no error (%+v)", x.in, sp)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", x.in, err)
			continue
		}
		if sp.Network != x.network || sp.Address != x.addr || sp.Arch != x.arch || sp.AllInterfaces != x.all {
			t.Errorf("%q: %+v", x.in, sp)
		}
	}
}

func TestUnixSocket(t *testing.T) {
	s := startStub(t, demoGuest, Config{})
	path := t.TempDir() + "/gdb.sock"
	sp, err := ParseSpec("unix:" + path)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := ListenSpec(sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	go s.srv.Serve(ln)
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, c: conn, r: bufio.NewReader(conn)}
	defer conn.Close()
	if r := c.handshake(); r != "T05thread:1;" {
		t.Errorf("? over a unix socket: %q", r)
	}
}

func TestListenUnixAndWarning(t *testing.T) {
	dir := t.TempDir()
	sp, _ := ParseSpec("unix:" + dir + "/gdb.sock")
	var warn bytes.Buffer
	ln, err := ListenSpec(sp, &warn)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if warn.Len() != 0 {
		t.Errorf("unexpected warning %q", warn.String())
	}
	sp, _ = ParseSpec("tcp:0.0.0.0:0")
	ln, err = ListenSpec(sp, &warn)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if !strings.Contains(warn.String(), "ALL network interfaces") {
		t.Errorf("no warning for 0.0.0.0: %q", warn.String())
	}
}

func TestModeFits(t *testing.T) {
	l32, l64 := layouts[ArchI386], layouts[ArchX8664]
	for _, m := range []string{"real", "v8086", "protected16", "protected32", "compat16", "compat32"} {
		r := regsWithMode(m)
		if !l32.fits(&r) || !l64.fits(&r) {
			t.Errorf("%s should fit both layouts", m)
		}
	}
	r := regsWithMode("long64")
	r.GPR[0] = 0x1122334455667788
	r.PC = 0xffffffff80001234
	if l32.fits(&r) || !l64.fits(&r) {
		t.Errorf("long64 must fit x86-64 only")
	}
	// the i386 layout shows the low 32 bits
	if v := l32.value(l32.find("eax"), &r); v != 0x55667788 {
		t.Errorf("eax in long mode = %#x", v)
	}
	if v := l32.value(l32.pc, &r); v != 0x80001234 {
		t.Errorf("eip in long mode = %#x", v)
	}
}
