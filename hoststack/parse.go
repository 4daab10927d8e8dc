package hoststack

import (
	"errors"
	"strconv"
	"strings"
)

// ErrNoGoroutines is returned by Parse and ParseGDB when the text holds no
// goroutine or thread header.
var ErrNoGoroutines = errors.New("hoststack: no goroutine or thread found in the text")

// Parse parses a Go traceback: the output of runtime.Stack(buf, true), of
// an unrecovered panic or of SIGQUIT. It accepts every shape the runtime
// prints (see parse_test.go): "goroutine N [status, M minutes, locked to
// thread]:" headers with the gp=/m= fields of GOTRACEBACK=system and the
// labels of GODEBUG=tracebacklabels=1, inlined frames "f(...)", generic
// functions "F[...]", "+0x1f" offsets and fp=/sp=/pc= fields, "created by
// F in goroutine N", "...N frames elided...", "...additional frames
// elided...", "[originating from goroutine N]:" ancestors and "goroutine
// running on other thread; stack unavailable". Lines it does not
// recognise (the panic message, "exit status 2") are skipped; it never
// fails on bad input, it only returns ErrNoGoroutines when nothing was
// found.
//
// Goroutines are sorted by ID and numbered from 1 (Thread); each is named
// by its "glassbox.thread" label if printed, else after its entry function.
func Parse(text []byte) (Snapshot, error) {
	s := Snapshot{Source: "go"}
	var cur *Goroutine
	target := func() *Goroutine { // where frames go: the goroutine or its last ancestor
		if n := len(cur.Ancestors); n > 0 {
			return &cur.Ancestors[n-1]
		}
		return cur
	}
	const (
		expectNone = iota
		expectFrameFile
		expectCreatorFile
	)
	expect := expectNone
	flush := func() {
		if cur != nil {
			s.Goroutines = append(s.Goroutines, *cur)
			cur = nil
		}
	}
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.HasPrefix(line, "goroutine ") && strings.HasSuffix(line, "]:") {
			if g, ok := parseHeader(line); ok {
				flush()
				cur = &g
				expect = expectNone
				continue
			}
		}
		if cur == nil {
			continue
		}
		t := target()
		switch {
		case line == "":
			flush()
			expect = expectNone
		case line[0] == '\t':
			switch expect {
			case expectFrameFile:
				parseFileLine(line[1:], &t.Frames[len(t.Frames)-1])
			case expectCreatorFile:
				parseFileLine(line[1:], t.CreatedBy)
			default:
				if strings.Contains(line, "stack unavailable") {
					cur.Unavailable = true
				}
			}
			expect = expectNone
		case strings.HasPrefix(line, "created by "):
			fn := strings.TrimPrefix(line, "created by ")
			if i := strings.LastIndex(fn, " in goroutine "); i >= 0 {
				if id, err := strconv.ParseInt(fn[i+len(" in goroutine "):], 10, 64); err == nil {
					t.CreatorID = id
					fn = fn[:i]
				}
			}
			t.CreatedBy = &Frame{Func: fn}
			expect = expectCreatorFile
		case line == "...additional frames elided...":
			t.Elided, t.ElidedAt = -1, len(t.Frames)
			expect = expectNone
		case strings.HasPrefix(line, "...") && strings.HasSuffix(line, " frames elided..."):
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(line, "..."), " frames elided..."))
			if err != nil || n <= 0 {
				n = -1
			}
			t.Elided, t.ElidedAt = n, len(t.Frames)
			expect = expectNone
		case strings.HasPrefix(line, "[originating from goroutine ") && strings.HasSuffix(line, "]:"):
			id, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(line, "[originating from goroutine "), "]:"), 10, 64)
			cur.Ancestors = append(cur.Ancestors, Goroutine{ID: id})
			expect = expectNone
		default:
			t.Frames = append(t.Frames, parseFuncLine(line))
			expect = expectFrameFile
		}
	}
	flush()
	if len(s.Goroutines) == 0 {
		return s, ErrNoGoroutines
	}
	s.number()
	for i := range s.Goroutines {
		g := &s.Goroutines[i]
		if name, ok := g.Labels[ThreadLabel]; ok {
			g.Name, g.Named = name, true
		} else {
			g.Name = entryName(g)
		}
	}
	return s, nil
}

