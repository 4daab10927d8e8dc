package machine

import (
	"glassbox/cpu"
	"glassbox/hoststack"
)

// HangFacts describes the machine for hoststack.Analyze: each vCPU's state,
// IF, PC and the PCs of the last TBs it executed (from the always-on
// execution-history ring). Call it only while the machine is stopped.
func (m *Machine) HangFacts(runState string) hoststack.Facts {
	f := hoststack.Facts{RunState: runState}
	if _, ok := m.Clock.NextDeadline(); ok {
		f.TimerArmed = true
	}
	for i, c := range m.CPUs {
		v := hoststack.VCPU{ID: c.ID, IF: c.Flags()&cpu.FLAG_IF != 0, PC: c.PC(), IRQPending: c.IntController().Pending()}
		switch {
		case i < len(m.workers) && m.workers[i].parked:
			v.State = hoststack.VCPUCatchpoint
		case c.WaitingForSIPI():
			v.State = hoststack.VCPUWaitSIPI
		case c.Halted:
			v.State = hoststack.VCPUHalted
		case runState == "running":
			v.State = hoststack.VCPURunning
		default:
			v.State = hoststack.VCPUPaused
		}
		for _, id := range c.History() {
			if t := m.TBs.ByID(id); t != nil {
				v.RecentPCs = append(v.RecentPCs, t.Key.PC)
			}
		}
		_, _, v.Spinning = hoststack.SpinRange(v.RecentPCs)
		f.VCPUs = append(f.VCPUs, v)
	}
	return f
}
