package gdbstub

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strings"

	"glassbox/target"
)

// The memory map (qXfer:memory-map:read).
//
// m/M/X work on LINEAR addresses, while the machine's memory map is
// physical. The map is therefore built from the physical map (parsed from
// target.Mtree) as follows: ROM regions become "rom" (gdb then uses
// hardware breakpoints there and does not write to them), and everything
// else, including RAM, MMIO and addresses only a paging guest maps, is
// "ram". Reporting gaps as inaccessible would make gdb refuse the
// linear addresses of a higher-half kernel; unmapped linear addresses are
// still refused by the stub itself (E14).

type mapRegion struct {
	start, end uint64 // [start, end)
	prio       int
	kind       string
}

// physRegions parses the "address-space: memory" part of Mtree output.
func physRegions(t *target.Target) []mapRegion {
	var buf bytes.Buffer
	t.Mtree(&buf)
	var out []mapRegion
	sc := bufio.NewScanner(&buf)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "address-space:") {
			in = strings.TrimSpace(strings.TrimPrefix(line, "address-space:")) == "memory"
			continue
		}
		if !in {
			continue
		}
		var start, last uint64
		var prio int
		var kind string
		// "  %016x-%016x (prio %d, %s): %s"
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "%x-%x (prio %d, %s", &start, &last, &prio, &kind); err != nil {
			continue
		}
		kind = strings.TrimRight(kind, "):")
		out = append(out, mapRegion{start: start, end: last + 1, prio: prio, kind: kind})
	}
	return out
}

// flatten resolves overlapping regions by priority (the later of equal
// priority wins, as in memmap) into sorted, non-overlapping pieces.
func flatten(rs []mapRegion) []mapRegion {
	var pts []uint64
	for _, r := range rs {
		pts = append(pts, r.start, r.end)
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i] < pts[j] })
	var out []mapRegion
	for i := 0; i+1 < len(pts); i++ {
		a, b := pts[i], pts[i+1]
		if a == b {
			continue
		}
		best := -1
		for k, r := range rs {
			if r.start <= a && b <= r.end && (best < 0 || r.prio >= rs[best].prio) {
				best = k
			}
		}
		if best < 0 {
			continue
		}
		kind := rs[best].kind
		if n := len(out); n > 0 && out[n-1].end == a && out[n-1].kind == kind {
			out[n-1].end = b
			continue
		}
		out = append(out, mapRegion{start: a, end: b, kind: kind})
	}
	return out
}

// memoryMap is the XML memory map covering the whole linear address space
// (4 GiB for the i386 layout, 2^64-1 bytes for x86-64).
func memoryMap(t *target.Target, wide bool) string {
	limit := uint64(1) << 32
	if wide {
		limit = ^uint64(0) // the map's last byte is not representable; lose it
	}
	var roms []mapRegion
	for _, r := range flatten(physRegions(t)) {
		if r.kind == "rom" && r.start < limit {
			if r.end > limit {
				r.end = limit
			}
			roms = append(roms, r)
		}
	}
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\"?>\n<!DOCTYPE memory-map PUBLIC \"+//IDN gnu.org//DTD GDB Memory Map V1.0//EN\" \"http://sourceware.org/gdb/gdb-memory-map.dtd\">\n<memory-map>\n")
	pos := uint64(0)
	emit := func(kind string, a, e uint64) {
		if e > a {
			fmt.Fprintf(&b, "  <memory type=%q start=\"%#x\" length=\"%#x\"/>\n", kind, a, e-a)
		}
	}
	for _, r := range roms {
		emit("ram", pos, r.start)
		emit("rom", r.start, r.end)
		pos = r.end
	}
	emit("ram", pos, limit)
	b.WriteString("</memory-map>\n")
	return b.String()
}
