// Package solo5elf builds synthetic Solo5 unikernel ELF files for tests: an
// ELF64 little-endian x86-64 executable whose PT_NOTE segments (or
// SHT_NOTE sections) carry the Solo5 device manifest (MFT1) and target ABI
// (ABI1) notes, laid out as Solo5 0.6 and later emit them on LP64. The files
// have no code: they satisfy urunc's manifest reader and kernel inspection,
// and a stand-in VMM, never a real tender.
//
// The layout is written down here independently of internal/vmm's reader
// (from include/solo5/mft_abi.h and elf_abi.h), so that a test using both
// checks one against the other:
//
//	note:  Elf64_Nhdr (namesz, descsz, type) + "Solo5\0" padded to 8 = 20 bytes,
//	       then the descriptor; struct mft is 8-aligned from the note start,
//	       so MFT1 descriptors begin with 4 bytes of padding.
//	mft:   u32 version, u32 entries, struct mft_entry e[entries]
//	entry: char name[68]; u32 type @68; unions up to @96; bool attached @96; 104 bytes
//	abi1:  u32 abi_target, u32 abi_version, u32 reserved[2]
//
// It is test support only: nothing outside _test.go files may import it.
package solo5elf

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
)

// Note types and the Solo5 note owner.
const (
	NoteName = "Solo5"
	NoteMFT1 = 0x3154464d // "MFT1"
	NoteABI1 = 0x31494241 // "ABI1"
)

// Device types (enum mft_type) and the first reserved type.
const (
	TypeBlock    uint32 = 1       // MFT_DEV_BLOCK_BASIC
	TypeNet      uint32 = 2       // MFT_DEV_NET_BASIC
	TypeReserved uint32 = 1 << 30 // MFT_RESERVED_FIRST
)

// Targets (enum abi_target).
const (
	TargetHVT uint32 = 1
	TargetSPT uint32 = 2
)

// Sizes of struct mft_entry and its name field.
const (
	EntrySize = 104
	NameSize  = 68
)

// ManifestVersion is the MFT1 version every Solo5 >= 0.6 tender accepts.
const ManifestVersion = 1

var le = binary.LittleEndian

// Entry is one struct mft_entry to render.
type Entry struct {
	Name string
	Type uint32
}

// Net and Block are shorthands for device entries.
func Net(name string) Entry   { return Entry{name, TypeNet} }
func Block(name string) Entry { return Entry{name, TypeBlock} }

// WithReserved prepends the MFT_RESERVED_FIRST entry that Solo5's elftool
// emits before the declared devices.
func WithReserved(es ...Entry) []Entry {
	return append([]Entry{{"", TypeReserved}}, es...)
}

// Note renders one ELF note: header, name padded to 4, descriptor padded
// to 4.
func Note(name string, typ uint32, desc []byte) []byte {
	var b bytes.Buffer
	n := append([]byte(name), 0)
	_ = binary.Write(&b, le, [3]uint32{uint32(len(n)), uint32(len(desc)), typ})
	b.Write(pad4(n))
	b.Write(pad4(desc))
	return b.Bytes()
}

func pad4(b []byte) []byte { return append(b, make([]byte, (4-len(b)%4)%4)...) }

// ManifestNote renders a MFT1 note laid out as MFT1_NOTE_DECLARE_BEGIN
// does: 4 bytes of padding so that struct mft is 8-aligned, then version,
// entry count and 104-byte entries. Each entry's "attached" byte is set,
// as garbage a reader must ignore.
func ManifestNote(version uint32, entries []Entry) []byte {
	var desc bytes.Buffer
	desc.Write(make([]byte, 4))
	_ = binary.Write(&desc, le, [2]uint32{version, uint32(len(entries))})
	for _, e := range entries {
		rec := make([]byte, EntrySize)
		copy(rec, e.Name)
		le.PutUint32(rec[NameSize:], e.Type)
		rec[96] = 1
		desc.Write(rec)
	}
	return Note(NoteName, NoteMFT1, desc.Bytes())
}

