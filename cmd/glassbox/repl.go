package main

import (
	"io"

	"glassbox/target"
)

// runREPL runs the interactive REPL on t until the user quits or the guest
// terminates, and returns the process exit status.
func runREPL(t *target.Target, o *options, stdin io.Reader, stdout, stderr io.Writer) int {
	io.WriteString(stderr, "glassbox: -repl: not yet: the REPL is not implemented yet\n")
	return 2
}
