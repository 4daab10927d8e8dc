#!/bin/bash
# Build dbgregs32.elf (multiboot v1 ELF32 kernel) into $1.
set -eu
cd "$(dirname "$0")"
source ../lib/flags.sh
mb_build "$1" dbgregs32 dbgregs.c
