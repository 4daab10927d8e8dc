package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"glassbox/internal/guestbuild"
)

// TestFP64GuestMatchesHost builds the fp64 kernels (guests/fp64/kernels.c)
// as an ordinary host program with gcc -O2, runs it, and requires the lines
// the guest prints under glassbox to be identical: the host CPU is the
// oracle for every SSE2 and x87 result, exception flag and conversion the
// kernels print. The guest runs with -append all, which adds the lines
// QEMU 7.2 gets wrong (x87 double memory operands under PC24), so those
// are checked here rather than by TestGuestsMatchQEMU. The host build also
// checks the guest's exact decimal formatter against glibc's printf.
func TestFP64GuestMatchesHost(t *testing.T) {
	img, host := hostKernels(t, "fp64", "-O2", "-fno-math-errno")
	if out, err := exec.Command(host, "selfcheck").CombinedOutput(); err != nil {
		t.Fatalf("formatter self check against printf: %v\n%s", err, out)
	}
	want, err := exec.Command(host).Output()
	if err != nil {
		t.Fatalf("host run: %v", err)
	}
	if n := strings.Count(string(want), "\n"); n < 1000 {
		t.Fatalf("host printed %d lines, want over 1000:\n%s", n, want)
	}
	var out, errb bytes.Buffer
	status := Main([]string{"run", "-m", "128", "-kernel", img, "-append", "all"}, nil, &out, &errb)
	if status != 1 {
		t.Fatalf("exit status %d, want 1; output:\n%s\nstderr:\n%s", status, out.String(), errb.String())
	}
	lines := strings.SplitAfter(out.String(), "\n")
	// Two header lines, the kernels' lines, "fp64: done", and "" after the last newline.
	if len(lines) < 4 || lines[0] != "fp64: gcc -O2 x86-64 numeric kernels\n" || lines[len(lines)-2] != "fp64: done\n" {
		t.Fatalf("unexpected guest output:\n%s", out.String())
	}
	got := strings.Join(lines[2:len(lines)-2], "")
	if got != string(want) {
		t.Errorf("guest output differs from the host build's:\n%s", guestbuild.Diff(want, []byte(got)))
	}
	// The QEMU-compatible run (no "all") must be the same lines minus the
	// ones that only "all" prints.
	expected, _ := guestbuild.Expected(t, "fp64")
	if extra := strings.Count(out.String(), "\n") - strings.Count(string(expected), "\n"); extra != 24 {
		t.Errorf("-append all printed %d more lines than guests/fp64/expected.txt, want 24 (3 ops x 2 lines x 4 rounding modes at PC24)", extra)
	}
}
