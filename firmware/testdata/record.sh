#!/bin/bash
# Rebuild the oracle kernel testdata/fwdump.elf from fwdump/fwdump.c and
# record QEMU's output for every configuration of oracle_test.go into
# testdata/qemu_<name>.txt. Needs gcc (see fwdump/build.sh) and
# qemu-system-x86_64.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$here/fwdump/build.sh" "$tmp"
# Debug sections are dropped; the loaded segments are unchanged.
strip --strip-debug -o "$here/fwdump.elf" "$tmp/fwdump.elf"
cd "$here/../.."
go test ./firmware -run '^TestQEMUOracle$' -count=1 -update
