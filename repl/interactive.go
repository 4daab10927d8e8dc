package repl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ergochat/readline"

	"glassbox/target"
)

// SwitchableWriter is an io.Writer whose destination can change at run
// time. cmd creates one for the guest's serial output before the machine
// exists; the REPL points it at readline's output while it runs, so guest
// output and the prompt do not garble each other.
type SwitchableWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewSwitchableWriter returns a writer that forwards to w (nil discards).
func NewSwitchableWriter(w io.Writer) *SwitchableWriter { return &SwitchableWriter{w: w} }

// Write forwards to the current destination.
func (s *SwitchableWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	w := s.w
	s.mu.Unlock()
	if w == nil {
		return len(p), nil
	}
	return w.Write(p)
}

// Switch sets the destination and returns the previous one.
func (s *SwitchableWriter) Switch(w io.Writer) io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.w
	s.w = w
	return old
}

// lineBuffer passes whole lines to w; a partial line follows after
// lineDelay without more output (or at Flush).
type lineBuffer struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	timer *time.Timer
}

const lineDelay = 30 * time.Millisecond

func (l *lineBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if i := bytes.LastIndexByte(l.buf, '\n'); i >= 0 || len(l.buf) >= 4096 {
		if i < 0 {
			i = len(l.buf) - 1
		}
		l.w.Write(l.buf[:i+1])
		l.buf = append(l.buf[:0], l.buf[i+1:]...)
	}
	if len(l.buf) > 0 && l.timer == nil {
		l.timer = time.AfterFunc(lineDelay, l.Flush)
	}
	return len(p), nil
}

