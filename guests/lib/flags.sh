# Shared compiler flags for the multiboot guests; sourced by their build.sh.
# -mgeneral-regs-only: no x87/MMX/SSE code; -fno-tree-loop-distribute-patterns:
# don't turn our memset/memcpy loops into calls to themselves.
LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GUESTS="$(cd "$LIB/.." && pwd)"
CC=${CC:-gcc}
CFLAGS="-m32 -march=i686 -mgeneral-regs-only -ffreestanding -fno-pic -fno-pie -nostdlib -static -no-pie
 -O2 -g -Wall -Wextra -Wno-unused-parameter -fno-stack-protector -fcf-protection=none
 -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns -fno-builtin
 -ffile-prefix-map=$GUESTS=guests -I$LIB"
LDFLAGS="-Wl,-T,$LIB/link.ld -Wl,--build-id=none -Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments"
LIBSRC="$LIB/mbentry.S $LIB/traps.S $LIB/lib.c $LIB/desc.c"

# mb_build OUTDIR NAME SRC...: compile the library and SRC... one by one into
# OUTDIR/NAME.obj/ (stable object names keep the ELF byte-for-byte
# reproducible) and link OUTDIR/NAME.elf.
mb_build() {
	local out=$1 name=$2
	shift 2
	local objdir="$out/$name.obj" objs=() src obj
	mkdir -p "$objdir"
	for src in $LIBSRC "$@"; do
		obj="$objdir/$(basename "$src").o"
		$CC $CFLAGS -c -o "$obj" "$src"
		objs+=("$obj")
	done
	$CC $CFLAGS $LDFLAGS -o "$out/$name.elf" "${objs[@]}"
}
