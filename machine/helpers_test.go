package machine

import (
	"os"
	"testing"

	"glassbox/internal/guestbuild"
	"glassbox/loader"
)

// bootKernel returns a started machine with the kernel image loaded; the
// test's cleanup closes it.
func bootKernel(tb testing.TB, cfg Config, img []byte, name string, opt loader.Options) *Machine {
	tb.Helper()
	m, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.LoadKernel(img, name, opt); err != nil {
		tb.Fatal(err)
	}
	if err := m.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.Close)
	return m
}

// guestImage builds a repository guest and returns its image.
func guestImage(tb testing.TB, name string) []byte {
	tb.Helper()
	img, err := os.ReadFile(guestbuild.Build(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	return img
}
