// Command glassbox runs an x86 PC guest for introspection.
//
//	glassbox                         run the embedded demo guest
//	glassbox run [flags]             run a guest (QEMU-style flags, see -help)
//	glassbox script FILE [flags]     run a script; flags also from its "# glassbox:" header
//
// Exit status: the guest's isa-debug-exit status ((V<<1)|1), 0 when the
// guest halts for good, 2 on a guest shutdown (triple fault), bad flags,
// bad files, or an emulator error.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
)

func main() {
	oneP = os.Getenv("GOMAXPROCS") == ""
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// usageError is a bad command line: one line on stderr, exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func errorf(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// pprofLabel runs fn with the goroutine labelled for host stack dumps.
func pprofLabel(name string, fn func()) {
	pprof.Do(context.Background(), pprof.Labels("glassbox.thread", name), func(context.Context) { fn() })
}
