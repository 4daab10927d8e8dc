//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package repl

import "io"

func isTerminal(io.Reader) bool { return false }
