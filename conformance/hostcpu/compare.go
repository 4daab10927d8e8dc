package hostcpu

import (
	"errors"
	"fmt"
	"strings"
)

// GPRNames are the names of State.GPR entries.
var GPRNames = [16]string{
	"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
	"R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
}

var flagNames = []struct {
	bit  uint64
	name string
}{{FlagCF, "CF"}, {FlagPF, "PF"}, {FlagAF, "AF"}, {FlagZF, "ZF"}, {FlagSF, "SF"}, {FlagDF, "DF"}, {FlagOF, "OF"}}

// FlagString names the flag bits set in f, e.g. "CF|ZF" ("-" if none).
func FlagString(f uint64) string {
	var s []string
	for _, fl := range flagNames {
		if f&fl.bit != 0 {
			s = append(s, fl.name)
		}
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, "|")
}

// maxDataDiffs bounds the number of data-byte runs listed in a diff.
const maxDataDiffs = 8

// Compare checks got (from the emulator) against want (from the host)
// for a case of form f. It compares, in this order: Fault; RIP; FaultAddr
// (for #PF only); the GPRs except f.RegMask; RFLAGS on InputFlags except
// f.FlagMask; XMM0–15; MXCSR; the data region. It returns nil if they
// agree, otherwise an error whose message lists every difference, one per
// line, e.g.
//
//	RAX: want 0x0000000000000012, got 0x0000000000000013
//	RFLAGS: want 0x0046 (PF|ZF), got 0x0002 (-); differ in PF|ZF (compared: CF|PF|ZF|SF|DF|OF)
//	data[0x10000ff8..0x10000ffa]: want 01 02, got 01 03
func Compare(want, got Result, f Form) error {
	var d []string
	add := func(format string, a ...any) { d = append(d, fmt.Sprintf(format, a...)) }

	if want.Fault != got.Fault {
		add("fault: want %s, got %s", FaultName(want.Fault), FaultName(got.Fault))
	}
	if want.RIP != got.RIP {
		add("RIP: want %#x, got %#x", want.RIP, got.RIP)
	}
	if want.Fault == FaultPF && got.Fault == FaultPF && want.FaultAddr != got.FaultAddr {
		add("fault address: want %#x, got %#x", want.FaultAddr, got.FaultAddr)
	}
	w, g := &want.State, &got.State
	for i := range w.GPR {
		if f.RegMask&(1<<uint(i)) != 0 {
			continue
		}
		if w.GPR[i] != g.GPR[i] {
			add("%s: want %#016x, got %#016x", GPRNames[i], w.GPR[i], g.GPR[i])
		}
	}
	cmpFlags := InputFlags &^ f.FlagMask
	if diff := (w.RFLAGS ^ g.RFLAGS) & cmpFlags; diff != 0 {
		add("RFLAGS: want %#04x (%s), got %#04x (%s); differ in %s (compared: %s)",
			w.RFLAGS&InputFlags|2, FlagString(w.RFLAGS), g.RFLAGS&InputFlags|2, FlagString(g.RFLAGS),
			FlagString(diff), FlagString(cmpFlags))
	}
	for i := range w.XMM {
		if w.XMM[i] != g.XMM[i] {
			add("XMM%d: want %016x_%016x, got %016x_%016x", i, w.XMM[i][1], w.XMM[i][0], g.XMM[i][1], g.XMM[i][0])
		}
	}
	if w.MXCSR != g.MXCSR {
		add("MXCSR: want %#04x, got %#04x", w.MXCSR, g.MXCSR)
	}
	wx, gx := w.X87, g.X87
	if wx.FCW != gx.FCW {
		add("FCW: want %#04x, got %#04x", wx.FCW, gx.FCW)
	}
	if (wx.FSW^gx.FSW)&^f.FSWMask != 0 {
		add("FSW: want %#04x, got %#04x (TOP %d/%d, differ in %#04x)", wx.FSW, gx.FSW, wx.FSW>>11&7, gx.FSW>>11&7, (wx.FSW^gx.FSW)&^f.FSWMask)
	}
	if wx.FTW != gx.FTW {
		add("FTW: want %#02x, got %#02x", wx.FTW, gx.FTW)
	}
	for i := range wx.ST {
		if wx.ST[i] != gx.ST[i] {
			add("ST(%d): want %04x_%016x, got %04x_%016x", i, wx.ST[i].SE, wx.ST[i].M, gx.ST[i].SE, gx.ST[i].M)
		}
	}
	if len(w.Data) != len(g.Data) {
		add("data: want %d bytes, got %d", len(w.Data), len(g.Data))
	} else {
		n := 0
		for i := 0; i < len(w.Data); {
			if w.Data[i] == g.Data[i] {
				i++
				continue
			}
			j := i + 1
			for j < len(w.Data) && j-i < 16 && w.Data[j] != g.Data[j] {
				j++
			}
			if n < maxDataDiffs {
				add("data[%#x..%#x]: want % x, got % x", DataAddr+i, DataAddr+j, w.Data[i:j], g.Data[i:j])
			}
			n++
			i = j
		}
		if n > maxDataDiffs {
			add("data: %d more differing runs", n-maxDataDiffs)
		}
	}
	if len(d) == 0 {
		return nil
	}
	return errors.New(f.Name + ":\n\t" + strings.Join(d, "\n\t"))
}
