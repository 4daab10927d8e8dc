#!/bin/bash
# pgo.sh: regenerate cmd/glassbox/default.pgo, the CPU profile that `go build`
# uses for profile-guided optimisation of the glassbox binary (Go picks up
# default.pgo in the main package's directory by itself).
#
#   bench/pgo.sh
#
# Builds glassbox without PGO and the guests below, runs them with
# -cpuprofile and merges the profiles: the benchmark guest (guests/bench,
# n=20: integer kernels, the interpreter's dispatch loop, loads and stores,
# TB chaining) and, several times each because they are short, the x87/SSE
# guest, the instruction test guest, the 4-vCPU guest and the long-mode
# guest. Rerun it after larger changes to cpu/ (a stale profile still
# builds; it only optimises less).
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && go build -pgo=off -o "$tmp/glassbox" ./cmd/glassbox)
for g in bench fp32 cputest32 smp longmode64; do
	bash "$root/guests/$g/build.sh" "$tmp" >/dev/null
done
n=0
prof() { # prof ARGS...: one profiled run (exit status 1 is the guests' success)
	n=$((n + 1))
	"$tmp/glassbox" run -m 128 -serial none -cpuprofile "$tmp/p$n.pprof" "$@" >/dev/null 2>&1 || [ $? = 1 ]
}
prof -kernel "$tmp/bench.elf" -append n=20
for i in 1 2 3 4 5; do
	prof -kernel "$tmp/fp32.elf"
	prof -kernel "$tmp/cputest32.elf"
	prof -smp 4 -kernel "$tmp/smp.elf"
	prof -kernel "$tmp/longmode64.elf"
done
(cd "$root" && go tool pprof -proto "$tmp"/p*.pprof >"$tmp/merged.pprof" 2>/dev/null)
cp "$tmp/merged.pprof" "$root/cmd/glassbox/default.pgo"
echo "wrote cmd/glassbox/default.pgo from $n profiles ($(wc -c <"$root/cmd/glassbox/default.pgo") bytes)"
