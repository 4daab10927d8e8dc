package gdbstub

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// Spec is a parsed -gdb argument.
//
//	tcp:[HOST]:PORT[,OPTION...]   HOST defaults to 127.0.0.1
//	unix:PATH[,OPTION...]
//	[HOST]:PORT or PORT           short for tcp:...
//
// Options:
//
//	arch=i386|x86-64|i8086|auto
//	                        register layout for gdb (default auto: i386
//	                        for a BIOS ROM or ELF32 kernel, x86-64 for an
//	                        ELF64 kernel); i8086 is the i386 layout always
//	                        declared as architecture i8086 (see regs.go)
//
// Listening on every interface (HOST 0.0.0.0, ::, * or "any") must be asked
// for explicitly and prints a warning.
type Spec struct {
	Network string // "tcp" or "unix"
	Address string // host:port or socket path
	Arch    string // "", "i386" or "x86-64"
	// AllInterfaces is set when HOST asks for every interface.
	AllInterfaces bool
}

// ParseSpec parses a -gdb argument.
func ParseSpec(spec string) (Spec, error) {
	var sp Spec
	orig := spec
	parts := strings.Split(spec, ",")
	spec = parts[0]
	for _, opt := range parts[1:] {
		k, v, _ := strings.Cut(opt, "=")
		switch strings.TrimSpace(k) {
		case "arch":
			a, err := normArch(v)
			if err != nil {
				return sp, fmt.Errorf("-gdb %q: %v", orig, err)
			}
			sp.Arch = a
		case "":
		default:
			return sp, fmt.Errorf("-gdb %q: unknown option %q (want arch=i386|x86-64|i8086)", orig, opt)
		}
	}
	switch {
	case strings.HasPrefix(spec, "unix:"):
		sp.Network = "unix"
		sp.Address = strings.TrimPrefix(spec, "unix:")
		if sp.Address == "" {
			return sp, fmt.Errorf("-gdb %q: unix: needs a socket path", orig)
		}
		return sp, nil
	case strings.HasPrefix(spec, "tcp:"):
		spec = strings.TrimPrefix(spec, "tcp:")
	case strings.Contains(spec, ":"):
	default:
		// a bare port number
		spec = ":" + spec
	}
	host, port, err := net.SplitHostPort(spec)
	if err != nil {
		return sp, fmt.Errorf("-gdb %q: want tcp:[HOST]:PORT or unix:PATH", orig)
	}
	if port == "" {
		return sp, fmt.Errorf("-gdb %q: missing port", orig)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return sp, fmt.Errorf("-gdb %q: bad port %q", orig, port)
	}
	switch host {
	case "":
		host = "127.0.0.1"
	case "0.0.0.0", "*", "any":
		host = "0.0.0.0"
		sp.AllInterfaces = true
	case "::":
		sp.AllInterfaces = true
	}
	sp.Network = "tcp"
	sp.Address = net.JoinHostPort(host, port)
	return sp, nil
}

func normArch(v string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "auto":
		return "", nil
	case "i386", "x86", "ia32", "32":
		return ArchI386, nil
	case "i8086", "8086", "16":
		return ArchI8086, nil
	case "x86-64", "x86_64", "amd64", "i386:x86-64", "64":
		return ArchX8664, nil
	}
	return "", fmt.Errorf("arch %q: want i386, x86-64, i8086 or auto", v)
}

// Listen opens the listener for a -gdb argument, printing a warning on
// stderr when it listens on every interface. Options in the spec are
// ignored here (see ParseSpec).
func Listen(spec string) (net.Listener, error) {
	sp, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	return ListenSpec(sp, os.Stderr)
}

// ListenSpec opens the listener for a parsed spec; warnings go to warn.
func ListenSpec(sp Spec, warn io.Writer) (net.Listener, error) {
	if sp.AllInterfaces && warn != nil {
		fmt.Fprintf(warn, "glassbox: warning: the gdb stub listens on ALL network interfaces (%s): anyone who can reach this machine can control the guest and read its memory\n", sp.Address)
	}
	if sp.Network == "unix" {
		// A stale socket file from an earlier run would make Listen fail;
		// remove it only if it is a socket.
		if fi, err := os.Lstat(sp.Address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(sp.Address)
		}
	}
	ln, err := net.Listen(sp.Network, sp.Address)
	if err != nil {
		return nil, fmt.Errorf("gdb stub: %v", err)
	}
	return ln, nil
}
