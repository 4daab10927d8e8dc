package repl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"glassbox/target"
)

// Scripts: REPL commands run non-interactively, one per line, plus four
// constructs only a script has:
//
//	set NAME = VALUE      define ${NAME} for later lines (VALUE is text)
//	source FILE           run FILE's lines (relative to this script's directory)
//	on crash { ... }      commands run once when the guest crashes (triple
//	on exit { ... }       fault, internal error, watchdog) or ends (exit,
//	                      halt forever, power-off); the block may span lines
//
// Every line is echoed after the prompt before it runs. The first error
// stops the script; its message starts with FILE:LINE.

// ScriptError is a script failure at a line. Unwrap gives the command's
// error (an *ExpectFailed for a failed expectation).
type ScriptError struct {
	File string
	Line int
	Err  error
}

func (e *ScriptError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *ScriptError) Unwrap() error { return e.Err }

// maxSourceDepth bounds nested `source` (a file sourcing itself).
const maxSourceDepth = 16

type scriptLine struct {
	file string
	line int
	text string
}

type script struct {
	r        *REPL
	vars     map[string]string
	handlers map[string][]scriptLine // "crash", "exit"
	fired    map[string]bool
	seen     *target.Stop // the last stop handlers were considered for
	depth    int
}

// RunScript executes the lines of src (named "<script>" in errors).
func (r *REPL) RunScript(src io.Reader) error {
	data, err := io.ReadAll(src)
	if err != nil {
		return err
	}
	return r.newScript().run("<script>", "", data)
}

// maxScriptSize bounds a script file (and keeps `source /dev/zero` from
// eating memory).
const maxScriptSize = 16 << 20

// readScript reads a script file: a regular file of at most maxScriptSize.
func readScript(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Size() > maxScriptSize {
		return nil, fmt.Errorf("%s: %d bytes; scripts are at most %d", path, fi.Size(), maxScriptSize)
	}
	return os.ReadFile(path)
}

// RunScriptFile executes the script in path.
func (r *REPL) RunScriptFile(path string) error {
	data, err := readScript(path)
	if err != nil {
		return err
	}
	return r.newScript().run(path, filepath.Dir(path), data)
}

func (r *REPL) newScript() *script {
	return &script{r: r, vars: r.vars, handlers: map[string][]scriptLine{},
		fired: map[string]bool{}, seen: r.t.LastStop()}
}

func (s *script) run(name, dir string, data []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &ScriptError{File: name, Err: fmt.Errorf("internal error (a glassbox bug): %v", p)}
		}
	}()
	var lines []scriptLine
	for i, l := range strings.Split(string(data), "\n") {
		lines = append(lines, scriptLine{name, i + 1, strings.TrimSpace(l)})
	}
	err = s.lines(lines, dir)
	if err == ErrQuit {
		err = nil
	}
	if err == nil {
		// The guest may have ended during the last command: handlers run
		// before the script ends.
		err = s.handle()
	}
	return err
}

func (s *script) fail(l scriptLine, err error) error {
	var se *ScriptError
	if errors.As(err, &se) || err == ErrQuit {
		return err
	}
	return &ScriptError{File: l.file, Line: l.line, Err: err}
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand substitutes ${NAME}; an undefined name is an error.
func (s *script) expand(text string) (string, error) {
	var bad string
	out := varRef.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := s.vars[name]
		if !ok && bad == "" {
			bad = name
		}
		return v
	})
	if bad != "" {
		return "", fmt.Errorf("${%s} is not set (use `set %s = VALUE` first)", bad, bad)
	}
	return out, nil
}

func (s *script) lines(lines []scriptLine, dir string) error {
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l.text == "" || l.text[0] == '#' {
			continue
		}
		fields := strings.Fields(l.text)
		if fields[0] == "on" {
			body, next, err := blockBody(lines, i)
			if err != nil {
				return s.fail(l, err)
			}
			if len(fields) < 2 || (fields[1] != "crash" && fields[1] != "exit") {
				return s.fail(l, fmt.Errorf("on: want `on crash {` or `on exit {`"))
			}
			fmt.Fprintf(s.r.out, "%s%s\n", Prompt, l.text)
			s.handlers[fields[1]] = append(s.handlers[fields[1]], body...)
			i = next
			continue
		}
		if l.text == "}" {
			return s.fail(l, fmt.Errorf("`}` without `on crash {` or `on exit {`"))
		}
		text, err := s.expand(l.text)
		if err != nil {
			fmt.Fprintf(s.r.out, "%s%s\n", Prompt, l.text)
			return s.fail(l, err)
		}
		fmt.Fprintf(s.r.out, "%s%s\n", Prompt, text)
		if err := s.one(l, text, dir); err != nil {
			return err
		}
		if err := s.handle(); err != nil {
			return err
		}
	}
	return nil
}

