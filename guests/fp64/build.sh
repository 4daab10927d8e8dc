#!/bin/bash
# Build fp64.elf into $1: a multiboot v1 ELF32 image whose code is 64-bit
# (linked as ELF64 at 1 MiB and converted with objcopy, as longmode64 is).
# kernels.c is compiled with gcc -O2 for the default x86-64 target, so
# float/double use SSE2 and long double the x87; the support code (boot,
# serial, printf) is -mgeneral-regs-only. The ELF64 is kept as
# fp64.obj/fp64.elf64 for the instruction-mix test (objdump).
set -eu
cd "$(dirname "$0")"
out=$1
SRC="$(pwd)"
GUESTS="$(cd .. && pwd)"
LM="$GUESTS/longmode64"
CC=${CC:-gcc}
BASEFLAGS="-m64 -mcmodel=small -mno-red-zone -ffreestanding -fno-pic -fno-pie -nostdlib
 -static -no-pie -O2 -g -Wall -Wextra -Wno-unused-parameter -fno-stack-protector -fcf-protection=none
 -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns -fno-builtin -fno-jump-tables
 -ffile-prefix-map=$GUESTS=guests -I$SRC -I$LM"
# -fno-math-errno lets __builtin_sqrt/sqrtl/lrint become SQRTSD/FSQRT/CVTSD2SI
# without a libm fallback; the host build uses it too.
FPFLAGS="-fno-math-errno"
objdir="$out/fp64.obj"
mkdir -p "$objdir"
$CC $BASEFLAGS -c -o "$objdir/boot.S.o" boot.S
$CC $BASEFLAGS -mgeneral-regs-only -c -o "$objdir/lib64.c.o" "$LM/lib64.c"
$CC $BASEFLAGS -mgeneral-regs-only -c -o "$objdir/fp64.c.o" fp64.c
$CC $BASEFLAGS $FPFLAGS -c -o "$objdir/kernels.c.o" kernels.c
ld -m elf_x86_64 -nostdlib -static -T "$SRC/link.ld" --build-id=none -z max-page-size=0x1000 \
	-z noexecstack --no-warn-rwx-segments -o "$objdir/fp64.elf64" \
	"$objdir/boot.S.o" "$objdir/lib64.c.o" "$objdir/fp64.c.o" "$objdir/kernels.c.o"
objcopy -I elf64-x86-64 -O elf32-i386 "$objdir/fp64.elf64" "$out/fp64.elf"
