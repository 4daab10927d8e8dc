#!/bin/bash
# Build fp32.elf (multiboot v1 ELF32 kernel) into $1. The library is built
# with the shared flags; fp.c (x87 code, gcc's default for -m32) and sse.c
# (-msse2 -mfpmath=sse) are built with floating point allowed.
set -eu
cd "$(dirname "$0")"
source ../lib/flags.sh
out=$1
objdir="$out/fp32.obj"
mkdir -p "$objdir"
objs=()
for src in $LIBSRC; do
	obj="$objdir/$(basename "$src").o"
	$CC $CFLAGS -c -o "$obj" "$src"
	objs+=("$obj")
done
FPFLAGS="${CFLAGS/-mgeneral-regs-only/} -fno-math-errno -ffp-contract=off -fno-strict-aliasing -Wno-strict-aliasing -mstackrealign"
$CC $FPFLAGS -mfpmath=387 -mno-sse -c -o "$objdir/fp.c.o" fp.c
$CC $FPFLAGS -msse2 -mfpmath=sse -c -o "$objdir/sse.c.o" sse.c
objs+=("$objdir/fp.c.o" "$objdir/sse.c.o")
$CC $CFLAGS $LDFLAGS -o "$out/fp32.elf" "${objs[@]}"
