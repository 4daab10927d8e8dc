package hoststack

import (
	"sort"
	"strconv"
	"strings"
)

// gdb's pager prompts, which a pasted backtrace often keeps; they may cut
// a line in two.
var gdbPagerPrompts = []string{
	"--Type <RET> for more, q to quit, c to continue without paging--",
	"---Type <return> to continue, or q <return> to quit---",
}

// ParseGDB parses the output of gdb's `thread apply all bt` (the form of
// ../shared/seeds/001_*.txt) into a Snapshot, so that QEMU's threads can be
// analysed like glassbox's goroutines (see Analyze and the worked example
// in testdata/qemu-seed-001.md). Pager prompts are removed, also when they
// split a line. Each thread keeps gdb's number and name and, as ID, its
// LWP; frames keep gdb's PC (none for inlined frames), arguments as printed,
// "at FILE:LINE" and "from LIB".
func ParseGDB(text []byte) (Snapshot, error) {
	t := string(text)
	for _, p := range gdbPagerPrompts {
		t = strings.ReplaceAll(t, p+"\r\n", "")
		t = strings.ReplaceAll(t, p+"\n", "")
		t = strings.ReplaceAll(t, p, "")
	}
	s := Snapshot{Source: "gdb"}
	var cur *Goroutine
	flush := func() {
		if cur != nil {
			s.Goroutines = append(s.Goroutines, *cur)
			cur = nil
		}
	}
	for _, line := range strings.Split(t, "\n") {
		line = strings.TrimRight(line, "\r")
		if g, ok := parseGDBHeader(line); ok {
			flush()
			cur = &g
			continue
		}
		if cur == nil {
			continue
		}
		if f, ok := parseGDBFrame(line); ok {
			cur.Frames = append(cur.Frames, f)
		}
	}
	flush()
	if len(s.Goroutines) == 0 {
		return s, ErrNoGoroutines
	}
	sort.SliceStable(s.Goroutines, func(i, j int) bool { return s.Goroutines[i].Thread < s.Goroutines[j].Thread })
	for i := range s.Goroutines {
		g := &s.Goroutines[i]
		if g.Name == "" {
			if g.ID != 0 {
				g.Name = "LWP " + strconv.FormatInt(g.ID, 10)
			} else {
				g.Name = "thread " + strconv.Itoa(g.Thread)
			}
		}
	}
	return s, nil
}

// parseGDBHeader parses
//
//	Thread 16 (Thread 0x7ff7baff6940 (LWP 2463586) "CPU 7/KVM"):
//
// and its shorter forms ("Thread 1 (process 42):", "Thread 2 (LWP 7):").
func parseGDBHeader(line string) (Goroutine, bool) {
	var g Goroutine
	if !strings.HasPrefix(line, "Thread ") || !strings.HasSuffix(line, "):") {
		return g, false
	}
	rest := line[len("Thread "):]
	sp := strings.IndexByte(rest, ' ')
	if sp <= 0 {
		return g, false
	}
	n, err := strconv.Atoi(rest[:sp])
	if err != nil || n < 0 {
		return g, false
	}
	g.Thread = n
	rest = rest[sp+1 : len(rest)-1] // "(Thread 0x... (LWP n) "name")"
	for _, key := range []string{"LWP ", "process "} {
		if i := strings.Index(rest, key); i >= 0 {
			digits := rest[i+len(key):]
			end := 0
			for end < len(digits) && digits[end] >= '0' && digits[end] <= '9' {
				end++
			}
			if id, err := strconv.ParseInt(digits[:end], 10, 64); err == nil {
				g.ID = id
				break
			}
		}
	}
	if strings.HasSuffix(rest, `")`) {
		body := rest[:len(rest)-2]
		if q := strings.IndexByte(body, '"'); q >= 0 {
			g.Name, g.Named = body[q+1:], true
		}
	}
	return g, true
}

// parseGDBFrame parses
//
//	#2  0x000055555964fc34 in qemu_cond_wait_impl (cond=0x55557a42c910, ...) at ../util/qemu-thread-posix.c:225
//	#2  qemu_poll_ns (fds=<optimized out>, ...) at ../util/qemu-timer.c:420     (inlined: no address)
//	#0  0x00007ffff17e0bb8 in ?? () from target:/usr/lib64/libc.so.6
func parseGDBFrame(line string) (Frame, bool) {
	var f Frame
	if !strings.HasPrefix(line, "#") {
		return f, false
	}
	i := 1
	for i < len(line) && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	if i == 1 {
		return f, false
	}
	rest := strings.TrimLeft(line[i:], " ")
	if strings.HasPrefix(rest, "0x") {
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			sp = len(rest)
		}
		if pc, err := strconv.ParseUint(rest[2:sp], 16, 64); err == nil {
			f.PC = pc
		}
		rest = strings.TrimPrefix(rest[sp:], " in ")
	} else {
		f.Inlined = true
	}
	// Function name, then " (args)" with balanced parentheses (strings in
	// the arguments may hold any of them).
	open := strings.Index(rest, " (")
	if open < 0 {
		f.Func = strings.TrimSpace(rest)
		return f, true
	}
	f.Func = rest[:open]
	depth, inStr, end := 0, false, -1
	for j := open + 1; j < len(rest) && end < 0; j++ {
		c := rest[j]
		switch {
		case inStr && c == '\\':
			j++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				end = j
			}
		}
	}
	if end < 0 {
		f.Args = rest[open+2:]
		return f, true
	}
	f.Args = rest[open+2 : end]
	tail := rest[end+1:]
	switch {
	case strings.HasPrefix(tail, " at "):
		loc := tail[len(" at "):]
		f.File = loc
		if c := strings.LastIndexByte(loc, ':'); c >= 0 {
			if n, err := strconv.Atoi(loc[c+1:]); err == nil && n >= 0 {
				f.File, f.Line = loc[:c], n
			}
		}
	case strings.HasPrefix(tail, " from "):
		f.Lib = tail[len(" from "):]
	}
	return f, true
}
