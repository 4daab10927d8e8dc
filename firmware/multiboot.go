package firmware

import (
	"encoding/binary"
	"fmt"
	"strings"

	"glassbox/loader"
	"glassbox/memmap"
)

// MultibootFromImage rebuilds, from guest memory right after
// loader.LoadKernelOpts and before any code runs, the fw_cfg items QEMU's
// multiboot loader provides (FW_CFG_KERNEL_DATA, key 0x11, and friends):
//
//   - KERNEL_ADDR is the lowest address of the kernel image (the ELF's
//     lowest PT_LOAD p_paddr, or the a.out kludge load_addr), KERNEL_ENTRY
//     the entry point;
//   - KERNEL_DATA is memory from there up to the page-aligned end of
//     everything the loader placed after the kernel (module list, command
//     lines, loader name "qemu", modules): QEMU's mb_buf. QEMU leaves the
//     tail of the page after the strings uninitialised (heap garbage); ours
//     is zero;
//   - INITRD_ADDR is 0x9500 and INITRD_DATA the 88-byte multiboot
//     information with mem_lower, mem_upper and mmap_length zero, as QEMU
//     builds it before its option ROM fills them in.
//
// It returns nil, nil for images that are not multiboot kernels (QEMU has
// no such items for them).
func MultibootFromImage(s *memmap.Space, im *loader.Image) (*Multiboot, error) {
	if s == nil || im == nil || im.Kind != loader.KindMultiboot {
		return nil, nil
	}
	le := binary.LittleEndian
	info := make([]byte, loader.InfoSize)
	if n := s.ReadDebug(memmap.PhysAddr(im.InfoAddr), info); n != len(info) {
		return nil, fmt.Errorf("firmware: multiboot information at %#x is not in RAM", im.InfoAddr)
	}
	low := uint64(1<<64 - 1)
	for _, r := range im.Regions {
		if strings.HasPrefix(r.Name, "kernel ") && !strings.HasPrefix(r.Name, "kernel bss") && r.Start < low {
			low = r.Start
		}
	}
	if low == 1<<64-1 {
		return nil, fmt.Errorf("firmware: the image lists no kernel region")
	}
	// The end: the loader name is the last string after the kernel, the
	// modules follow page aligned.
	name := uint64(le.Uint32(info[64:]))
	end := pageAlign(name + uint64(len(loader.BootLoaderName)) + 1)
	mods, modsAddr := le.Uint32(info[20:]), uint64(le.Uint32(info[24:]))
	if mods > 4096 {
		return nil, fmt.Errorf("firmware: %d multiboot modules", mods)
	}
	for i := uint64(0); i < uint64(mods); i++ {
		var m [16]byte
		s.ReadDebug(memmap.PhysAddr(modsAddr+16*i), m[:])
		if e := pageAlign(uint64(le.Uint32(m[4:]))); e > end {
			end = e
		}
	}
	if end <= low || end-low > 1<<32 {
		return nil, fmt.Errorf("firmware: bad multiboot image extent [%#x, %#x)", low, end)
	}
	img := make([]byte, end-low)
	if n := s.ReadDebug(memmap.PhysAddr(low), img); n != len(img) {
		return nil, fmt.Errorf("firmware: the multiboot image [%#x, %#x) is not all RAM", low, end)
	}
	// QEMU's copy predates the option ROM: mem_lower, mem_upper and
	// mmap_length are still 0 in it.
	for _, off := range []int{4, 8, 44} {
		le.PutUint32(info[off:], 0)
	}
	return &Multiboot{
		Entry:    uint32(im.Entry.RIP),
		LoadAddr: uint32(low),
		Image:    img,
		InfoAddr: uint32(im.InfoAddr),
		Info:     info,
	}, nil
}

func pageAlign(v uint64) uint64 { return (v + memmap.PageMask) &^ memmap.PageMask }
