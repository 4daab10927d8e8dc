#!/bin/sh
# Regenerate the reference dumps (needs gcc with -m32 and qemu-system-x86_64).
set -e
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
here=$(cd "$(dirname "$0")" && pwd)
cd "$d"
cc="gcc -m32 -ffreestanding -nostdlib -static -fno-pic -no-pie -O1 -Wl,--build-id=none -Wl,-Ttext=0x100000"
$cc -Wl,-N -o kn.elf "$here/entry.S" "$here/main.c"
$cc -DMBFLAGS=0x10003 -o kk.elf "$here/entry.S" "$here/main.c"
objcopy -O binary kk.elf kk.bin
printf 'MODULE1-DATA' > mod1.bin
python3 -c "import sys; sys.stdout.buffer.write(bytes(i%251 for i in range(5000)))" > mod2.bin
printf 'third' > mod3.bin
q() { out=$1; shift
  timeout 60 qemu-system-x86_64 -display none -serial stdio -monitor none -cpu qemu32 \
    -device isa-debug-exit,iobase=0xf4,iosize=4 "$@" > "$here/$out" 2>&1 || true; }
q 128M_mods.txt -kernel kn.elf -m 128 -initrd "mod1.bin arg1 arg2,mod2.bin,mod3.bin x" -append "hello world"
q 16M.txt -kernel kn.elf -m 16
q 5G.txt -kernel kn.elf -m 5G -append "a  b"
q 3584M.txt -kernel kn.elf -m 3584 -initrd mod3.bin
q kludge_128M.txt -kernel kk.bin -m 128 -initrd "mod1.bin m" -append "x=1"
