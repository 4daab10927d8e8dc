package symbols

import (
	"bufio"
	"bytes"
	"debug/dwarf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/go-delve/delve/pkg/dwarf/line"
)

// lineTable is a unit's line table built with gdb's rules (gdb 13
// dwarf2/read.c lnp_state_machine and buildsym.c): rows for line 0 are
// dropped, a file switch ends the previous file's range, and rows at the
// same address keep their is_stmt flag.
type lineTable struct {
	files []string // display names, as gdb shows them
	// names are the file names of the line program by DWARF file index
	// (from 1 before DWARF 5), as the compiler wrote them; display turns
	// one into the name gdb shows.
	names   []string
	display func(string) string
	paths   []string // where to read each file's source
	rows    []lineRow
}

type lineRow struct {
	addr uint64
	line int
	file int
	stmt bool
}

// sal is gdb's "symtab and line" for a pc.
type sal struct {
	ok   bool
	file string
	path string
	line int
	pc   uint64 // start of the row containing the pc
	stmt bool   // that row is a statement boundary
	end  uint64 // start of the next row (0 if unknown)
}

func (cu *cunit) lineTable() *lineTable {
	if cu.linesOK {
		return cu.lines
	}
	cu.linesOK = true
	defer func() {
		if r := recover(); r != nil {
			cu.img.warn("malformed line table in %s (%v)", cu.name, r)
			cu.lines = nil
		}
	}()
	cu.lines = cu.buildLineTable()
	return cu.lines
}

func (cu *cunit) buildLineTable() *lineTable {
	img := cu.img
	if off, ok := cu.entry.Val(dwarf.AttrStmtList).(int64); !ok || !lineHeaderSane(img.lineSec, off) {
		if ok {
			img.warn("line table of %s: malformed header", cu.name)
		}
		return nil
	}
	lr, err := img.dw.LineReader(cu.entry)
	if err != nil || lr == nil {
		if err != nil {
			img.warn("line table of %s: %v", cu.name, err)
		}
		return nil
	}
	// The file names as the compiler wrote them come from delve's line
	// header parser; debug/dwarf joins them with the compilation directory.
	var names []string
	if off, ok := cu.entry.Val(dwarf.AttrStmtList).(int64); ok && off >= 0 && off < int64(len(img.lineSec)) {
		if dbl := line.Parse("", bytes.NewBuffer(img.lineSec[off:]), img.lineStr, nil, 0, false, img.ptrSize); dbl != nil {
			for _, fe := range dbl.FileNames {
				names = append(names, fe.Path)
			}
		}
	}
	lt := &lineTable{}
	subfileOf := map[*dwarf.LineFile]int{}
	byName := map[string]int{}
	primary := cu.name
	// gdb (buildsym's start_subfile) takes a line-table file for the
	// unit's DW_AT_name when the names are equal, or when the file name
	// is absolute and is DW_AT_name joined to DW_AT_comp_dir; a relative
	// file name that merely ends in DW_AT_name (the include directory
	// prepended to it, with a relative comp_dir) stays a file of its own,
	// and gdb prints that longer name.
	primaryAbs := ""
	if !path.IsAbs(primary) && cu.compDir != "" {
		primaryAbs = path.Join(cu.compDir, primary)
	}
	lt.names = names
	lt.display = func(name string) string {
		if name == primary || path.IsAbs(name) && primaryAbs != "" && name == primaryAbs {
			return primary
		}
		return name
	}
	addSubfile := func(name string) int {
		name = lt.display(name)
		if i, ok := byName[name]; ok {
			return i
		}
		p := name
		if !path.IsAbs(p) && cu.compDir != "" {
			p = path.Join(cu.compDir, p)
		}
		lt.files = append(lt.files, name)
		lt.paths = append(lt.paths, p)
		byName[name] = len(lt.files) - 1
		return len(lt.files) - 1
	}
	if primary != "" {
		addSubfile(primary)
	}
	subfile := func(f *dwarf.LineFile) int {
		if i, ok := subfileOf[f]; ok {
			return i
		}
		name := f.Name
		files := lr.Files()
		for i, g := range files {
			if g != f {
				continue
			}
			j := i
			if cu.version < 5 {
				j = i - 1
			}
			if j >= 0 && j < len(names) {
				name = names[j]
			}
			break
		}
		i := addSubfile(name)
		subfileOf[f] = i
		return i
	}

	perFile := map[int][]lineRow{}
	record := func(sf, ln int, addr uint64, stmt bool) {
		v := perFile[sf]
		if ln == 0 {
			last, have := 0, false
			for len(v) > 0 {
				last, have = v[len(v)-1].line, true
				if v[len(v)-1].addr != addr {
					break
				}
				v = v[:len(v)-1]
			}
			perFile[sf] = v
			if !have || last == 0 {
				return
			}
		}
		perFile[sf] = append(v, lineRow{addr: addr, line: ln, file: sf, stmt: stmt})
	}

	var e dwarf.LineEntry
	lastSub, lastLine := -1, 0
	var lastAddr uint64
	stmtAtAddr := false
	nonZeroDisc := false
	prevRowLine := -1
	recording := true
	seqStart := true
	for {
		if err := lr.Next(&e); err != nil {
			if err != io.EOF {
				img.warn("line table of %s: %v", cu.name, err)
			}
			break
		}
		addr := e.Address + img.offset
		if seqStart {
			// gdb drops sequences at address 0 in units that start
			// elsewhere (code removed by the linker).
			recording = !(e.Address == 0 && len(cu.ranges) > 0 && cu.ranges[0][0] > img.offset)
			seqStart = false
		}
		if e.EndSequence {
			if recording && lastSub >= 0 {
				record(lastSub, 0, addr, true)
			}
			lastSub, lastLine, prevRowLine = -1, 0, -1
			seqStart = true
			continue
		}
		if !recording || e.File == nil {
			continue
		}
		if addr != lastAddr {
			stmtAtAddr = false
			lastAddr = addr
		}
		stmtAtAddr = stmtAtAddr || e.IsStmt
		if e.Line != prevRowLine {
			nonZeroDisc = e.Discriminator != 0
		} else if e.Discriminator != 0 {
			nonZeroDisc = true
		}
		prevRowLine = e.Line
		sf := subfile(e.File)
		fileChanged := sf != lastSub
		ignore := (fileChanged && !e.IsStmt && stmtAtAddr) || e.Line == 0
		if fileChanged && !ignore && lastSub >= 0 {
			record(lastSub, 0, addr, true)
		}
		if ignore {
			continue
		}
		if fileChanged || e.Line != lastLine || !nonZeroDisc {
			record(sf, e.Line, addr, e.IsStmt)
		}
		lastSub, lastLine = sf, e.Line
	}
	for sf := 0; sf < len(lt.files); sf++ {
		lt.rows = append(lt.rows, perFile[sf]...)
	}
	sort.SliceStable(lt.rows, func(i, j int) bool {
		a, b := lt.rows[i], lt.rows[j]
		if a.addr == b.addr && (a.line == 0) != (b.line == 0) {
			return a.line == 0
		}
		return a.addr < b.addr
	})
	return lt
}

