#!/bin/bash
# Build tasks16.elf (multiboot v1 ELF32 kernel) into $1.
set -eu
cd "$(dirname "$0")"
source ../lib/flags.sh
mb_build "$1" tasks16 tasks16.c
