package hoststack

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// renderGo prints a snapshot back in the runtime's traceback format.
func renderGo(s Snapshot) []byte {
	var b bytes.Buffer
	frames := func(g *Goroutine) {
		for i, f := range g.Frames {
			if g.Elided != 0 && g.ElidedAt == i {
				renderElided(&b, g.Elided)
			}
			fmt.Fprintf(&b, "%s(%s)\n\t%s:%d", f.Func, f.Args, f.File, f.Line)
			if f.HasOffset {
				fmt.Fprintf(&b, " +%#x", f.Offset)
			}
			if f.PC != 0 {
				fmt.Fprintf(&b, " pc=%#x", f.PC)
			}
			b.WriteString("\n")
		}
		if g.Elided != 0 && g.ElidedAt >= len(g.Frames) {
			renderElided(&b, g.Elided)
		}
		if c := g.CreatedBy; c != nil {
			b.WriteString("created by " + c.Func)
			if g.CreatorID != 0 {
				fmt.Fprintf(&b, " in goroutine %d", g.CreatorID)
			}
			fmt.Fprintf(&b, "\n\t%s:%d", c.File, c.Line)
			if c.HasOffset {
				fmt.Fprintf(&b, " +%#x", c.Offset)
			}
			if c.PC != 0 {
				fmt.Fprintf(&b, " pc=%#x", c.PC)
			}
			b.WriteString("\n")
		}
	}
	for i := range s.Goroutines {
		g := &s.Goroutines[i]
		st := []string{g.Status}
		if g.Minutes != 0 {
			st = append(st, strconv.Itoa(g.Minutes)+" minutes")
		}
		if g.LockedToThread {
			st = append(st, "locked to thread")
		}
		fmt.Fprintf(&b, "goroutine %d [%s", g.ID, strings.Join(st, ", "))
		if len(g.Labels) > 0 {
			keys := make([]string, 0, len(g.Labels))
			for k := range g.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var kv []string
			for _, k := range keys {
				kv = append(kv, strconv.Quote(k)+": "+strconv.Quote(g.Labels[k]))
			}
			b.WriteString(" labels:{" + strings.Join(kv, ", ") + "}")
		}
		b.WriteString("]:\n")
		if g.Unavailable {
			b.WriteString("\tgoroutine running on other thread; stack unavailable\n")
		}
		frames(g)
		for j := range g.Ancestors {
			fmt.Fprintf(&b, "[originating from goroutine %d]:\n", g.Ancestors[j].ID)
			frames(&g.Ancestors[j])
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

func renderElided(b *bytes.Buffer, n int) {
	if n < 0 {
		b.WriteString("...additional frames elided...\n")
	} else {
		fmt.Fprintf(b, "...%d frames elided...\n", n)
	}
}

func addSeeds(f *testing.F, glob string) {
	files, _ := filepath.Glob(glob)
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParse: Parse never panics, printing what it parsed and parsing that
// again is stable, and the writer and the analysis accept anything it
// returns.
func FuzzParse(f *testing.F) {
	addSeeds(f, "testdata/go-*.txt")
	f.Add([]byte("goroutine 1 [running]:\nmain.main()\n\t/x.go:1 +0x1\n"))
	f.Add([]byte("goroutine 2 [chan receive labels:{\"a\\\"\": \"b\\x00\"}]:\nf(...)\n\tx.go:2\n...3 frames elided...\ncreated by g in goroutine 1\n\tx.go:3 +0x2\n[originating from goroutine 1]:\nh(...)\n\tx.go:4 +0x5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		once := renderGo(s)
		s2, err := Parse(once)
		if err != nil {
			t.Fatalf("reparsing the rendering failed: %v\n%s", err, once)
		}
		if twice := renderGo(s2); !bytes.Equal(once, twice) {
			t.Fatalf("rendering not stable:\n%q\n%q", once, twice)
		}
		for _, opt := range []Options{{}, {Group: true, MaxFrames: 2}, {Filter: "a"}} {
			if err := Write(io.Discard, s, opt); err != nil {
				t.Fatal(err)
			}
		}
		_ = Analyze(s, Facts{}).String()
	})
}

// FuzzParseGDB: ParseGDB never panics and its result can be written and
// analysed.
func FuzzParseGDB(f *testing.F) {
	addSeeds(f, "testdata/qemu-seed-*.txt")
	f.Add([]byte("Thread 1 (Thread 0x1 (LWP 2) \"CPU 0/KVM\"):\n#0  0x1 in f (a=\"(\\\"\", b=<x>) at y.c:3\n#1  g () from l.so\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseGDB(data)
		if err != nil {
			return
		}
		if err := Write(io.Discard, s, Options{Group: true}); err != nil {
			t.Fatal(err)
		}
		_ = Analyze(s, Facts{}).String()
	})
}
