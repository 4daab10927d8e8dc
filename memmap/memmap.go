// Package memmap is the guest's physical address space: RAM, ROM, MMIO
// regions, the 64 KiB port-I/O space, and per-page dirty bitmaps for three
// clients (CODE, MIGRATION, DISPLAY), modelled on QEMU's memory API and its
// DIRTY_MEMORY_* bitmaps.
//
// # Layout rules
//
// Regions are page aligned (4 KiB) and do not overlap unless one has a higher
// priority, in which case it wins where they overlap (like QEMU's subregion
// priority). A physical address that no region covers is "unassigned": reads
// return all ones and writes are dropped, as on a PC bus. Nothing a guest does
// to this package returns a Go error or panics.
//
// # Concurrency
//
// Regions are registered before the machine starts and are read-only after
// [Space.Seal]. RAM contents are plain bytes: vCPUs access them directly
// through their software TLBs (guest memory ordering is the guest's problem,
// exactly as on hardware). The dirty bitmaps use atomic word operations, so
// any goroutine may set, test or clear bits concurrently. Port and MMIO
// handlers are called on the calling vCPU's goroutine; devices that are also
// touched from other goroutines (timers, UART input) lock themselves.
package memmap

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
)

// PhysAddr is a guest-physical address.
type PhysAddr uint64

// Page geometry of the address space (and of the dirty bitmaps).
const (
	PageShift = 12
	PageSize  = 1 << PageShift
	PageMask  = PageSize - 1
)

// Client names one dirty-bitmap client, as QEMU's DIRTY_MEMORY_* do.
type Client int

const (
	// ClientCode: a clear bit means the page holds translated code and is
	// write-protected for code (stores must take the slow path and
	// invalidate translation blocks). QEMU: DIRTY_MEMORY_CODE.
	ClientCode Client = iota
	// ClientMigration: set by every guest store since the last clear.
	ClientMigration
	// ClientDisplay: set by every guest store since the last clear.
	ClientDisplay
	NumClients
)

var clientNames = [NumClients]string{"code", "migration", "display"}

func (c Client) String() string {
	if c >= 0 && c < NumClients {
		return clientNames[c]
	}
	return fmt.Sprintf("client(%d)", int(c))
}

// ParseClient maps "code", "migration" or "display" to a Client.
func ParseClient(s string) (Client, error) {
	for i, n := range clientNames {
		if strings.EqualFold(s, n) {
			return Client(i), nil
		}
	}
	return 0, fmt.Errorf("unknown dirty client %q (want code, migration or display)", s)
}

// Kind is what backs a region.
type Kind int

const (
	KindRAM Kind = iota
	KindROM
	KindMMIO
)

func (k Kind) String() string {
	switch k {
	case KindRAM:
		return "ram"
	case KindROM:
		return "rom"
	case KindMMIO:
		return "i/o"
	}
	return "?"
}

// MMIO is a memory-mapped device. off is relative to the region start;
// size is 1, 2, 4 or 8. Handlers must not panic on any offset or size.
type MMIO interface {
	ReadMMIO(off uint64, size int) uint64
	WriteMMIO(off uint64, size int, v uint64)
}

// PortIO is a port-mapped device. size is 1, 2 or 4.
type PortIO interface {
	In(port uint16, size int) uint32
	Out(port uint16, size int, v uint32)
}

// Region is one entry of the physical memory map.
type Region struct {
	Name     string
	Start    PhysAddr
	Size     uint64
	Kind     Kind
	Priority int
	// Host backs RAM and ROM regions (len == Size). Aliases of the same
	// ROM share the same backing array.
	Host []byte
	// Dev handles MMIO regions.
	Dev MMIO
}

// End is one past the last byte of the region.
func (r *Region) End() PhysAddr { return r.Start + PhysAddr(r.Size) }

// Space is a guest physical address space plus the port-I/O space.
type Space struct {
	regions []*Region // sorted by priority (high first), then start
	sealed  bool

	// dirty bitmaps: one bit per page for every page below bitmapLimit.
	dirty       [NumClients][]uint64
	bitmapLimit PhysAddr

	ports    [65536]uint16 // index into portDevs; 0 = unassigned
	portDevs []portEntry

	stats Stats
}

type portEntry struct {
	name  string
	start uint16
	count int
	dev   PortIO
}

// Stats counts slow-path traffic through the space.
type Stats struct {
	UnassignedReads  atomic.Uint64
	UnassignedWrites atomic.Uint64
	ROMWrites        atomic.Uint64
	MMIOReads        atomic.Uint64
	MMIOWrites       atomic.Uint64
	PortReads        atomic.Uint64
	PortWrites       atomic.Uint64
}

