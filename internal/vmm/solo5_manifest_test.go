package vmm

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var le = binary.LittleEndian

// mftEntry is one struct mft_entry to render.
type mftEntry struct {
	name string
	typ  uint32
}

// solo5ManifestNote renders a MFT1 note laid out as MFT1_NOTE_DECLARE_BEGIN
// does: header, "Solo5" padded to 8, 4 bytes of padding so that struct mft
// is 8-aligned, then version, entry count and 104-byte entries.
func solo5ManifestNote(version uint32, entries []mftEntry) []byte {
	var desc bytes.Buffer
	desc.Write(make([]byte, 4))
	_ = binary.Write(&desc, le, [2]uint32{version, uint32(len(entries))})
	for _, e := range entries {
		rec := make([]byte, solo5EntrySize)
		copy(rec, e.name)
		le.PutUint32(rec[solo5NameSize:], e.typ)
		rec[96] = 1 // attached: garbage the parser must ignore
		desc.Write(rec)
	}
	return solo5Note(solo5NoteMFT1, desc.Bytes())
}

// solo5ABINote renders an ABI1 note (struct abi1_info, no padding).
func solo5ABINote(target, version uint32) []byte {
	var desc bytes.Buffer
	_ = binary.Write(&desc, le, [4]uint32{target, version, 0, 0})
	return solo5Note(solo5NoteABI1, desc.Bytes())
}

func solo5Note(typ uint32, desc []byte) []byte {
	return note("Solo5", typ, desc)
}

// withReserved prepends the MFT_RESERVED_FIRST entry elftool emits.
func withReserved(es ...mftEntry) []mftEntry {
	return append([]mftEntry{{"", solo5ReservedType}}, es...)
}

