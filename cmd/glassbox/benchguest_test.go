package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"glassbox/internal/guestbuild"
)

// TestBenchGuestMatchesHost builds the benchmark kernels (guests/bench/
// kernels.c) as an ordinary host program with gcc, runs it, and requires the
// per-kernel checksums the guest prints under glassbox to be identical, for
// two work sizes (the host CPU is the oracle for the kernels' results).
func TestBenchGuestMatchesHost(t *testing.T) {
	img, host := hostKernels(t, "bench", "-O2")
	for _, n := range []string{"1", "2"} {
		want, err := exec.Command(host, "n="+n).Output()
		if err != nil {
			t.Fatalf("host run n=%s: %v", n, err)
		}
		if got := strings.Count(string(want), "\n"); got != 6 {
			t.Fatalf("host printed %d lines, want 6:\n%s", got, want)
		}
		var out, errb bytes.Buffer
		status := Main([]string{"run", "-m", "128", "-kernel", img, "-append", "n=" + n}, nil, &out, &errb)
		if status != 1 {
			t.Fatalf("n=%s: exit status %d, want 1; stderr:\n%s", n, status, errb.String())
		}
		lines := strings.SplitAfter(out.String(), "\n")
		if len(lines) < 8 || lines[0] != "bench n="+n+" paging=on\n" {
			t.Fatalf("n=%s: unexpected guest output:\n%s", n, out.String())
		}
		if g := strings.Join(lines[1:7], ""); g != string(want) {
			t.Errorf("n=%s: guest checksums differ from the host build's:\n%s", n, guestbuild.Diff(want, []byte(g)))
		}
	}
}

// hostKernels builds guest name and, with gcc and cflags, the same
// kernels (guests/NAME/kernels.c with host_main.c) as a host program: the
// host CPU is then the oracle for what the guest prints. It returns the
// guest image and the host program.
func hostKernels(t *testing.T, name string, cflags ...string) (img, host string) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed: cannot build the host oracle")
	}
	img = guestbuild.Build(t, name)
	src := guestbuild.Dir(t, name)
	host = filepath.Join(t.TempDir(), name+"-host")
	args := append(append([]string{}, cflags...), "-Wall", "-Wextra", "-Werror", "-o", host,
		filepath.Join(src, "host_main.c"), filepath.Join(src, "kernels.c"))
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("building the host kernels: %v\n%s", err, out)
	}
	return img, host
}
