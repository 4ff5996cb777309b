package vmm

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// rawPhdr and rawShdr are ELF64 header table entries for hostile images.
type rawPhdr struct{ typ, off, size uint64 }
type rawShdr struct {
	name, typ       uint32
	off, size, link uint64
}

// rawELF describes an ELF64 LE file written sparse: the tables at the
// start, then zeros up to size, so a "1 GiB" image costs no disk.
type rawELF struct {
	phdrs    []rawPhdr
	phnum    int // e_phnum when not len(phdrs)
	shdrs    []rawShdr
	extShnum bool // e_shnum 0: the count is in section 0's sh_size
	shstrndx int
	tail     []byte // written right after the tables
	size     int64
}

func (e rawELF) write(t testing.TB) string {
	t.Helper()
	le := binary.LittleEndian
	phnum, shnum := e.phnum, len(e.shdrs)
	if phnum == 0 {
		phnum = len(e.phdrs)
	}
	if e.extShnum {
		shnum = 0
	}
	shoff := 64 + 56*len(e.phdrs)
	buf := make([]byte, shoff+64*len(e.shdrs))
	copy(buf, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	le.PutUint16(buf[16:], 2)
	le.PutUint16(buf[18:], 62)
	le.PutUint32(buf[20:], 1)
	le.PutUint64(buf[32:], 64)
	if len(e.shdrs) > 0 {
		le.PutUint64(buf[40:], uint64(shoff))
	}
	le.PutUint16(buf[52:], 64)
	le.PutUint16(buf[54:], 56)
	le.PutUint16(buf[56:], uint16(phnum))
	le.PutUint16(buf[58:], 64)
	le.PutUint16(buf[60:], uint16(shnum))
	le.PutUint16(buf[62:], uint16(e.shstrndx))
	for i, p := range e.phdrs {
		ph := buf[64+56*i:]
		le.PutUint32(ph[0:], uint32(p.typ))
		le.PutUint64(ph[8:], p.off)
		le.PutUint64(ph[32:], p.size)
		le.PutUint64(ph[40:], p.size)
	}
	for i, s := range e.shdrs {
		sh := buf[shoff+64*i:]
		le.PutUint32(sh[0:], s.name)
		le.PutUint32(sh[4:], s.typ)
		le.PutUint64(sh[24:], s.off)
		le.PutUint64(sh[32:], s.size)
		le.PutUint32(sh[40:], uint32(s.link))
	}
	buf = append(buf, e.tail...)
	path := filepath.Join(t.TempDir(), "image")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(buf); err != nil {
		t.Fatal(err)
	}
	if e.size > int64(len(buf)) {
		if err := f.Truncate(e.size); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// notes repeats one PT_NOTE header n times.
func notes(n int, off, size uint64) []rawPhdr {
	out := make([]rawPhdr, n)
	for i := range out {
		out[i] = rawPhdr{typ: 4, off: off, size: size}
	}
	return out
}

const gib = 1 << 30

// TestHostileELFBounded feeds both note readers images whose headers
// claim huge amounts of note data over sparse files. Before the bounded
// reader, debug/elf and io.ReadAll allocated what the headers claimed
// (10000 x 1 GiB ran out of memory). Each call must now finish quickly
// and allocate at most a few MiB, whatever its answer.
func TestHostileELFBounded(t *testing.T) {
	const allocCap = 4 << 20
	noteSec := func(n int, size uint64) []rawShdr {
		s := []rawShdr{{}}
		for range n {
			s = append(s, rawShdr{typ: 7, off: 0, size: size})
		}
		return s
	}
	cases := []struct {
		name string
		elf  rawELF
		// Which readers must refuse with ErrImageLimit (the others may
		// answer anything): "both", "kernel" (Solo5 reads sections only
		// by name, and these have none) or "".
		limit string
	}{
		{"10000 PT_NOTE of 1 GiB", rawELF{phdrs: notes(10000, 0, gib), size: gib}, "both"},
		{"65535 PT_NOTE of 1 GiB", rawELF{phdrs: notes(65535, 0, gib), size: gib}, "both"},
		{"1000 PT_NOTE of 1 GiB", rawELF{phdrs: notes(1000, 0, gib), size: gib}, "both"},
		{"1000 PT_NOTE of 200 KiB", rawELF{phdrs: notes(1000, 0, 200<<10), size: gib}, "both"},
		{"PT_NOTE past the end", rawELF{phdrs: notes(1, gib, 1<<10), size: 1 << 20}, ""},
		{"PT_NOTE offset overflow", rawELF{phdrs: notes(1, 1<<63, 1<<10), size: 1 << 20}, ""},
		{"200 SHT_NOTE of 1 GiB", rawELF{shdrs: noteSec(200, gib), size: gib}, "kernel"},
		{"200 SHT_NOTE of 200 KiB", rawELF{shdrs: noteSec(200, 200<<10), size: gib}, "kernel"},
		{"8000 SHT_NOTE", rawELF{shdrs: noteSec(8000, 0), size: gib}, "both"},
		{"1 GiB section name table", rawELF{shdrs: []rawShdr{{}, {typ: 3, size: gib}, {name: 1, typ: 7}},
			shstrndx: 1, size: gib}, ""},
		{"extended section count 2^32", rawELF{shdrs: []rawShdr{{size: 1 << 32}}, extShnum: true, size: gib}, "both"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.elf.write(t)
			for _, read := range []struct {
				name string
				fn   func(string) error
			}{
				{"InspectKernel", func(p string) error { _, err := InspectKernel(p); return err }},
				{"ReadSolo5Manifest", func(p string) error { _, err := ReadSolo5Manifest(p); return err }},
			} {
				start := time.Now()
				alloc, err := allocated(func() error { return read.fn(path) })
				t.Logf("%s: %v, %d bytes allocated, %v", read.name, err, alloc, time.Since(start))
				if alloc > allocCap {
					t.Errorf("%s allocated %d bytes, want at most %d", read.name, alloc, allocCap)
				}
				mustRefuse := c.limit == "both" || c.limit == "kernel" && read.name == "InspectKernel"
				if mustRefuse && !errors.Is(err, ErrImageLimit) {
					t.Errorf("%s: %v, want ErrImageLimit", read.name, err)
				}
				if time.Since(start) > 5*time.Second {
					t.Errorf("%s took %v", read.name, time.Since(start))
				}
			}
		})
	}
}

// allocated returns the bytes fn allocates (TotalAlloc: freed memory
// counts too, so it bounds the peak).
func allocated(fn func() error) (uint64, error) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, err
}

// TestELFLimitErrorsNameLimit checks that refusals say which limit.
func TestELFLimitErrorsNameLimit(t *testing.T) {
	path := rawELF{phdrs: notes(2000, 0, 16), size: 1 << 20}.write(t)
	_, err := InspectKernel(path)
	if err == nil || !errors.Is(err, ErrImageLimit) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{path, "2000 program headers", "at most 1024"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
