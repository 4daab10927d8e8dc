#!/bin/sh
# Rebuilds the prebuilt test guests used by the unit and fuzz tests (the gdb
# comparison test builds its own). Run from symbols/testdata.
set -e
CF="-ffreestanding -nostdlib -static -fno-pic -fno-pie -no-pie -fno-stack-protector -g -Wl,--build-id=none"
K32="-m32 -T kernel.ld -Wl,--no-warn-rwx-segments"
gcc $K32 $CF -O1 -o k32-O1.elf boot32.S kernel.c
gcc $K32 $CF -O0 -fno-omit-frame-pointer -fno-asynchronous-unwind-tables -fno-unwind-tables \
	-o k32-O0-nodwarf.elf boot32.S kernel.c
objcopy --strip-debug --remove-section=.eh_frame k32-O0-nodwarf.elf