// Flush writes a pending partial line.
func (l *lineBuffer) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if len(l.buf) > 0 {
		l.w.Write(l.buf)
		l.buf = l.buf[:0]
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Config configures the interactive front end.
type Config struct {
	Stdin  io.ReadCloser // default os.Stdin
	Stdout io.Writer     // default os.Stdout
	Stderr io.Writer     // default os.Stderr
	// HistoryFile is where input history is kept: "" means
	// $GLASSBOX_HISTORY or else ~/.glassbox_history; "-" disables history.
	HistoryFile string
	// Serial, if set, is switched to the terminal's prompt-aware writer
	// while Run runs (and back afterwards).
	Serial *SwitchableWriter
	// Continue starts by resuming the guest (QEMU runs the guest unless -S).
	Continue bool
	// ForceInteractive, if set, turns terminal handling on or off; by
	// default it is on when Stdin is a terminal.
	ForceInteractive *bool
}

type lineResult struct {
	line string
	err  error
}

// lineReader runs readline in its own goroutine so that the REPL can wait
// for a line and for the guest at the same time.
type lineReader struct {
	rl      *readline.Instance
	req     chan struct{}
	res     chan lineResult
	pending bool
	prompt  string
}

func (l *lineReader) loop() {
	for range l.req {
		line, err := l.rl.ReadLine()
		l.res <- lineResult{line, err}
	}
}

// next asks for a line with the given prompt (or re-prompts a read that is
// already waiting) and returns the channel the line arrives on.
func (l *lineReader) next(prompt string) <-chan lineResult {
	if prompt != l.prompt {
		l.rl.SetPrompt(prompt)
		l.prompt = prompt
		if l.pending {
			l.rl.Refresh()
		}
	}
	if !l.pending {
		l.pending = true
		l.req <- struct{}{}
	}
	return l.res
}

func (l *lineReader) got() { l.pending = false }

// Run runs the interactive REPL until `quit`, Ctrl-D or end of input, and
// returns the exit status (see ExitStatus).
func (r *REPL) Run(cfg Config) int {
	if cfg.Stdin == nil {
		cfg.Stdin = os.Stdin
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	hist := cfg.HistoryFile
	if hist == "" {
		hist = os.Getenv("GLASSBOX_HISTORY")
	}
	if hist == "" {
		if home, err := os.UserHomeDir(); err == nil {
			hist = filepath.Join(home, ".glassbox_history")
		}
	}
	if hist == "-" {
		hist = ""
	}
	interactive := isTerminal(cfg.Stdin)
	if cfg.ForceInteractive != nil {
		interactive = *cfg.ForceInteractive
	}
	rcfg := &readline.Config{
		Prompt:            Prompt,
		HistoryFile:       hist,
		HistorySearchFold: true,
		AutoComplete:      completer{},
		Stdin:             cfg.Stdin,
		Stdout:            cfg.Stdout,
		Stderr:            cfg.Stderr,
		FuncIsTerminal:    func() bool { return interactive },
	}
	rl, err := readline.NewFromConfig(rcfg)
	if err != nil {
		fmt.Fprintf(cfg.Stderr, "glassbox: readline: %v\n", err)
		return 2
	}
	lr := &lineReader{rl: rl, req: make(chan struct{}), res: make(chan lineResult, 1), prompt: Prompt}
	go lr.loop()
	defer func() {
		rl.Close()
		close(lr.req)
	}()

	// Guest output goes to readline a line at a time (a partial line
	// after a short delay), REPL output after any pending guest output.
	guest := &lineBuffer{w: rl}
	oldOut := r.out
	r.out = writerFunc(func(p []byte) (int, error) {
		guest.Flush()
		return rl.Write(p)
	})
	defer func() { r.out = oldOut }()
	if cfg.Serial != nil {
		old := cfg.Serial.Switch(guest)
		defer func() {
			cfg.Serial.Switch(old)
			guest.Flush()
		}()
	}

	// SIGINT arrives when the terminal is not in raw mode (between reads).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	go func() {
		for range sig {
			r.t.Pause()
		}
	}()

	quitAfterRun := false
	oldWait := r.runWait
	defer func() { r.runWait = oldWait }()
	r.runWait = func(done <-chan *target.Stop, cancel func()) *target.Stop {
		if !interactive {
			return <-done
		}
		for {
			select {
			case st := <-done:
				return st
			case in := <-lr.next(""):
				lr.got()
				switch {
				case errors.Is(in.err, readline.ErrInterrupt):
					cancel()
				case in.err != nil: // Ctrl-D or end of input
					cancel()
					quitAfterRun = true
				default:
					r.execWhileRunning(in.line, cancel, &quitAfterRun)
				}
			}
		}
	}

	if cfg.Continue {
		if err := r.Exec("continue"); err != nil {
			fmt.Fprintln(r.out, err)
		}
	}
	last := ""
	for !r.quit && !quitAfterRun {
		in := <-lr.next(Prompt)
		lr.got()
		if errors.Is(in.err, readline.ErrInterrupt) {
			continue
		}
		if in.err != nil {
			fmt.Fprintln(r.out, "quit")
			break
		}
		line := strings.TrimSpace(in.line)
		if line == "" {
			line = repeatable(last)
			if line == "" {
				continue
			}
		} else {
			last = line
		}
		err := r.Exec(line)
		if err == ErrQuit {
			break
		}
		if err != nil {
			fmt.Fprintln(r.out, err)
		}
	}
	return r.ExitStatus()
}

// repeatable returns what an empty line repeats after last: stepi, and x
// or xp continuing after the last examined address.
func repeatable(last string) string {
	toks, err := tokenize(last)
	if err != nil || len(toks) == 0 {
		return ""
	}
	cmd, suffix, _, err := lookup(toks)
	if err != nil {
		return ""
	}
	switch cmd.Name {
	case "stepi":
		return last
	case "x", "xp":
		if suffix != "" {
			return cmd.Name + "/" + suffix
		}
		return cmd.Name
	}
	return ""
}

// execWhileRunning handles a line typed while the guest runs: only
// commands that do not need the guest stopped run.
func (r *REPL) execWhileRunning(line string, cancel func(), quit *bool) {
	line = strings.TrimSpace(line)
	if line == "" {
		return
	}
	toks, err := tokenize(line)
	if err != nil {
		fmt.Fprintln(r.out, err)
		return
	}
	cmd, _, _, err := lookup(toks)
	switch {
	case err != nil:
		fmt.Fprintln(r.out, err)
	case cmd.Name == "pause":
		cancel()
	case cmd.Name == "quit":
		cancel()
		*quit = true
	case cmd.NeedsStopped:
		fmt.Fprintf(r.out, "%s: the guest is running (Ctrl-C or `pause` stops it)\n", cmd.Name)
	default:
		if err := r.Exec(line); err != nil && err != ErrQuit {
			fmt.Fprintln(r.out, err)
		}
	}
}

// --- completion ----------------------------------------------------------------

// completer completes command names, sub-commands, flags and flag values.
type completer struct{}

// Complete returns the candidates for the word being typed at the end of
// line (whole words, not suffixes).
func Complete(line string) []string {
	words := strings.Fields(line)
	cur := ""
	if !strings.HasSuffix(line, " ") && len(words) > 0 {
		cur = words[len(words)-1]
		words = words[:len(words)-1]
	}
	var cands []string
	add := func(s string) {
		if strings.HasPrefix(s, cur) {
			for _, c := range cands {
				if c == s {
					return
				}
			}
			cands = append(cands, s)
		}
	}
	idx := index()
	if len(words) == 0 {
		for _, w := range idx.topWords {
			add(w)
		}
		return cands
	}
	if c, ok := idx.byName[strings.ToLower(words[0])]; ok && c.Name == "help" {
		// complete the command being asked about
		_, rest, _ := strings.Cut(strings.TrimLeft(line, " "), " ")
		return Complete(strings.TrimLeft(rest, " "))
	}
	group := strings.ToLower(words[0])
	if g, ok := idx.groupAlias[group]; ok {
		group = g
	}
	if subs, ok := idx.groups[group]; ok && len(words) == 1 {
		for _, c := range subs {
			add(c.sub())
		}
		if c, ok := idx.byName[group]; ok && strings.HasPrefix(cur, "-") {
			for _, f := range c.Flags {
				add("-" + f.Name)
			}
		}
		return cands
	}
	cmd, _, rest, err := lookup(words)
	if err != nil {
		return nil
	}
	if len(rest) > 0 {
		if f := cmd.flag(strings.TrimLeft(rest[len(rest)-1], "-")); f != nil && strings.HasPrefix(rest[len(rest)-1], "-") && f.Arg != "" {
			for _, v := range f.Values {
				add(v)
			}
			return cands
		}
	}
	if strings.HasPrefix(cur, "-") {
		for _, f := range cmd.Flags {
			add("-" + f.Name)
		}
	}
	return cands
}

// Do implements readline.AutoCompleter.
func (completer) Do(line []rune, pos int) ([][]rune, int) {
	s := string(line[:pos])
	cur := ""
	if !strings.HasSuffix(s, " ") {
		if f := strings.Fields(s); len(f) > 0 {
			cur = f[len(f)-1]
		}
	}
	var out [][]rune
	for _, c := range Complete(s) {
		out = append(out, []rune(c[len(cur):]+" "))
	}
	return out, len([]rune(cur))
}
