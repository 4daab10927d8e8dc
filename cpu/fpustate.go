package cpu

// Exported access to the x87 and SSE state, for the debug interface and
// test harnesses (the conformance sandbox loads and compares it).

// FPUState is the user-visible x87/SSE state.
type FPUState struct {
	FCW, FSW, FTW uint16 // FSW includes TOP; FTW is the full 16-bit tag word
	FOP           uint16
	FIP, FDP      uint64
	FCS, FDS      uint16
	// ST holds the registers in stack order: ST[i] is ST(i), as sign and
	// exponent (SE) and significand (M).
	ST [8]struct {
		SE uint16
		M  uint64
	}
	XMM   [16][2]uint64
	MXCSR uint32
}

// FPU returns the x87/SSE state.
func (c *CPU) FPU() FPUState {
	f := &c.fpu
	s := FPUState{FCW: f.cw, FSW: f.status(), FTW: f.tagWord(), FOP: f.fop, FIP: f.fip, FDP: f.fdp,
		FCS: f.fcs, FDS: f.fds, XMM: f.xmm, MXCSR: f.mxcsr}
	for i := range s.ST {
		r := f.st[f.phys(uint8(i))]
		s.ST[i].SE, s.ST[i].M = r.se, r.m
	}
	return s
}

// SetFPU replaces the x87/SSE state (MXCSR bits outside MXCSR_MASK are
// dropped; FTW bits 11 mark empty registers).
func (c *CPU) SetFPU(s FPUState) {
	f := &c.fpu
	f.cw = s.FCW
	f.setStatus(s.FSW)
	f.fop, f.fip, f.fdp, f.fcs, f.fds = s.FOP&0x7FF, s.FIP, s.FDP, s.FCS, s.FDS
	for i := range s.ST {
		f.st[f.phys(uint8(i))] = f80{s.ST[i].SE, s.ST[i].M}
	}
	f.valid = 0
	for i := 0; i < 8; i++ { // FTW is indexed by physical register
		if s.FTW>>(2*i)&3 != 3 {
			f.valid |= 1 << i
		}
	}
	f.xmm = s.XMM
	f.mxcsr = s.MXCSR & mxcsrMask
}