// blockBody returns the lines of the block opened at lines[i] ("on KIND {"
// or the one-line "on KIND { CMD }") and the index of its closing line.
func blockBody(lines []scriptLine, i int) ([]scriptLine, int, error) {
	l := lines[i]
	open := strings.Index(l.text, "{")
	if open < 0 {
		return nil, 0, fmt.Errorf("on: want `{` after the event name")
	}
	if strings.HasSuffix(l.text, "}") && strings.Count(l.text, "{") == 1 {
		inner := strings.TrimSpace(l.text[open+1 : len(l.text)-1])
		var body []scriptLine
		for _, c := range strings.Split(inner, ";") {
			if c = strings.TrimSpace(c); c != "" {
				body = append(body, scriptLine{l.file, l.line, c})
			}
		}
		return body, i, nil
	}
	if strings.TrimSpace(l.text[open+1:]) != "" {
		return nil, 0, fmt.Errorf("on: commands go on the lines after `{` (or `on KIND { CMD; CMD }` on one line)")
	}
	var body []scriptLine
	for j := i + 1; j < len(lines); j++ {
		switch t := lines[j].text; {
		case t == "}":
			return body, j, nil
		case strings.HasPrefix(t, "on ") && strings.HasSuffix(t, "{"):
			return nil, 0, fmt.Errorf("line %d: `on` blocks do not nest", lines[j].line)
		default:
			body = append(body, lines[j])
		}
	}
	return nil, 0, fmt.Errorf("`{` is never closed with `}`")
}

// one runs a single expanded line.
func (s *script) one(l scriptLine, text, dir string) error {
	toks, err := tokenize(text)
	if err != nil {
		return s.fail(l, err)
	}
	switch toks[0] {
	case "source":
		if len(toks) != 2 {
			return s.fail(l, fmt.Errorf("usage: source FILE"))
		}
		if s.depth >= maxSourceDepth {
			return s.fail(l, fmt.Errorf("source: nested more than %d deep", maxSourceDepth))
		}
		path := toks[1]
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
		}
		data, err := readScript(path)
		if err != nil {
			return s.fail(l, fmt.Errorf("source: %v", err))
		}
		var lines []scriptLine
		for i, t := range strings.Split(string(data), "\n") {
			lines = append(lines, scriptLine{path, i + 1, strings.TrimSpace(t)})
		}
		s.depth++
		defer func() { s.depth-- }()
		return s.lines(lines, filepath.Dir(path))
	}
	if err := s.r.Exec(text); err != nil {
		return s.fail(l, err)
	}
	return nil
}

// handle runs the `on crash` / `on exit` handlers once when a new terminal
// stop appeared.
func (s *script) handle() error {
	st := s.r.t.LastStop()
	if st == nil || st == s.seen {
		return nil
	}
	s.seen = st
	kind := stopEvent(st)
	if kind == "" || s.fired[kind] || len(s.handlers[kind]) == 0 {
		return nil
	}
	s.fired[kind] = true
	fmt.Fprintf(s.r.out, "[on %s: %s]\n", kind, describeStop(st))
	return s.lines(s.handlers[kind], "")
}

// stopEvent classifies a stop for the handlers: "crash", "exit" or "".
func stopEvent(st *target.Stop) string {
	switch st.Reason {
	case "shutdown", "error", "watchdog":
		return "crash"
	case "exited", "halted":
		return "exit"
	}
	return ""
}

// captureExec runs a command line with its output captured.
func (r *REPL) captureExec(line string) (string, error) {
	var b bytes.Buffer
	old := r.out
	r.out = &b
	err := r.Exec(line)
	r.out = old
	return b.String(), err
}