// noteELF builds an ELF64 little-endian x86-64 executable with one PT_NOTE
// segment per entry of segs and, when secs is set, SHT_NOTE sections
// named after its keys (in sorted order of insertion given by names).
func noteELF(class elf.Class, segs [][]byte, secNames []string, secs [][]byte) []byte {
	const ehsize, phsize, shsize = 64, 56, 64
	off := uint64(ehsize + phsize*len(segs))
	var body bytes.Buffer
	var phdrs []elf.Prog64
	for _, s := range segs {
		phdrs = append(phdrs, elf.Prog64{Type: uint32(elf.PT_NOTE), Flags: uint32(elf.PF_R),
			Off: off + uint64(body.Len()), Filesz: uint64(len(s)), Memsz: uint64(len(s)), Align: 4})
		body.Write(s)
	}
	shstr := []byte{0}
	var shdrs []elf.Section64
	if len(secs) > 0 {
		shdrs = append(shdrs, elf.Section64{})
		for i, s := range secs {
			shdrs = append(shdrs, elf.Section64{Name: uint32(len(shstr)), Type: uint32(elf.SHT_NOTE),
				Flags: uint64(elf.SHF_ALLOC), Off: off + uint64(body.Len()), Size: uint64(len(s)), Addralign: 4})
			shstr = append(append(shstr, secNames[i]...), 0)
			body.Write(s)
		}
		shdrs = append(shdrs, elf.Section64{Name: uint32(len(shstr)), Type: uint32(elf.SHT_STRTAB),
			Off: off + uint64(body.Len()), Size: uint64(len(".shstrtab") + 1 + len(shstr)), Addralign: 1})
		shstr = append(append(shstr, ".shstrtab"...), 0)
		body.Write(shstr)
	}
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

func TestReadSolo5Manifest(t *testing.T) {
	netBlock := withReserved(mftEntry{"service", solo5TypeNet}, mftEntry{"storage", solo5TypeBlock})
	devs := []Solo5Device{{"service", Solo5NetBasic}, {"storage", Solo5BlockBasic}}
	cases := []struct {
		name string
		elf  []byte
		want Solo5Manifest
	}{
		{"hvt net and block, one segment per note",
			noteELF(elf.ELFCLASS64, [][]byte{solo5ABINote(1, 2), solo5ManifestNote(1, netBlock)}, nil, nil),
			Solo5Manifest{Target: "hvt", ABIVersion: 2, Devices: devs}},
		{"spt, notes in one segment after a foreign note",
			noteELF(elf.ELFCLASS64, [][]byte{append(append(note("Xen", 18, make([]byte, 8)),
				solo5ManifestNote(1, netBlock)...), solo5ABINote(2, 1)...)}, nil, nil),
			Solo5Manifest{Target: "spt", ABIVersion: 1, Devices: devs}},
		{"no devices",
			noteELF(elf.ELFCLASS64, [][]byte{solo5ManifestNote(1, withReserved())}, nil, nil),
			Solo5Manifest{}},
		{"unknown target",
			noteELF(elf.ELFCLASS64, [][]byte{solo5ABINote(9, 1), solo5ManifestNote(1, withReserved())}, nil, nil),
			Solo5Manifest{Target: "unknown-9", ABIVersion: 1}},
		{"sections only",
			noteELF(elf.ELFCLASS64, nil, []string{".note.solo5.abi", ".note.solo5.manifest"},
				[][]byte{solo5ABINote(1, 2), solo5ManifestNote(1, netBlock)}),
			Solo5Manifest{Target: "hvt", ABIVersion: 2, Devices: devs}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readSolo5Manifest(bytes.NewReader(c.elf))
			if err != nil {
				t.Fatalf("readSolo5Manifest: %v", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestReadSolo5ManifestErrors(t *testing.T) {
	long := make([]byte, solo5NameSize)
	for i := range long {
		long[i] = 'a'
	}
	short := solo5ManifestNote(1, withReserved(mftEntry{"x", solo5TypeNet}))
	le.PutUint32(short[4:], uint32(len(short)-20-solo5EntrySize)) // descsz one entry short
	short = short[:len(short)-solo5EntrySize]
	cases := []struct {
		name    string
		elf     []byte
		wantErr error
	}{
		{"no solo5 note", noteELF(elf.ELFCLASS64, [][]byte{note("Xen", 18, make([]byte, 8))}, nil, nil), ErrNoSolo5Manifest},
		{"abi note only", noteELF(elf.ELFCLASS64, [][]byte{solo5ABINote(1, 2)}, nil, nil), ErrNoSolo5Manifest},
		{"version 2", noteELF(elf.ELFCLASS64, [][]byte{solo5ManifestNote(2, withReserved())}, nil, nil), ErrNotSupported},
		{"unknown device type", noteELF(elf.ELFCLASS64,
			[][]byte{solo5ManifestNote(1, withReserved(mftEntry{"pci0", 3}))}, nil, nil), ErrNotSupported},
		{"entry count disagrees with size", noteELF(elf.ELFCLASS64, [][]byte{short}, nil, nil), nil},
		{"name not terminated", noteELF(elf.ELFCLASS64,
			[][]byte{solo5ManifestNote(1, withReserved(mftEntry{string(long), solo5TypeNet}))}, nil, nil), nil},
		{"truncated note", noteELF(elf.ELFCLASS64,
			[][]byte{solo5ManifestNote(1, withReserved())[:30]}, nil, nil), nil},
		{"not elf", []byte("MZ this is not an elf file at all, not even close........"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readSolo5Manifest(bytes.NewReader(c.elf))
			if err == nil {
				t.Fatal("readSolo5Manifest succeeded")
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Errorf("err = %v, want %v", err, c.wantErr)
			}
		})
	}
}

func TestReadSolo5ManifestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "unikernel.hvt")
	data := noteELF(elf.ELFCLASS64, [][]byte{solo5ABINote(1, 2),
		solo5ManifestNote(1, withReserved(mftEntry{"service", solo5TypeNet}))}, nil, nil)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ReadSolo5Manifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.Target != "hvt" || len(m.Devices) != 1 || m.Devices[0].Name != "service" {
		t.Errorf("got %+v", m)
	}
	// A manifest read from the file drives hvt's argv.
	s := hvtSpec()
	s.Solo5, s.Block = &m, nil
	args, err := (solo5{name: HVT, target: "hvt", kvm: true}).Args(s)
	if err != nil {
		t.Fatal(err)
	}
	if !mentions("--net:service=urunc1a2b3c4d", args, nil) {
		t.Errorf("argv %q does not attach the manifest's NIC", args)
	}
	if _, err := ReadSolo5Manifest(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
