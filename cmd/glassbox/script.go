package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"glassbox/machine"
	"glassbox/repl"
	"glassbox/target"
)

// scriptCmd is `glassbox script FILE [flags]`: the machine flags come from
// the script's header lines (`# glassbox: FLAGS`, before the first
// command; ${VAR} is taken from the environment), then from the command
// line (later flags win).
func scriptCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "glassbox: usage: glassbox script FILE [machine flags]")
		return 2
	}
	file := args[0]
	header, err := scriptHeader(file)
	if err != nil {
		fmt.Fprintf(stderr, "glassbox: %v\n", err)
		return 2
	}
	all := append(append(header, args[1:]...), "-script", file)
	return runCmd(all, stdin, stdout, stderr)
}

// scriptHeader returns the flags of a script's `# glassbox:` header lines.
func scriptHeader(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, errorf("script: %v", err)
	}
	var flags []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#!") {
			continue
		}
		if !strings.HasPrefix(line, "#") {
			break // the first command ends the header
		}
		rest, ok := strings.CutPrefix(strings.TrimSpace(line[1:]), "glassbox:")
		if !ok {
			continue
		}
		var missing []string
		expanded := os.Expand(rest, func(name string) string {
			v, ok := os.LookupEnv(name)
			if !ok {
				missing = append(missing, name)
			}
			return v
		})
		if len(missing) > 0 {
			return nil, errorf("%s:%d: header uses $%s, which is not set in the environment", file, i+1, missing[0])
		}
		words, err := repl.Tokenize(expanded)
		if err != nil {
			return nil, errorf("%s:%d: header: %v", file, i+1, err)
		}
		flags = append(flags, words...)
	}
	return flags, nil
}

// runScript runs REPL commands from o.script non-interactively (the guest
// starts stopped; `continue`, `run-until`, `stepi` ... drive it). Status:
// 0 when every command ran and every expectation held (whatever the guest
// did), 1 when an expectation failed, 2 on a script error (file:line).
func runScript(m *machine.Machine, t *target.Target, o *options, stdout, stderr io.Writer) (int, error) {
	if _, err := os.Stat(o.script); err != nil {
		return 2, errorf("-script: %v", err)
	}
	t.Hold()
	defer t.Release()
	r := repl.New(t, stdout)
	err := r.RunScriptFile(o.script)
	if o.report != "" {
		if st := t.LastStop(); st != nil && isCrash(st) {
			if rerr := writeReport(t, o.report, stderr); rerr != nil && err == nil {
				return 2, rerr
			}
		}
	}
	if err != nil {
		msg := err.Error()
		var se *repl.ScriptError
		if !errors.As(err, &se) {
			msg = o.script + ": " + msg
		}
		fmt.Fprintf(stderr, "glassbox: %s\n", msg)
		var ef *repl.ExpectFailed
		if errors.As(err, &ef) {
			return 1, nil // an expectation failed
		}
		return 2, nil // a script error
	}
	return 0, nil // every command ran and every expectation held
}

func isCrash(st *target.Stop) bool {
	return st.Reason == "shutdown" || st.Reason == "error" || st.Reason == "watchdog"
}

// writeReport writes `report crash` (JSON when path ends in .json) to path.
func writeReport(t *target.Target, path string, stderr io.Writer) error {
	f, err := os.Create(path)
	if err != nil {
		return errorf("-report: %v", err)
	}
	defer f.Close()
	r := repl.New(t, f)
	cmd := "report crash"
	if strings.EqualFold(filepath.Ext(path), ".json") {
		cmd += " -json"
	}
	if err := r.Exec(cmd); err != nil {
		return errorf("-report %s: %v", path, err)
	}
	fmt.Fprintf(stderr, "glassbox: crash report written to %s\n", path)
	return nil
}