// parseHeader parses "goroutine 18 [chan receive, 2 minutes]:" and its
// variants.
func parseHeader(line string) (Goroutine, bool) {
	var g Goroutine
	rest := strings.TrimPrefix(line, "goroutine ")
	sp := strings.IndexByte(rest, ' ')
	if sp <= 0 {
		return g, false
	}
	id, err := strconv.ParseInt(rest[:sp], 10, 64)
	if err != nil || id < 0 {
		return g, false
	}
	g.ID = id
	rest = rest[sp+1:] // "[status...]:" or "gp=0x... m=1 mp=0x... [status...]:"
	b := strings.IndexByte(rest, '[')
	if b < 0 {
		return g, false
	}
	inner := rest[b+1 : len(rest)-2]
	if i := strings.Index(inner, " labels:{"); i >= 0 && strings.HasSuffix(inner, "}") {
		g.Labels = parseLabels(inner[i+len(" labels:{") : len(inner)-1])
		inner = inner[:i]
	}
	parts := strings.Split(inner, ", ")
	g.Status = parts[0]
	for _, p := range parts[1:] {
		switch {
		case p == "locked to thread":
			g.LockedToThread = true
		case strings.HasSuffix(p, " minutes"):
			if m, err := strconv.Atoi(strings.TrimSuffix(p, " minutes")); err == nil {
				g.Minutes = m
			}
		}
	}
	return g, true
}

// parseLabels parses the inside of `labels:{"k": "v", "k2": "v2"}`; the
// strings are quoted with Go escapes.
func parseLabels(s string) map[string]string {
	m := map[string]string{}
	for s != "" {
		k, rest, ok := cutQuoted(s)
		if !ok || !strings.HasPrefix(rest, ": ") {
			break
		}
		v, rest2, ok := cutQuoted(rest[2:])
		if !ok {
			break
		}
		m[k] = v
		s = strings.TrimPrefix(rest2, ", ")
	}
	return m
}

// cutQuoted reads one double-quoted Go string at the start of s.
func cutQuoted(s string) (val, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			v, err := strconv.Unquote(s[:i+1])
			if err != nil {
				v = s[1:i]
			}
			return v, s[i+1:], true
		}
	}
	return "", s, false
}

// parseFuncLine parses "pkg.(*T).M(0x1, {0x2, 0x3}, ...)".
func parseFuncLine(line string) Frame {
	if strings.HasSuffix(line, ")") {
		// Arguments never contain parentheses; receivers in the name do.
		if i := strings.LastIndexByte(line, '('); i > 0 {
			return Frame{Func: line[:i], Args: line[i+1 : len(line)-1]}
		}
	}
	return Frame{Func: line}
}

// parseFileLine parses "/path/file.go:123 +0x1f fp=0x... sp=0x... pc=0x..."
// into f; Inlined is set for a frame whose args were "..." and that has no
// offset.
func parseFileLine(s string, f *Frame) {
	for {
		j := strings.LastIndexByte(s, ' ')
		if j < 0 {
			break
		}
		tok := s[j+1:]
		switch {
		case strings.HasPrefix(tok, "+0x"):
			if v, err := strconv.ParseUint(tok[3:], 16, 64); err == nil {
				f.Offset, f.HasOffset = v, true
			}
		case strings.HasPrefix(tok, "pc=0x"):
			if v, err := strconv.ParseUint(tok[5:], 16, 64); err == nil {
				f.PC = v
			}
		case strings.HasPrefix(tok, "fp=") || strings.HasPrefix(tok, "sp="):
		default:
			goto fileLine
		}
		s = s[:j]
	}
fileLine:
	f.File = s
	if c := strings.LastIndexByte(s, ':'); c >= 0 {
		if n, err := strconv.Atoi(s[c+1:]); err == nil && n >= 0 {
			f.File, f.Line = s[:c], n
		}
	}
	f.Inlined = f.Args == "..." && !f.HasOffset
}
