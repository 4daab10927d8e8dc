#!/bin/bash
# Build demo.rom (raw 64 KiB BIOS image) into $1 with GNU as, ld and objcopy.
set -eu
cd "$(dirname "$0")"
out=$1
as --32 -o "$out/demo.o" demo.S
ld -m elf_i386 -T rom.ld --build-id=none -o "$out/demo.elf" "$out/demo.o"
objcopy -O binary --gap-fill=0xff "$out/demo.elf" "$out/demo.rom"
size=$(stat -c %s "$out/demo.rom")
[ "$size" = 65536 ] || { echo "demo.rom is $size bytes, want 65536" >&2; exit 1; }
