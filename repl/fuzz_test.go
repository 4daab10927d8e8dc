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

// FuzzScript feeds arbitrary script text (blocks, variables, source,
// handlers) to one REPL on the demo guest: every script ends with nil or an
// error, never a panic or an internal error.
//
//	go test ./repl -run '^$' -fuzz FuzzScript -fuzztime 1m
func FuzzScript(f *testing.F) {
	for _, s := range []string{
		"set a = 1\necho ${a}\n",
		"on crash {\ninfo mode\n}\nrun-until icount 1000\n",
		"on exit { echo done; info cpus }\ncontinue\n",
		"on crash {\n", "}\n", "echo ${nope}\n", "source /dev/null\n", "set $eax = 1\nexpect reg eax == 1\n",
		"run-until serial PASS -max 100000\nexpect output x\n", "send-serial \"a\\x41\"\n",
	} {
		f.Add(s)
	}
	r, out, _ := demo(f)
	r.dumpLimit = 1 << 20
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 4096 {
			return
		}
		out.Reset()
		err := r.RunScript(strings.NewReader(text))
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("%q: %v", text, err)
		}
	})
}
