#!/bin/bash
# Build smp.elf (multiboot v1 ELF32 kernel) into $1, with guests/lib.
set -eu
cd "$(dirname "$0")"
source ../lib/flags.sh
mb_build "$1" smp smp.c trampoline.S
