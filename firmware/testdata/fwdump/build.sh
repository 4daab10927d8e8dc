#!/bin/bash
# Build fwdump.elf (multiboot v1 ELF32 kernel) into $1 with the repository's
# guest library (guests/lib). Needs gcc, as, ld.
set -eu
cd "$(dirname "$0")"
source ../../../guests/lib/flags.sh
mb_build "$1" fwdump fwdump.c