// New returns an empty space whose dirty bitmaps cover physical addresses
// below limit (rounded up to a page). Pages at or above limit report as
// always dirty and can never be code-protected.
func New(limit PhysAddr) *Space {
	s := &Space{}
	pages := (uint64(limit) + PageMask) >> PageShift
	s.bitmapLimit = PhysAddr(pages << PageShift)
	words := (pages + 63) / 64
	for c := range s.dirty {
		s.dirty[c] = make([]uint64, words)
		// Everything starts dirty for every client, as in QEMU.
		for i := range s.dirty[c] {
			s.dirty[c][i] = ^uint64(0)
		}
	}
	s.portDevs = []portEntry{{name: "unassigned"}}
	return s
}

// AddRAM maps len(host) bytes of RAM at start. host may be a sub-slice of a
// larger block (e.g. RAM above 4 GiB continuing the block below the hole).
func (s *Space) AddRAM(name string, start PhysAddr, host []byte) *Region {
	return s.add(&Region{Name: name, Start: start, Size: uint64(len(host)), Kind: KindRAM, Host: host})
}

// AddROM maps read-only bytes at start. Guest writes are ignored.
func (s *Space) AddROM(name string, start PhysAddr, host []byte, priority int) *Region {
	return s.add(&Region{Name: name, Start: start, Size: uint64(len(host)), Kind: KindROM, Host: host, Priority: priority})
}

// AddMMIO maps a device at [start, start+size).
func (s *Space) AddMMIO(name string, start PhysAddr, size uint64, dev MMIO, priority int) *Region {
	return s.add(&Region{Name: name, Start: start, Size: size, Kind: KindMMIO, Dev: dev, Priority: priority})
}

func (s *Space) add(r *Region) *Region {
	if s.sealed {
		panic("BUG: memmap: region added after Seal")
	}
	if r.Start&PageMask != 0 || r.Size&PageMask != 0 || r.Size == 0 {
		panic(fmt.Sprintf("BUG: memmap: region %q [%#x,+%#x) is not page aligned", r.Name, r.Start, r.Size))
	}
	s.regions = append(s.regions, r)
	sort.SliceStable(s.regions, func(i, j int) bool {
		if s.regions[i].Priority != s.regions[j].Priority {
			return s.regions[i].Priority > s.regions[j].Priority
		}
		return s.regions[i].Start < s.regions[j].Start
	})
	return r
}

// AddPorts maps count ports starting at start to dev. Later mappings win.
func (s *Space) AddPorts(name string, start uint16, count int, dev PortIO) {
	if count <= 0 || int(start)+count > 65536 {
		panic(fmt.Sprintf("BUG: memmap: bad port range %q %#x+%d", name, start, count))
	}
	s.portDevs = append(s.portDevs, portEntry{name: name, start: start, count: count, dev: dev})
	idx := uint16(len(s.portDevs) - 1)
	for p := 0; p < count; p++ {
		s.ports[int(start)+p] = idx
	}
}

// Seal freezes the region list. Call it before any vCPU runs.
func (s *Space) Seal() { s.sealed = true }

// Regions returns the regions, highest priority first.
func (s *Space) Regions() []*Region { return s.regions }

// Stats returns the space's counters.
func (s *Space) Stats() *Stats { return &s.stats }

// Find returns the region that owns pa, or nil when pa is unassigned.
func (s *Space) Find(pa PhysAddr) *Region {
	for _, r := range s.regions {
		if pa >= r.Start && pa < r.End() {
			return r
		}
	}
	return nil
}

// Page describes what backs one physical page, for TLB fills.
type Page struct {
	// Host is the 4 KiB backing of a RAM or ROM page, nil otherwise.
	Host     []byte
	ReadOnly bool    // ROM: stores are dropped
	Region   *Region // nil when unassigned
}

// LookupPage returns what backs the page containing pa.
func (s *Space) LookupPage(pa PhysAddr) Page {
	r := s.Find(pa)
	if r == nil {
		return Page{}
	}
	switch r.Kind {
	case KindRAM, KindROM:
		off := uint64(pa&^PageMask - r.Start)
		return Page{Host: r.Host[off : off+PageSize : off+PageSize], ReadOnly: r.Kind == KindROM, Region: r}
	}
	return Page{Region: r}
}

// Read performs a guest load of size bytes (1, 2, 4 or 8) at pa. An access
// that crosses a region boundary is split into bytes.
func (s *Space) Read(pa PhysAddr, size int) uint64 {
	r := s.Find(pa)
	if r == nil || pa+PhysAddr(size) > r.End() {
		if r == nil && (size == 1 || s.Find(pa+PhysAddr(size)-1) == nil) {
			s.stats.UnassignedReads.Add(1)
			return ones(size)
		}
		var v uint64
		for i := 0; i < size; i++ {
			v |= s.Read(pa+PhysAddr(i), 1) << (8 * i)
		}
		return v
	}
	off := uint64(pa - r.Start)
	switch r.Kind {
	case KindMMIO:
		s.stats.MMIOReads.Add(1)
		return r.Dev.ReadMMIO(off, size)
	default:
		return loadLE(r.Host[off:], size)
	}
}

