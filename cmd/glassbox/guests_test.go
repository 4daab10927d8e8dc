package main

import (
	"bytes"
	"testing"

	"glassbox/internal/guestbuild"
)

// TestGuestsMatchQEMU runs every repository guest through the glassbox
// command line with the same arguments QEMU got, and requires the serial
// output and exit status QEMU produced (guests/*/expected.txt, recorded and
// re-checked against a live QEMU by internal/guestbuild's TestQEMU). Lines
// starting with "cpuid:" name the CPU model and legitimately differ.
func TestGuestsMatchQEMU(t *testing.T) {
	for _, name := range []string{"demo", "mb32hello", "cputest32", "systest32", "realmode", "longmode64", "smp", "crash", "tasks", "tasks16", "v86", "pcplat32", "bench", "fp32", "fp64", "dbgregs32"} {
		t.Run(name, func(t *testing.T) {
			img := guestbuild.Build(t, name)
			// -no-reboot as in guestbuild.BaseQEMUArgs (a triple fault exits 0).
			args := append([]string{"run", "-no-reboot"}, guestbuild.QEMUArgs(t, name, img)...)
			var out, errb bytes.Buffer
			status := Main(args, nil, &out, &errb)
			want, wantStatus := guestbuild.Expected(t, name)
			got := guestbuild.FilterLines(out.Bytes(), "cpuid:")
			want = guestbuild.FilterLines(want, "cpuid:")
			if !bytes.Equal(got, want) {
				t.Errorf("serial output differs from QEMU's:\n%s\nstderr:\n%s", guestbuild.Diff(want, got), errb.String())
			}
			if status != wantStatus {
				t.Errorf("exit status %d, QEMU's was %d; stderr:\n%s", status, wantStatus, errb.String())
			}
		})
	}
}
