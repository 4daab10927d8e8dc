#!/bin/bash
# Build longmode64.elf into $1: a multiboot v1 ELF32 image whose code is
# mostly 64-bit. Everything is compiled/assembled as x86-64 objects (boot.S
# holds the .code32 multiboot entry), linked at 1 MiB as ELF64, and then
# converted with objcopy -O elf32-i386, because QEMU's -kernel multiboot
# loader rejects ELF64 files. All addresses are below 4 GiB, so nothing is
# lost in the conversion. -mgeneral-regs-only keeps SSE/x87 out of the code;
# -mno-red-zone lets interrupts (and inline-asm PUSH/POP) use the stack
# below RSP safely.
set -eu
cd "$(dirname "$0")"
out=$1
SRC="$(pwd)"
GUESTS="$(cd .. && pwd)"
CC=${CC:-gcc}
CFLAGS="-m64 -mcmodel=small -mno-red-zone -mgeneral-regs-only -ffreestanding -fno-pic -fno-pie -nostdlib
 -static -no-pie -O2 -g -Wall -Wextra -Wno-unused-parameter -fno-stack-protector -fcf-protection=none
 -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns -fno-builtin -fno-jump-tables
 -ffile-prefix-map=$GUESTS=guests -I$SRC"
objdir="$out/longmode64.obj"
mkdir -p "$objdir"
objs=()
for src in boot.S sys.S lib64.c longmode64.c; do
	obj="$objdir/$src.o"
	$CC $CFLAGS -c -o "$obj" "$SRC/$src"
	objs+=("$obj")
done
ld -m elf_x86_64 -nostdlib -static -T "$SRC/link.ld" --build-id=none -z max-page-size=0x1000 \
	-z noexecstack --no-warn-rwx-segments -o "$objdir/longmode64.elf64" "${objs[@]}"
objcopy -I elf64-x86-64 -O elf32-i386 "$objdir/longmode64.elf64" "$out/longmode64.elf"
