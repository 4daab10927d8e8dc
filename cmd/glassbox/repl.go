package main

import (
	"io"

	"glassbox/repl"
	"glassbox/target"
)

// runREPL runs the interactive REPL on t until the user quits or the guest
// terminates, and returns the process exit status: the guest's when it
// exited, else 0.
//
// The REPL holds the target: the guest runs only under `continue`,
// `stepi` and `until` (and at the start unless -S, as QEMU runs the guest
// while its monitor is open).
func runREPL(t *target.Target, o *options, stdin io.Reader, stdout, stderr io.Writer) int {
	t.Hold()
	defer t.Release()
	m := t.Machine()

	// Route guest output on the terminal through readline so that it does
	// not garble the prompt. (run.go could create the SwitchableWriter up
	// front and hand it to machine.Config.Serial; until then, swap the
	// devices' writers here.)
	var serial *repl.SwitchableWriter
	if o.serial == "stdio" {
		serial = repl.NewSwitchableWriter(m.SerialOutput())
		m.SetSerialOutput(serial, o.debugcon == "")
	}

	in, ok := stdin.(io.ReadCloser)
	if !ok {
		in = io.NopCloser(stdin)
	}
	r := repl.New(t, stdout)
	status := r.Run(repl.Config{Stdin: in, Stdout: stdout, Stderr: stderr, Serial: serial, Continue: !o.startPaused})
	if st := t.LastStop(); st != nil && st.Terminal() {
		return finish(m, t, o, st, stderr)
	}
	return status
}
