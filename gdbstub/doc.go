// Package gdbstub serves the GDB Remote Serial Protocol for a glassbox
// machine, talking to it only through *target.Target.
//
// # Use
//
//	glassbox run -kernel K -s -S             # listen on 127.0.0.1:1234, start paused
//	gdb -x gdb/glassbox.gdb -ex 'file K' -ex 'target remote :1234'
//
// -gdb takes tcp:[HOST]:PORT (HOST defaults to 127.0.0.1; 0.0.0.0 must be
// asked for and prints a warning) or unix:PATH, optionally followed by
// ",arch=i386" or ",arch=x86-64" to override the register layout (see
// ParseSpec).
//
// # Sessions
//
// One client at a time: a second connection gets an E01 packet and is
// closed, with a notice on the log. When a client connects the stub takes
// the guest from the background runner (target.Hold) and the guest stops,
// as QEMU stops the VM when gdb attaches. While attached the stub runs the
// guest itself (target.Continue / target.Step). When the client detaches
// (D) or disconnects, the breakpoints and watchpoints it set are removed
// and the guest runs in the background again (target.Release). Clients
// may reconnect any number of times. k and vKill call Config.OnKill (the
// glassbox command exits the process, status 0).
//
// # Packets
//
// Framing with +/- acks and retransmission on '-', QStartNoAckMode, binary
// escapes (X in, qXfer out), run-length encoding on input, 0x03 while the
// guest runs (answered with a T02 stop), PacketSize 0x4000. A packet with
// a bad checksum is answered '-' (or E01 in no-ack mode); unparsable
// arguments get E01, unknown threads E02, unmapped memory E14, bad values
// E22/E16; unknown packets get the empty reply. No input crashes the stub
// (see FuzzPacket).
//
// Supported: ? g G p P m M X c C s S vCont? vCont(c C s S t) vKill
// vMustReplyEmpty H(g|c) T k D Z0-Z4 z0-z4 qSupported qXfer:features:read
// qXfer:memory-map:read qC qfThreadInfo qsThreadInfo qThreadExtraInfo
// qAttached qOffsets qSymbol qRcmd QStartNoAckMode.
//
// # Threads
//
// gdb threads are vCPUs: thread id = CPU index + 1. qC answers the
// current vCPU: the one that last stopped, or the one selected with Hg.
// All-stop: vCont steps at most one vCPU while the others stay stopped;
// continue runs them all. C/S signals are ignored (there is no process to
// deliver them to).
//
// # Breakpoints and watchpoints
//
// Z0 and Z1 both become target breakpoints on LINEAR addresses: guest
// memory is never patched and their number is unlimited. Stop replies say
// swbreak or hwbreak according to the kind gdb inserted (when gdb
// negotiated them). Z2/Z3/Z4 become write/read/access watchpoints of any
// length and alignment, reported as watch:/rwatch:/awatch: with the
// watched address that was hit. Watchpoints trigger after the accessing
// instruction completed, as on x86 hardware, so gdb's old/new values are
// right.
//
// Single-step uses target.Step: one instruction on one vCPU. As QEMU's
// default (SSTEP_NOIRQ), pending interrupts are not taken during a single
// step; `monitor sstep irq on` lets them in. A step that starts on a
// breakpoint address executes the instruction.
//
// # Registers
//
// See regs.go: i386 and x86-64 layouts matching gdb's own descriptions,
// plus the glassbox feature org.glassbox.x86.sys (cr0-cr4, cr8, efer,
// segment bases, k_gs_base, mode_bits). The PC slot holds the linear PC
// (CS.base+EIP) in every mode, which is what makes real mode work. The
// layout is fixed per connection; when the CPU is in a mode the i386
// layout cannot show (long mode), each stop sends a console message
// saying so and registers carry their low 32 bits. x87/SSE registers are
// not modelled by the CPU: they read as their reset values and writes are
// ignored.
//
// # Memory
//
// m/M/X use linear addresses, translated through the selected vCPU's page
// tables without side effects (target.ReadLinear/WriteLinear); an
// unmapped address gives E14 (a partial read returns what was readable).
// `monitor phys on` switches them to physical addresses.
//
// # Monitor
//
// `monitor CMD` (qRcmd) runs CMD through Config.Monitor (the REPL); the stub
// itself implements phys on|off, wp-phys ADDR LEN [w|r|a], wp-phys-del ID,
// sstep irq on|off, and, without a Monitor hook, help, info registers and
// info mode. Output is streamed to gdb as O packets.
package gdbstub
