package vmm

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The image is hostile: every count and size below comes from it. The
// limits sit far above what kernels and unikernels carry (Linux's notes and
// a full 64-entry Solo5 manifest are a few KiB; linked executables have
// tens of sections) and far below what would hurt the host, so reading the
// notes of any image costs at most about maxNoteBytes of memory and reads.
const (
	// maxProgHeaders matches Linux's loader, which refuses more than 64 KiB
	// of program headers (1170 Elf64_Phdr).
	maxProgHeaders    = 1024
	maxSectionHeaders = 8192
	maxNoteSections   = 256       // SHT_NOTE sections: a handful in real files
	maxNoteBlob       = 256 << 10 // one PT_NOTE segment or SHT_NOTE section
	maxNoteBytes      = 1 << 20   // all note segments and sections together
	maxSectionName    = 64        // longer names are cut: we look for short ones
)

// ErrImageLimit is wrapped by every refusal of an image that exceeds one of
// the parsing limits; the message names the limit.
var ErrImageLimit = errors.New("image exceeds a parsing limit")

// ELF header layouts (ELF32, ELF64) of the fields read here.
var (
	ehdrLayout = map[elf.Class]struct{ size, phoff, shoff, phent, addrSize int }{
		elf.ELFCLASS32: {52, 28, 32, 42, 4},
		elf.ELFCLASS64: {64, 32, 40, 54, 8},
	}
	phdrSize = map[elf.Class]int{elf.ELFCLASS32: 32, elf.ELFCLASS64: 56}
	shdrSize = map[elf.Class]int{elf.ELFCLASS32: 40, elf.ELFCLASS64: 64}
)

// elfImage is the part of an ELF file the note readers need, read with
// bounded allocations instead of debug/elf, which sizes its buffers from
// the file's header counts and reads whole string tables.
type elfImage struct {
	r        io.ReaderAt
	class    elf.Class
	bo       binary.ByteOrder
	phoff    uint64
	shoff    uint64
	phnum    int
	shnum    int
	shstrndx int
	budget   int // note bytes still allowed
}

// elfSection is one section header.
type elfSection struct {
	name   string
	typ    elf.SectionType
	flags  elf.SectionFlag
	off    uint64
	size   uint64
	link   uint32
	nameAt uint32
}