// ABINote renders an ABI1 note (struct abi1_info, no padding).
func ABINote(target, version uint32) []byte {
	var desc bytes.Buffer
	_ = binary.Write(&desc, le, [4]uint32{target, version, 0, 0})
	return Note(NoteName, NoteABI1, desc.Bytes())
}

// Sections are SHT_NOTE sections to add, by name, in order.
type Sections struct {
	Names []string
	Data  [][]byte
}

// ELF builds an ELF little-endian x86-64 executable of the given class
// with one PT_NOTE segment per entry of segs and the note sections of secs
// (plus .shstrtab) when there are any.
func ELF(class elf.Class, segs [][]byte, secs Sections) []byte {
	const ehsize, phsize, shsize = 64, 56, 64
	off := uint64(ehsize + phsize*len(segs))
	var body bytes.Buffer
	phdrs := make([]elf.Prog64, 0, len(segs))
	for _, s := range segs {
		phdrs = append(phdrs, elf.Prog64{Type: uint32(elf.PT_NOTE), Flags: uint32(elf.PF_R),
			Off: off + uint64(body.Len()), Filesz: uint64(len(s)), Memsz: uint64(len(s)), Align: 4})
		body.Write(s)
	}
	shdrs := sectionHeaders(secs, off, &body)
	for body.Len()%8 != 0 {
		body.WriteByte(0)
	}
	hdr := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: 1,
		Entry: 0x100000, Phoff: ehsize, Ehsize: ehsize, Phentsize: phsize, Phnum: uint16(len(segs)),
		Shentsize: shsize}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(class), byte(elf.ELFDATA2LSB), 1
	if len(shdrs) > 0 {
		hdr.Shoff = off + uint64(body.Len())
		hdr.Shnum, hdr.Shstrndx = uint16(len(shdrs)), uint16(len(shdrs)-1)
	}
	var out bytes.Buffer
	_ = binary.Write(&out, le, hdr)
	_ = binary.Write(&out, le, phdrs)
	out.Write(body.Bytes())
	_ = binary.Write(&out, le, shdrs)
	return out.Bytes()
}

// sectionHeaders appends the sections' data and a .shstrtab to body and
// returns their headers (null section first, .shstrtab last), or nil.
func sectionHeaders(secs Sections, off uint64, body *bytes.Buffer) []elf.Section64 {
	if len(secs.Data) == 0 {
		return nil
	}
	shstr := []byte{0}
	shdrs := []elf.Section64{{}}
	for i, s := range secs.Data {
		shdrs = append(shdrs, elf.Section64{Name: uint32(len(shstr)), Type: uint32(elf.SHT_NOTE),
			Flags: uint64(elf.SHF_ALLOC), Off: off + uint64(body.Len()), Size: uint64(len(s)), Addralign: 4})
		shstr = append(append(shstr, secs.Names[i]...), 0)
		body.Write(s)
	}
	shstr = append(append(shstr, ".shstrtab"...), 0)
	shdrs = append(shdrs, elf.Section64{Name: uint32(len(shstr) - len(".shstrtab") - 1), Type: uint32(elf.SHT_STRTAB),
		Off: off + uint64(body.Len()), Size: uint64(len(shstr)), Addralign: 1})
	body.Write(shstr)
	return shdrs
}

// Unikernel describes a whole synthetic unikernel: the tender it is built
// for, its ABI version and the devices it declares.
type Unikernel struct {
	Target     uint32 // TargetHVT or TargetSPT; 0 writes no ABI1 note
	ABIVersion uint32
	Devices    []Entry // declared devices; the reserved entry is added
}

// Bytes renders u as an ELF64 file with the ABI1 and MFT1 notes in one
// PT_NOTE segment each.
func (u Unikernel) Bytes() []byte {
	var segs [][]byte
	if u.Target != 0 {
		segs = append(segs, ABINote(u.Target, u.ABIVersion))
	}
	segs = append(segs, ManifestNote(ManifestVersion, WithReserved(u.Devices...)))
	return ELF(elf.ELFCLASS64, segs, Sections{})
}

// Write stores u at path with mode 0644.
func (u Unikernel) Write(path string) error {
	if err := os.WriteFile(path, u.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write solo5 unikernel %q: %w", path, err)
	}
	return nil
}
