#!/bin/bash
# Build bench.elf (multiboot v1 ELF32 kernel) into $1.
set -eu
cd "$(dirname "$0")"
source ../lib/flags.sh
mb_build "$1" bench bench.c kernels.c