// openELF reads and checks the ELF header of r.
func openELF(r io.ReaderAt) (*elfImage, error) {
	var ident [elf.EI_NIDENT]byte
	if err := readFullAt(r, ident[:], 0); err != nil {
		return nil, fmt.Errorf("parse elf: read identification: %w", err)
	}
	if string(ident[:4]) != elf.ELFMAG {
		return nil, fmt.Errorf("parse elf: bad magic %q", ident[:4])
	}
	img := &elfImage{r: r, class: elf.Class(ident[elf.EI_CLASS]), budget: maxNoteBytes}
	lay, ok := ehdrLayout[img.class]
	if !ok {
		return nil, fmt.Errorf("parse elf: unknown class %v", img.class)
	}
	switch elf.Data(ident[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		img.bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		img.bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("parse elf: unknown data encoding %v", elf.Data(ident[elf.EI_DATA]))
	}
	if elf.Version(ident[elf.EI_VERSION]) != elf.EV_CURRENT {
		return nil, fmt.Errorf("parse elf: unknown version %d", ident[elf.EI_VERSION])
	}
	hdr := make([]byte, lay.size)
	if err := readFullAt(r, hdr, 0); err != nil {
		return nil, fmt.Errorf("parse elf: read header: %w", err)
	}
	img.phoff = img.word(hdr[lay.phoff:])
	img.shoff = img.word(hdr[lay.shoff:])
	p := lay.phent // e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
	phent, shent := int(img.bo.Uint16(hdr[p:])), int(img.bo.Uint16(hdr[p+4:]))
	img.phnum, img.shnum = int(img.bo.Uint16(hdr[p+2:])), int(img.bo.Uint16(hdr[p+6:]))
	img.shstrndx = int(img.bo.Uint16(hdr[p+8:]))
	return img, img.checkCounts(phent, shent)
}

// checkCounts applies the header-table limits, resolving extended section
// numbering (e_shnum 0 and e_shstrndx SHN_XINDEX: the values are in
// section 0) first.
func (img *elfImage) checkCounts(phent, shent int) error {
	if img.phnum > maxProgHeaders {
		return fmt.Errorf("parse elf: %d program headers, at most %d: %w", img.phnum, maxProgHeaders, ErrImageLimit)
	}
	if img.phnum > 0 && phent != phdrSize[img.class] {
		return fmt.Errorf("parse elf: program header size %d, want %d", phent, phdrSize[img.class])
	}
	if img.shoff == 0 {
		img.shnum, img.shstrndx = 0, 0
		return nil
	}
	if shent != shdrSize[img.class] {
		return fmt.Errorf("parse elf: section header size %d, want %d", shent, shdrSize[img.class])
	}
	if img.shnum == 0 || img.shstrndx == int(elf.SHN_XINDEX) {
		tab, err := img.sectionTable(1)
		if err != nil {
			return err
		}
		s0 := img.section(tab, 0)
		if img.shnum == 0 {
			img.shnum = int(min(s0.size, maxSectionHeaders+1))
		}
		if img.shstrndx == int(elf.SHN_XINDEX) {
			img.shstrndx = int(min(s0.link, maxSectionHeaders+1))
		}
	}
	if img.shnum > maxSectionHeaders {
		return fmt.Errorf("parse elf: more than %d section headers: %w", maxSectionHeaders, ErrImageLimit)
	}
	if img.shstrndx >= img.shnum {
		return fmt.Errorf("parse elf: section name table index %d of %d sections", img.shstrndx, img.shnum)
	}
	return nil
}

// word reads an address-sized field.
func (img *elfImage) word(b []byte) uint64 {
	if img.class == elf.ELFCLASS64 {
		return img.bo.Uint64(b)
	}
	return uint64(img.bo.Uint32(b))
}

// readAt reads size bytes at off; a short read is an error, not a short slice.
func (img *elfImage) readAt(what string, off, size uint64) ([]byte, error) {
	if off+size < off || off+size > 1<<62 {
		return nil, fmt.Errorf("read %s: offset %d size %d out of range", what, off, size)
	}
	buf := make([]byte, size)
	if err := readFullAt(img.r, buf, int64(off)); err != nil {
		return nil, fmt.Errorf("read %s at %d (%d bytes): %w", what, off, size, err)
	}
	return buf, nil
}

// readFullAt fills buf from off; io.ReaderAt may return io.EOF with a full
// buffer, and a short read is io.ErrUnexpectedEOF.
func readFullAt(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	switch {
	case n == len(buf):
		return nil
	case err == nil || err == io.EOF:
		return io.ErrUnexpectedEOF
	}
	return err
}

// readNote reads one note segment or section, charging it to the budget.
func (img *elfImage) readNote(what string, off, size uint64) ([]byte, error) {
	if size > maxNoteBlob {
		return nil, fmt.Errorf("read %s: %d bytes, at most %d: %w", what, size, maxNoteBlob, ErrImageLimit)
	}
	if int(size) > img.budget {
		return nil, fmt.Errorf("read %s: notes exceed %d bytes in all: %w", what, maxNoteBytes, ErrImageLimit)
	}
	img.budget -= int(size)
	return img.readAt(what, off, size)
}

// noteSegments returns the contents of the PT_NOTE segments, where
// loaders (and the Solo5 tenders) look for notes.
func (img *elfImage) noteSegments() ([][]byte, error) {
	if img.phnum == 0 {
		return nil, nil
	}
	size := phdrSize[img.class]
	tab, err := img.readAt("elf program headers", img.phoff, uint64(img.phnum*size))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for i := range img.phnum {
		ph := tab[i*size:]
		if elf.ProgType(img.bo.Uint32(ph)) != elf.PT_NOTE {
			continue
		}
		off, filesz := img.word(ph[8:]), img.word(ph[32:]) // ELF64 layout
		if img.class == elf.ELFCLASS32 {
			off, filesz = img.word(ph[4:]), img.word(ph[16:])
		}
		data, err := img.readNote(fmt.Sprintf("elf note segment %d", i), off, filesz)
		if err != nil {
			return nil, err
		}
		out = append(out, data)
	}
	return out, nil
}

// noteSections returns the SHT_NOTE section headers with their names.
// Compressed sections are left out: loaders read notes from segments, and
// decompressing would undo the bounds.
func (img *elfImage) noteSections() ([]elfSection, error) {
	if img.shnum == 0 {
		return nil, nil
	}
	tab, err := img.sectionTable(img.shnum)
	if err != nil {
		return nil, err
	}
	var strtab elfSection
	if img.shstrndx != 0 {
		strtab = img.section(tab, img.shstrndx)
	}
	var out []elfSection
	for i := range img.shnum {
		s := img.section(tab, i)
		if s.typ != elf.SHT_NOTE || s.flags&elf.SHF_COMPRESSED != 0 {
			continue
		}
		if len(out) == maxNoteSections {
			return nil, fmt.Errorf("parse elf: more than %d note sections: %w", maxNoteSections, ErrImageLimit)
		}
		if s.name, err = img.sectionName(strtab, s.nameAt); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// sectionData reads a note section, charging it to the budget.
func (img *elfImage) sectionData(s elfSection) ([]byte, error) {
	return img.readNote(fmt.Sprintf("elf section %q", s.name), s.off, s.size)
}

// sectionTable reads the first n section headers (n is capped by
// checkCounts: at most 512 KiB).
func (img *elfImage) sectionTable(n int) ([]byte, error) {
	return img.readAt("elf section headers", img.shoff, uint64(n*shdrSize[img.class]))
}

// section decodes header i of a section table.
func (img *elfImage) section(tab []byte, i int) elfSection {
	sh := tab[i*shdrSize[img.class]:]
	s := elfSection{nameAt: img.bo.Uint32(sh), typ: elf.SectionType(img.bo.Uint32(sh[4:]))}
	if img.class == elf.ELFCLASS64 {
		s.flags = elf.SectionFlag(img.bo.Uint64(sh[8:]))
		s.off, s.size, s.link = img.bo.Uint64(sh[24:]), img.bo.Uint64(sh[32:]), img.bo.Uint32(sh[40:])
	} else {
		s.flags = elf.SectionFlag(img.bo.Uint32(sh[8:]))
		s.off, s.size = uint64(img.bo.Uint32(sh[16:])), uint64(img.bo.Uint32(sh[20:]))
		s.link = img.bo.Uint32(sh[24:])
	}
	return s
}

// sectionName reads at most maxSectionName bytes of a name from the
// section name table, never the whole table.
func (img *elfImage) sectionName(strtab elfSection, at uint32) (string, error) {
	if strtab.typ != elf.SHT_STRTAB || uint64(at) >= strtab.size {
		return "", nil // unnamed: matches none of the names we look for
	}
	n := min(strtab.size-uint64(at), maxSectionName)
	raw, err := img.readAt("elf section name", strtab.off+uint64(at), n)
	if err != nil {
		return "", err
	}
	if i := bytes.IndexByte(raw, 0); i >= 0 {
		raw = raw[:i]
	}
	return string(raw), nil
}
