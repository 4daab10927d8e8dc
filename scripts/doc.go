// Package scripts holds example glassbox scripts (REPL command files run
// with `glassbox run -script FILE`) and the test that runs each of them
// twice and requires identical output: glassbox is deterministic, so a
// script reproduces the same stop, the same TBs and the same host call
// chains every time (host addresses and goroutine IDs aside).
//
//   - seed-000-tlb-fill.gb: the first seed document — a vCPU caught inside
//     the TLB fill at the reset vector, then inside the code protection of
//     the first TB — printed from glassbox's own goroutine stacks.
//   - seed-001-hang.gb: the second seed's view — every goroutine of an
//     8-vCPU machine gdb-style (seven vCPUs parked at a guest HLT), then
//     `analyze hang` doing the analysis that seed left as TODO. Run it with
//     -smp 8 -kernel smp.elf (guests/smp).
//   - crash-pagefault.gb: guests/crash dereferences an unmapped pointer three
//     calls deep with no IDT; the script runs to the triple fault, asserts
//     CR2 and the stop, and prints `report crash`. Run with -kernel crash.elf.
//   - boot-then-inspect.gb: run the demo to an interesting point and look
//     at registers, page walk, TLB, TBs and dirty bits.
package scripts
