#!/bin/bash
# Build realmode.rom (raw 64 KiB BIOS image) into $1 with GNU as, ld and objcopy.
set -eu
cd "$(dirname "$0")"
out=$1
as --32 -o "$out/realmode.o" realmode.S
ld -m elf_i386 -T rom.ld --build-id=none -o "$out/realmode.elf" "$out/realmode.o"
objcopy -O binary --gap-fill=0xff "$out/realmode.elf" "$out/realmode.rom"
size=$(stat -c %s "$out/realmode.rom")
[ "$size" = 65536 ] || { echo "realmode.rom is $size bytes, want 65536" >&2; exit 1; }
