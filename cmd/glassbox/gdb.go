package main

import (
	"fmt"
	"io"
	"os"

	"glassbox/gdbstub"
	"glassbox/repl"
	"glassbox/target"
)

// startGDB starts the gdb remote stub for o.gdb (tcp:[HOST]:PORT or
// unix:PATH, optionally ",arch=i386" or ",arch=x86-64" to override the
// register layout picked from the booted image) serving t in the
// background, and returns a function that shuts it down.
//
// With -S the caller has already taken a Hold on t; the stub adopts it and
// releases it when the first gdb client detaches or disconnects, so the
// guest runs once gdb is gone. gdb's kill (k / vKill) ends the process
// with status 0 after the connection is closed.
func startGDB(t *target.Target, o *options, stderr io.Writer) (stop func(), err error) {
	sp, err := gdbstub.ParseSpec(o.gdb)
	if err != nil {
		return nil, errorf("%v", err)
	}
	srv, err := gdbstub.New(t, gdbstub.Config{
		Arch:      sp.Arch,
		Log:       stderr,
		AdoptHold: o.startPaused && !o.repl,
		OnKill: func() {
			fmt.Fprintln(stderr, "glassbox: killed by gdb")
			os.Exit(0)
		},
		// Every REPL command is also a gdb `monitor` command.
		Monitor: monitorFunc(t),
	})
	if err != nil {
		return nil, errorf("-gdb %s: %v", o.gdb, err)
	}
	ln, err := gdbstub.ListenSpec(sp, stderr)
	if err != nil {
		return nil, errorf("-gdb %s: %v", o.gdb, err)
	}
	where := ln.Addr().String()
	if sp.Network == "unix" {
		where = "unix:" + sp.Address
	}
	fmt.Fprintf(stderr, "glassbox: gdb stub listening on %s\n", where)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil {
			fmt.Fprintf(stderr, "glassbox: gdb stub: %v\n", err)
		}
	}()
	return func() {
		srv.Close()
		<-done
		if sp.Network == "unix" {
			os.Remove(sp.Address)
		}
	}, nil
}

// monitorFunc runs `monitor CMD` through one REPL instance shared by the
// connection's commands (so `cpu N` selection persists).
func monitorFunc(t *target.Target) func(cmd string, w io.Writer) error {
	r := repl.New(t, io.Discard)
	return func(cmd string, w io.Writer) error {
		r.SetOutput(w)
		err := r.Exec(cmd)
		if err == repl.ErrQuit {
			return nil
		}
		return err
	}
}