// fileName returns the display name of the line program's file number i
// (a DW_AT_decl_file or DW_AT_call_file), "" when there is none.
func (lt *lineTable) fileName(i int64, version int) string {
	if version < 5 {
		i--
	}
	if i < 0 || i >= int64(len(lt.names)) || lt.display == nil {
		return ""
	}
	return lt.display(lt.names[i])
}

// find is gdb's find_pc_sect_line on one unit.
func (lt *lineTable) find(pc uint64) sal {
	if lt == nil || len(lt.rows) == 0 {
		return sal{}
	}
	rows := lt.rows
	item := sort.Search(len(rows), func(i int) bool { return rows[i].addr > pc })
	if item == 0 {
		return sal{}
	}
	best := item - 1
	if !rows[best].stmt {
		tmp := best
		for tmp > 0 && rows[tmp-1].addr == rows[tmp].addr && rows[tmp-1].line != 0 && !rows[tmp].stmt {
			tmp--
		}
		if rows[tmp].stmt {
			best = tmp
		}
	}
	if rows[best].line == 0 {
		return sal{}
	}
	s := sal{ok: true, file: lt.files[rows[best].file], path: lt.paths[rows[best].file], line: rows[best].line, pc: rows[best].addr, stmt: rows[best].stmt}
	if item < len(rows) && rows[item].addr > rows[best].addr {
		s.end = rows[item].addr
	}
	return s
}

func (t *Table) findLine(pc uint64) sal {
	cu := t.cuFor(pc)
	if cu == nil {
		return sal{}
	}
	return cu.lineTable().find(pc)
}

// Line returns the source position of addr and the function containing it,
// like gdb's "info line *ADDR".
func (t *Table) Line(addr uint64) (file string, line int, fn string, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.findLine(addr)
	fn, _ = t.funcName(addr)
	return s.file, s.line, fn, s.ok
}

// InfoLine formats gdb's answer to "info line *ADDR", e.g.
// `Line 39 of "kernel.c" starts at address 0x10003d <deep_function+12> and ends at 0x100048 <deep_function+23>.`
func (t *Table) InfoLine(addr uint64) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.findLine(addr)
	if !s.ok {
		return fmt.Sprintf("No line number information available for address %s", t.addrWithSym(addr))
	}
	if s.end == 0 {
		return fmt.Sprintf("Line %d of \"%s\" starts at address %s and contains no code.", s.line, s.file, t.addrWithSym(s.pc))
	}
	return fmt.Sprintf("Line %d of \"%s\" starts at address %s and ends at %s.", s.line, s.file, t.addrWithSym(s.pc), t.addrWithSym(s.end))
}

