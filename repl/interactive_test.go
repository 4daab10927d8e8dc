package repl

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestComplete(t *testing.T) {
	cases := []struct {
		line string
		want []string
	}{
		{"inf", []string{"info"}},
		{"t", []string{"tb", "threads", "tlb"}},
		{"info reg", []string{"registers"}},
		{"i r", []string{"registers"}},
		{"tb ", []string{"list", "show", "stats", "flush"}},
		{"tb list -s", []string{"-sort"}},
		{"tb list -sort ", []string{"id", "hits", "recent", "size"}},
		{"dirty -client m", []string{"migration"}},
		{"dirty m", []string{"map"}},
		{"dirty -", []string{"-client", "-json"}},
		{"x/4xw -", []string{"-cpu", "-json"}},
		{"help tl", []string{"tlb"}},
		{"help tb sh", []string{"show"}},
		{"help ", Complete("")},
		{"nosuch ", nil},
	}
	for _, c := range cases {
		if got := Complete(c.line); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Complete(%q) = %q, want %q", c.line, got, c.want)
		}
	}
	// the readline adapter returns suffixes and the typed length
	got, n := completer{}.Do([]rune("info reg"), 8)
	if n != 3 || len(got) != 1 || string(got[0]) != "isters " {
		t.Errorf("Do = %q, %d", got, n)
	}
}

func TestSwitchableWriter(t *testing.T) {
	var a, b bytes.Buffer
	w := NewSwitchableWriter(&a)
	io.WriteString(w, "one ")
	if old := w.Switch(&b); old != &a {
		t.Errorf("Switch returned %v", old)
	}
	io.WriteString(w, "two")
	w.Switch(nil)
	if n, err := io.WriteString(w, "dropped"); n != 7 || err != nil {
		t.Errorf("nil destination: %d, %v", n, err)
	}
	if a.String() != "one " || b.String() != "two" {
		t.Errorf("a=%q b=%q", a.String(), b.String())
	}
}

type syncBuf struct {
	mu  chanMutex
	buf bytes.Buffer
}

type chanMutex chan struct{}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.buf.Write(p)
}

func (s *syncBuf) String() string {
	s.mu <- struct{}{}
	defer func() { <-s.mu }()
	return s.buf.String()
}

func TestLineBuffer(t *testing.T) {
	out := &syncBuf{mu: make(chanMutex, 1)}
	l := &lineBuffer{w: out}
	io.WriteString(l, "ab")
	io.WriteString(l, "c\nde")
	if got := out.String(); got != "abc\n" {
		t.Fatalf("after a newline: %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "abc\nde" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := out.String(); got != "abc\nde" {
		t.Fatalf("partial line not flushed after the delay: %q", got)
	}
	io.WriteString(l, "f")
	l.Flush()
	if got := out.String(); got != "abc\ndef" {
		t.Fatalf("after Flush: %q", got)
	}
}

func TestRepeatable(t *testing.T) {
	for last, want := range map[string]string{
		"si 3": "si 3", "stepi": "stepi", "x/4xw 0x1000": "x/4xw", "xp 0x10": "xp", "info registers": "",
		"continue": "", "": "", "nosuch": "",
	} {
		if got := repeatable(last); got != want {
			t.Errorf("repeatable(%q) = %q, want %q", last, got, want)
		}
	}
}

// TestRunPiped drives Run with commands on a pipe (no terminal): the
// front end runs every line in order and returns the exit status.
func TestRunPiped(t *testing.T) {
	r, _, _ := demo(t)
	in := io.NopCloser(strings.NewReader("break 0xf0286\ncontinue\nsi\n\nnosuch\ncontinue\ncontinue\ninfo cpus\nquit\ninfo cpus\n"))
	var out bytes.Buffer
	serial := NewSwitchableWriter(io.Discard)
	f := false
	st := r.Run(Config{Stdin: in, Stdout: &out, Stderr: &out, HistoryFile: "-", Serial: serial, ForceInteractive: &f})
	if st != 1 {
		t.Errorf("exit status %d, want the guest's 1", st)
	}
	got := out.String()
	for _, want := range []string{"Breakpoint 1 at 0x000f0286", "Breakpoint 1, CPU 0 at 0x000f0286",
		"=> 0x000f05b0:  push $0xe", "=> 0x000f05b2:  jmp", `unknown command "nosuch"`,
		"[guest exited with status 1]", "exited   protected32"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "CPU  State") != 1 {
		t.Errorf("commands after quit ran:\n%s", got)
	}
}

func TestRunScript(t *testing.T) {
	r, out, _ := demo(t)
	err := r.RunScript(strings.NewReader("# set up\nbreak 0xf0286\n\ncontinue\ntb stats\nquit\ninfo cpus\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "(glassbox) continue\nContinuing.\nBreakpoint 1") ||
		strings.Contains(s, "info cpus") {
		t.Errorf("script output:\n%s", s)
	}
	err = r.RunScript(strings.NewReader("info cpus\nbogus\ninfo cpus\n"))
	if err == nil || !strings.Contains(err.Error(), "<script>:2: unknown command") {
		t.Errorf("script error %v, want one naming line 2", err)
	}
}

func TestDumpMemoryFile(t *testing.T) {
	r, out, tg := demo(t)
	r.createFile = New(tg, out).createFile // the real one
	transcript(r, out, atBreak)
	path := filepath.Join(t.TempDir(), "pd.bin")
	if err := r.Exec("dump-memory " + path + " 0x10000 0x1000"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 0x1000)
	tg.ReadPhys(0x10000, want)
	if !bytes.Equal(got, want) {
		t.Errorf("dumped bytes differ from guest memory")
	}
	if err := r.Exec("dump-memory " + filepath.Join(t.TempDir(), "no", "such", "dir") + " 0 1"); err == nil {
		t.Errorf("dump to a missing directory: no error")
	}
}
