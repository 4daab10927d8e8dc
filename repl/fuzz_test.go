package repl

import (
	"math/rand"
	"strings"
	"testing"
)

var fuzzArgs = []string{"", "0", "1", "-1", "0x1000", "$pc", "$esp+8", "$nosuch", "0xffffffffffffffff", "zz", "-json",
	"-all", "-cpu", "-cpu 0", "-cpu 7", "-n 3", "-page 0xf0000", "-sort hits", "-client code", "-client migration",
	"-phys", "-r", "-a", "-16", "-64", "\"quoted arg\"", "\"", "0x200000 0x1000", "1 2 3 4", "/", "//", "/4xw", "/s",
	"/999999999i", "+", "0x10-", "$pc-$pc"}

// seedLines is every command with a few arguments.
func seedLines() []string {
	var lines []string
	for _, c := range Commands() {
		for _, a := range []string{"", "0x1000", "-json", "$pc 4"} {
			lines = append(lines, strings.TrimSpace(c.Name+" "+a))
		}
	}
	return append(lines, "x/4xw 0x1000", "xp/2i 0xffff0", "x/s", "x/0", "x/xx", "i r", "tb show $pc", "")
}

// TestExecRandomLines runs random command lines: every one either works
// or fails with one line, and none panics.
func TestExecRandomLines(t *testing.T) {
	r, out, _ := demo(t)
	rng := rand.New(rand.NewSource(1))
	seeds := seedLines()
	for i := 0; i < 3000; i++ {
		line := seeds[rng.Intn(len(seeds))]
		for k := rng.Intn(3); k > 0; k-- {
			line += " " + fuzzArgs[rng.Intn(len(fuzzArgs))]
		}
		if i%500 == 499 {
			line = "continue" // let the guest move on now and then
		}
		checkLine(t, r, out, line)
	}
}

func checkLine(t *testing.T, r *REPL, out interface{ Reset() }, line string) {
	t.Helper()
	out.Reset()
	err := r.Exec(line)
	if err == nil || err == ErrQuit {
		return
	}
	msg := err.Error()
	if strings.Contains(msg, "internal error") {
		t.Fatalf("%q: %v", line, err)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("%q: error is not one line: %q", line, msg)
	}
}

// FuzzExec feeds arbitrary lines to one REPL on the demo guest.
//
//	go test ./repl -run '^$' -fuzz FuzzExec -fuzztime 2m
func FuzzExec(f *testing.F) {
	for _, l := range seedLines() {
		f.Add(l)
	}
	r, out, _ := demo(f)
	r.dumpLimit = 1 << 20 // keep each input fast
	f.Fuzz(func(t *testing.T, line string) {
		checkLine(t, r, out, line)
	})
}
