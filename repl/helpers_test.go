package repl

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"glassbox/guests"
	"glassbox/machine"
	"glassbox/target"
)

// cleanups run after all tests (the e2e binary's directory).
var cleanups []func()

func TestMain(m *testing.M) {
	code := m.Run()
	for _, f := range cleanups {
		f()
	}
	os.Exit(code)
}

// raceBuild is set when the tests run with -race (race_test.go).
var raceBuild bool

var update = flag.Bool("update", false, "rewrite the golden files and docs/commands.md")

// demo builds the deterministic demo machine and a REPL writing to a
// buffer. Serial output goes to serial.
func demo(t testing.TB) (*REPL, *bytes.Buffer, *target.Target) {
	t.Helper()
	var serial bytes.Buffer
	m, err := machine.New(machine.Config{RAM: 128 << 20, Serial: &serial})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadBIOS(guests.DemoROM); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	tg := target.New(m)
	var out bytes.Buffer
	r := New(tg, &out)
	r.createFile = func(string) (io.WriteCloser, error) { return nopWriteCloser{io.Discard}, nil }
	r.createCore = func(string) (coreFile, error) { return &discardFile{}, nil }
	guardRuns(r)
	return r, &out, tg
}

// guardRuns makes a guest run that does not stop within a minute pause
// (a test failure rather than a hang).
func guardRuns(r *REPL) {
	r.runWait = func(done <-chan *target.Stop, cancel func()) *target.Stop {
		select {
		case st := <-done:
			return st
		case <-time.After(time.Minute):
			cancel()
			st := <-done
			st.Reason = "error"
			st.Err = fmt.Errorf("test guard: the guest did not stop within a minute")
			return st
		}
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// transcript runs lines and returns what a user would see: each line after
// the prompt, then its output or its error.
func transcript(r *REPL, out *bytes.Buffer, lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		out.Reset()
		b.WriteString(Prompt + l + "\n")
		err := r.Exec(l)
		b.Write(out.Bytes())
		if err != nil && err != ErrQuit {
			b.WriteString(err.Error() + "\n")
		}
	}
	return b.String()
}

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./repl -run %s -update` to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from the output (run `go test ./repl -run %s -update` if the change is intended)\n%s",
			path, t.Name(), diff(string(want), got))
	}
}

// diff shows the first differing lines.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + a + "\n  got:  " + c + "\n")
			if shown++; shown == 8 {
				break
			}
		}
	}
	return b.String()
}

// decodeOne decodes s, which must hold exactly one JSON document.
func decodeOne(t *testing.T, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	if dec.More() {
		t.Fatalf("more than one JSON document:\n%s", s)
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

// discardFile is a seekable file that keeps nothing (dump-guest-memory in
// tests and fuzzing).
type discardFile struct{ off, size int64 }

func (f *discardFile) Write(p []byte) (int, error) {
	f.off += int64(len(p))
	f.size = max(f.size, f.off)
	return len(p), nil
}
func (f *discardFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
		f.off = off
	case io.SeekCurrent:
		f.off += off
	default:
		f.off = f.size + off
	}
	return f.off, nil
}
func (f *discardFile) Truncate(n int64) error { f.size = n; return nil }
func (f *discardFile) Close() error           { return nil }
