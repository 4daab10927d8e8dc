#!/bin/bash
# compare.sh: time the benchmark guest (guests/bench) under glassbox and,
# when installed, under QEMU TCG, side by side.
#
#   bench/compare.sh [-n WORK] [-r RUNS] [-g GLASSBOX_BINARY]
#
# Builds glassbox (go build, not go run) and the guest into a temporary
# directory, then runs the same kernel with the same -append "n=WORK" RUNS
# times under each emulator, alternating glassbox and QEMU so both see the
# same machine load; where /usr/bin/time exists it also reports CPU time
# (user+sys), which other jobs on a shared machine disturb less. -g uses a prebuilt glassbox binary (e.g. an older
# build, for before/after numbers) instead of building this tree. Each run must exit with status 1 (the guest wrote 0 to
# isa-debug-exit) and print the same checksums. Prints the median wall time
# of each and the ratio glassbox/QEMU.
set -eu
work=20
runs=5
gb=
while getopts "n:r:g:" o; do
	case $o in
	n) work=$OPTARG ;;
	r) runs=$OPTARG ;;
	g) gb=$(realpath "$OPTARG") ;;
	*) echo "usage: $0 [-n WORK] [-r RUNS] [-g GLASSBOX_BINARY]" >&2; exit 2 ;;
	esac
done
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [ -n "$gb" ]; then
	cp "$gb" "$tmp/glassbox"
else
	(cd "$root" && go build -o "$tmp/glassbox" ./cmd/glassbox)
fi
bash "$root/guests/bench/build.sh" "$tmp" >/dev/null
img="$tmp/bench.elf"

qemu=$(command -v qemu-system-x86_64 || true)

now() { date +%s.%N; }

# run NAME CMD...: runs CMD, checks status 1, records the wall time.
run() {
	local name=$1 t0 t1 st=0
	shift
	t0=$(now)
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -o "$tmp/$name.cpu1" -f "%U %S" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || st=$?
		tail -1 "$tmp/$name.cpu1" | awk '{printf "%.4f\n", $1 + $2}' >>"$tmp/$name.cpu"
	else
		"$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || st=$?
	fi
	t1=$(now)
	if [ "$st" != 1 ]; then
		echo "$name: exit status $st, want 1" >&2
		cat "$tmp/$name.err" >&2
		exit 1
	fi
	if [ -s "$tmp/ref.out" ]; then
		cmp -s "$tmp/ref.out" "$tmp/$name.out" || { echo "$name: output differs:" >&2; diff "$tmp/ref.out" "$tmp/$name.out" >&2; exit 1; }
	else
		cp "$tmp/$name.out" "$tmp/ref.out"
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f\n", b - a}' >>"$tmp/$name.times"
}

median() { sort -g "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

for ((i = 0; i < runs; i++)); do
	run glassbox "$tmp/glassbox" run -m 128 -serial stdio -kernel "$img" -append "n=$work"
	if [ -n "$qemu" ]; then
		run qemu "$qemu" -machine pc -accel tcg -nodefaults -display none -no-reboot \
			-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
			-m 128 -kernel "$img" -append "n=$work"
	fi
done

echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine:  $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "guest:    guests/bench -append n=$work, $runs runs each, alternating"
echo "checksums: $(grep -cE '^[a-z0-9]+: [0-9a-f]{8}$' "$tmp/ref.out") kernels, identical in every run"
cpu() { [ -s "$tmp/$1.cpu" ] && printf ', CPU (user+sys) median %.3f s' "$(median "$tmp/$1.cpu")"; }
g=$(median "$tmp/glassbox.times")
printf 'glassbox: wall median %.3f s  (runs: %s)%s\n' "$g" "$(sort -g "$tmp/glassbox.times" | xargs printf '%.3f ')" "$(cpu glassbox)"
if [ -n "$qemu" ]; then
	q=$(median "$tmp/qemu.times")
	printf 'qemu tcg: wall median %.3f s  (runs: %s)%s\n' "$q" "$(sort -g "$tmp/qemu.times" | xargs printf '%.3f ')" "$(cpu qemu)"
	echo "qemu:     $($qemu --version | head -1)"
	printf 'ratio glassbox/qemu (wall): %.2f\n' "$(awk -v g="$g" -v q="$q" 'BEGIN {print g / q}')"
	if [ -s "$tmp/glassbox.cpu" ] && [ -s "$tmp/qemu.cpu" ]; then
		printf 'ratio glassbox/qemu (CPU):  %.2f\n' "$(awk -v g="$(median "$tmp/glassbox.cpu")" -v q="$(median "$tmp/qemu.cpu")" 'BEGIN {print g / q}')"
	fi
else
	echo "qemu-system-x86_64 not installed: glassbox only"
fi