// Write performs a guest store of size bytes at pa. RAM stores mark the
// MIGRATION and DISPLAY dirty bits. The caller handles the CODE client (it
// must invalidate translated code first; see the cpu package).
func (s *Space) Write(pa PhysAddr, size int, v uint64) {
	r := s.Find(pa)
	if r == nil || pa+PhysAddr(size) > r.End() {
		if r == nil && (size == 1 || s.Find(pa+PhysAddr(size)-1) == nil) {
			s.stats.UnassignedWrites.Add(1)
			return
		}
		for i := 0; i < size; i++ {
			s.Write(pa+PhysAddr(i), 1, v>>(8*i))
		}
		return
	}
	off := uint64(pa - r.Start)
	switch r.Kind {
	case KindMMIO:
		s.stats.MMIOWrites.Add(1)
		r.Dev.WriteMMIO(off, size, v)
	case KindROM:
		s.stats.ROMWrites.Add(1)
	default:
		storeLE(r.Host[off:], size, v)
		s.MarkWritten(pa, uint64(size))
	}
}

// ReadDebug copies guest-physical memory into buf without side effects:
// RAM and ROM are copied, MMIO and unassigned bytes read as 0xFF. It returns
// the number of bytes that were backed by RAM or ROM.
func (s *Space) ReadDebug(pa PhysAddr, buf []byte) int {
	n := 0
	for i := range buf {
		a := pa + PhysAddr(i)
		r := s.Find(a)
		if r == nil || r.Kind == KindMMIO {
			buf[i] = 0xFF
			continue
		}
		buf[i] = r.Host[a-r.Start]
		n++
	}
	return n
}

// WriteDebug stores buf into RAM (and, unlike a guest store, into ROM too:
// loaders and debuggers patch ROM images). Bytes that land on MMIO or
// unassigned addresses are skipped. It returns the number written and marks
// the written pages dirty for every client except CODE, which the caller
// must handle (invalidate translated code).
func (s *Space) WriteDebug(pa PhysAddr, buf []byte) int {
	n := 0
	for i := 0; i < len(buf); {
		a := pa + PhysAddr(i)
		r := s.Find(a)
		if r == nil || r.Kind == KindMMIO {
			i++
			continue
		}
		c := copy(r.Host[a-r.Start:], buf[i:])
		s.MarkWritten(a, uint64(c))
		n += c
		i += c
	}
	return n
}

// In reads from an I/O port. Unassigned ports read as all ones.
func (s *Space) In(port uint16, size int) uint32 {
	s.stats.PortReads.Add(1)
	e := &s.portDevs[s.ports[port]]
	if e.dev == nil {
		return uint32(ones(size))
	}
	return e.dev.In(port, size)
}

// Out writes to an I/O port. Writes to unassigned ports are dropped.
func (s *Space) Out(port uint16, size int, v uint32) {
	s.stats.PortWrites.Add(1)
	e := &s.portDevs[s.ports[port]]
	if e.dev != nil {
		e.dev.Out(port, size, v&uint32(ones(size)))
	}
}

// PortName names the device at port ("unassigned" when none).
func (s *Space) PortName(port uint16) string { return s.portDevs[s.ports[port]].name }

func ones(size int) uint64 {
	if size >= 8 {
		return ^uint64(0)
	}
	return 1<<(8*uint(size)) - 1
}

func loadLE(b []byte, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	default:
		return binary.LittleEndian.Uint64(b)
	}
}

func storeLE(b []byte, size int, v uint64) {
	switch size {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, v)
	}
}

// WriteMtree prints the memory map like QEMU's `info mtree`, highest
// priority first, followed by the I/O port map.
func (s *Space) WriteMtree(w io.Writer) {
	fmt.Fprintln(w, "address-space: memory")
	rs := append([]*Region(nil), s.regions...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Start < rs[j].Start })
	for _, r := range rs {
		fmt.Fprintf(w, "  %016x-%016x (prio %d, %s): %s\n", uint64(r.Start), uint64(r.End())-1, r.Priority, r.Kind, r.Name)
	}
	fmt.Fprintln(w, "address-space: I/O")
	for i := 0; i < 65536; {
		idx := s.ports[i]
		j := i
		for j < 65536 && s.ports[j] == idx {
			j++
		}
		if idx != 0 {
			fmt.Fprintf(w, "  %04x-%04x (i/o): %s\n", i, j-1, s.portDevs[idx].name)
		}
		i = j
	}
}