// SourcePath returns where the source of a file named as in a backtrace
// ("kernel.c") can be read, using the compilation directory.
func (t *Table) SourcePath(file string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var first string
	for _, img := range t.images {
		for _, cu := range img.units {
			lt := cu.lineTable()
			if lt == nil {
				continue
			}
			for i, f := range lt.files {
				if f == file || lt.paths[i] == file || filepath.Base(f) == file && first == "" {
					if _, err := os.Stat(lt.paths[i]); err == nil {
						if f == file || lt.paths[i] == file {
							return lt.paths[i], true
						}
						first = lt.paths[i]
					}
				}
			}
		}
	}
	if first != "" {
		return first, true
	}
	if _, err := os.Stat(file); err == nil {
		return file, true
	}
	return "", false
}

// ListSource prints source lines around line in gdb's "list" format
// ("42\t\tsink = depth;"): like gdb's "list FILE:LINE" with "set listsize
// 2*ctx", the lines from line-ctx to line+ctx-1 (starting at line 1 near the
// top of the file); ctx = 5 gives gdb's default 10 lines. file is named as
// in a backtrace; it is found through the compilation directory.
func (t *Table) ListSource(file string, line int, ctx int, w io.Writer) error {
	p, ok := t.SourcePath(file)
	if !ok {
		return fmt.Errorf("%s: No such file or directory.", file)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if ctx < 1 {
		ctx = 1
	}
	first := max(1, line-ctx)
	last := first + 2*ctx - 1
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	n, printed := 0, 0
	for sc.Scan() {
		n++
		if n < first {
			continue
		}
		if n > last {
			break
		}
		fmt.Fprintf(w, "%d\t%s\n", n, sc.Text())
		printed++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if printed == 0 {
		return fmt.Errorf("Line number %d out of range; \"%s\" has %d lines.", first, file, n)
	}
	return nil
}

// lineHeaderSane checks the counts of a DWARF 5 line program header before
// debug/dwarf and delve allocate tables of that many entries (a corrupted
// count would exhaust memory).
func lineHeaderSane(sec []byte, off int64) bool {
	if off < 0 || off+4 > int64(len(sec)) {
		return false
	}
	b := sec[off:]
	unitLen, hdr, offSize := uint64(binary.LittleEndian.Uint32(b)), 4, 4
	if unitLen == 0xffffffff {
		if len(b) < 12 {
			return false
		}
		unitLen, hdr, offSize = binary.LittleEndian.Uint64(b[4:]), 12, 8
	}
	if unitLen > uint64(len(b)-hdr) || unitLen < 2 {
		return false
	}
	b = b[hdr : hdr+int(unitLen)]
	if v := binary.LittleEndian.Uint16(b); v < 5 {
		return v >= 2
	}
	p := 2 + 2 + offSize + 6
	if p > len(b) {
		return false
	}
	p += int(b[p-1]) - 1 // standard_opcode_lengths
	for table := 0; table < 2; table++ {
		if p >= len(b) {
			return false
		}
		nfmt := int(b[p])
		p++
		forms := make([]uint64, 0, nfmt)
		for i := 0; i < nfmt; i++ {
			_, n := uleb(b[p:])
			if n == 0 {
				return false
			}
			p += n
			form, m := uleb(b[p:])
			if m == 0 {
				return false
			}
			p += m
			forms = append(forms, form)
		}
		count, n := uleb(b[p:])
		if n == 0 || count > uint64(len(b)) {
			return false
		}
		p += n
		for i := uint64(0); i < count; i++ {
			for _, form := range forms {
				size := formSize(form, b[p:], offSize)
				if size < 0 || p+size > len(b) {
					return false
				}
				p += size
			}
		}
	}
	return true
}

// formSize is the size of an attribute value of the given form at b, or -1.
func formSize(form uint64, b []byte, offSize int) int {
	switch form {
	case 0x08: // string
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return i + 1
		}
		return -1
	case 0x0e, 0x1f, 0x17: // strp, line_strp, sec_offset
		return offSize
	case 0x0b, 0x25: // data1, strx1
		return 1
	case 0x05, 0x26: // data2, strx2
		return 2
	case 0x27: // strx3
		return 3
	case 0x06, 0x28: // data4, strx4
		return 4
	case 0x07: // data8
		return 8
	case 0x1e: // data16
		return 16
	case 0x0f, 0x0d, 0x1a: // udata, sdata, strx
		if _, n := uleb(b); n > 0 {
			return n
		}
		return -1
	case 0x09: // block
		l, n := uleb(b)
		if n == 0 || l > uint64(len(b)) {
			return -1
		}
		return n + int(l)
	}
	return -1
}
