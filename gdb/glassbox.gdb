# glassbox.gdb: gdb helpers for debugging glassbox guests.
#
#   glassbox run -kernel K -s -S &
#   gdb -x gdb/glassbox.gdb -ex 'file K' -ex 'target remote :1234'
#
# (or `source gdb/glassbox.gdb` from a gdb session or your .gdbinit).
#
# What it does: on every stop (hook-stop) it makes gdb's disassembler follow
# the CPU mode, read from $mode_bits, a read-only register of the glassbox
# stub (16 in real, virtual-8086 and 16-bit protected mode; 32; 64):
#   16 -> set architecture i8086     32 -> set architecture i386
# gdb prints "The target architecture is set to ..." when it switches.
#
# Limits (gdb 13): gdb only switches between architectures compatible with
# the one the stub declared for the connection.
#  - i386 layout (BIOS ROMs, ELF32 kernels): the stub declares i8086 when
#    the CPU is in 16-bit code at connection time, and then both directions
#    work. If the connection started in 32-bit code it declares i386 and gdb
#    ignores i8086; start glassbox with -gdb tcp::1234,arch=i8086 to get
#    both. 64-bit code cannot be shown with this layout: the stub says so
#    on each stop (use -gdb ...,arch=x86-64).
#  - x86-64 layout (ELF64 kernels): gdb cannot leave 64-bit mode; for
#    16/32-bit code use `glassbox-x [N]`, which disassembles N (default 8)
#    instructions at $pc with objdump in the CPU's current mode.
#
# Other commands:
#   glassbox-sync-arch   do now what hook-stop does
#   glassbox-mode        show the CPU mode (monitor info mode)
#   glassbox-regs        monitor info registers (with CS:IP and the linear PC)
#
# Connected to something other than glassbox ($mode_bits does not exist),
# the hook does nothing.

set osabi none
set $_glassbox_bits = 0

define glassbox-sync-arch
  # $_thread is 0 when there is nothing to look at (not connected, exited)
  if $_thread != 0
    if !$_isvoid($mode_bits)
      if $_isvoid($rip)
        if $mode_bits == 16 && $_glassbox_bits != 16
          set architecture i8086
          set $_glassbox_bits = 16
        end
        if $mode_bits == 32 && $_glassbox_bits != 32
          set architecture i386
          set $_glassbox_bits = 32
        end
      else
        if $mode_bits != 64 && $_glassbox_bits != $mode_bits
          printf "glassbox: the CPU runs %d-bit code; gdb keeps disassembling as 64-bit with the x86-64 layout: use glassbox-x\n", $mode_bits
        end
        set $_glassbox_bits = $mode_bits
      end
    end
  end
end
document glassbox-sync-arch
Switch gdb's architecture (i8086 / i386) to the CPU's current mode.
end

define hook-stop
  glassbox-sync-arch
end

define glassbox-x
  if $argc == 0
    set $_glassbox_n = 8
  else
    set $_glassbox_n = $arg0
  end
  dump binary memory /tmp/glassbox-x.bin $pc $pc+16*$_glassbox_n
  if $mode_bits == 16
    eval "shell objdump -D -b binary -m i8086 --adjust-vma=%#llx /tmp/glassbox-x.bin | sed -n '8,$p' | head -n %d", (unsigned long long)$pc, $_glassbox_n
  end
  if $mode_bits == 32
    eval "shell objdump -D -b binary -m i386 --adjust-vma=%#llx /tmp/glassbox-x.bin | sed -n '8,$p' | head -n %d", (unsigned long long)$pc, $_glassbox_n
  end
  if $mode_bits == 64
    eval "shell objdump -D -b binary -m i386:x86-64 --adjust-vma=%#llx /tmp/glassbox-x.bin | sed -n '8,$p' | head -n %d", (unsigned long long)$pc, $_glassbox_n
  end
end
document glassbox-x
glassbox-x [N]: disassemble N instructions (default 8) at $pc in the CPU's
current mode (16, 32 or 64-bit) with objdump.
end

define glassbox-mode
  monitor info mode
end
document glassbox-mode
Show the mode of the current vCPU (real, v8086, protected16, protected32, ...).
end

define glassbox-regs
  monitor info registers
end
document glassbox-regs
Show all registers of the current vCPU, with CS:IP and the linear PC.
end
