// Package scripts holds example glassbox scripts and the tests that run
// them. Each is self-contained: its `# glassbox: FLAGS` header gives the
// machine flags (`${VAR}` from the environment names the repository guest
// to boot), so `glassbox script FILE` reproduces the session. The tests
// run each script twice and require identical output: glassbox is
// deterministic, so a script reproduces the same stop, the same TBs and
// the same host call chains every time (host addresses and goroutine IDs
// aside).
//
//   - seed-000-tlb-fill.gb: the first seed document — a vCPU caught inside
//     the TLB fill at the reset vector, then inside the code protection of
//     the first TB — printed from glassbox's own goroutine stacks.
//   - seed-001-hang.gb: the second seed's view — every goroutine of an
//     8-vCPU machine gdb-style (seven vCPUs parked at a guest HLT), then
//     `analyze hang` doing the analysis that seed left as TODO
//     (SMP_ELF=smp.elf from guests/smp).
//   - crash-pagefault.gb: guests/crash dereferences an unmapped pointer
//     three calls deep with no IDT; the script runs to the triple fault,
//     asserts CR2, the stop and the function chain, and its `on crash`
//     block prints `report crash` and writes crash.core, which real gdb
//     opens with the same backtrace (CRASH_ELF=crash.elf).
//   - deadlock-spinlocks.gb: guests/smp -append deadlock — two vCPUs take
//     two spin locks in opposite orders; the spin watchdog stops the run
//     and `analyze hang` names the cycle with the lock words and holders.
//   - boot-then-inspect.gb: run the demo to an interesting point and look
//     at registers, page walk, TLB, TBs and dirty bits.
package scripts
