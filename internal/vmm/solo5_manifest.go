package vmm

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// Solo5DeviceType is a device type from a Solo5 manifest.
type Solo5DeviceType string

const (
	Solo5NetBasic   Solo5DeviceType = "NET_BASIC"   // MFT_DEV_NET_BASIC
	Solo5BlockBasic Solo5DeviceType = "BLOCK_BASIC" // MFT_DEV_BLOCK_BASIC
)

// Solo5Target is the tender a Solo5 unikernel was built for (its ABI1
// note), "" when the binary carries no ABI note.
type Solo5Target string

// Solo5Device is one device the unikernel declares. Every declared device
// must be attached: the tenders refuse to start otherwise.
type Solo5Device struct {
	Name string
	Type Solo5DeviceType
}

// Solo5Manifest is what a Solo5 unikernel declares about itself.
type Solo5Manifest struct {
	Target     Solo5Target `json:",omitempty"`
	ABIVersion uint32      `json:",omitempty"`
	Devices    []Solo5Device
}

// Layout of the Solo5 notes, from include/solo5/mft_abi.h and elf_abi.h
// (Solo5 0.6 and later) on an LP64 target:
//
//	note:  Elf64_Nhdr (namesz, descsz, type) + "Solo5\0" padded to 8 = 20 bytes,
//	       then the descriptor, whose struct starts at the next multiple of
//	       its alignment counted from the note start (elf_load_note's
//	       note_align): struct mft at +24 (8-aligned), struct abi1_info at +20.
//	mft:   u32 version (1), u32 entries, struct mft_entry e[entries]
//	entry: char name[68]; u32 type @68; union u (16 bytes) @72;
//	       union b (int / void*) @88; bool attached @96; sizeof 104
//	abi1:  u32 abi_target, u32 abi_version, u32 reserved[2]
//
// The tender's mft_validate requires descsz - pad == 8 + entries*104.
const (
	solo5NoteName     = "Solo5"
	solo5NoteMFT1     = 0x3154464d // "MFT1"
	solo5NoteABI1     = 0x31494241 // "ABI1"
	solo5NoteHdrSize  = 20         // Elf64_Nhdr + name padded to 4
	solo5MFTAlign     = 8
	solo5MFTVersion   = 1
	solo5MFTHdrSize   = 8
	solo5EntrySize    = 104
	solo5NameSize     = 68
	solo5MaxEntries   = 64
	solo5TypeBlock    = 1
	solo5TypeNet      = 2
	solo5ReservedType = 1 << 30 // MFT_RESERVED_FIRST and above: not devices
	solo5ABIInfoSize  = 16
)

// solo5Targets maps enum abi_target to the tender names.
var solo5Targets = map[uint32]Solo5Target{
	1: Solo5Target(HVT), 2: Solo5Target(SPT), 3: "virtio", 4: "muen", 5: "genode", 6: "xen",
}

// ReadSolo5Manifest reads the device manifest (and the target ABI, when
// present) of the Solo5 unikernel at path. It looks in the PT_NOTE
// segments, where the tenders look, then in a .note.solo5.manifest
// section. A file without a manifest is ErrNoSolo5Manifest.
func ReadSolo5Manifest(path string) (Solo5Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return Solo5Manifest{}, fmt.Errorf("read solo5 manifest: %w", err)
	}
	defer f.Close()
	m, err := readSolo5Manifest(f)
	if err != nil {
		return Solo5Manifest{}, fmt.Errorf("read solo5 manifest of %q: %w", path, err)
	}
	return m, nil
}

// ReadSolo5ManifestAt is ReadSolo5Manifest on an open file; the caller
// names it.
func ReadSolo5ManifestAt(r io.ReaderAt) (Solo5Manifest, error) {
	m, err := readSolo5Manifest(r)
	if err != nil {
		return Solo5Manifest{}, fmt.Errorf("read solo5 manifest: %w", err)
	}
	return m, nil
}

// readSolo5Manifest parses the notes of the ELF file read through r.
func readSolo5Manifest(r io.ReaderAt) (Solo5Manifest, error) {
	img, err := openELF(r)
	if err != nil {
		return Solo5Manifest{}, err
	}
	if img.class != elf.ELFCLASS64 {
		return Solo5Manifest{}, fmt.Errorf("%v: solo5 unikernels are 64-bit ELF", img.class)
	}
	blobs, err := noteBlobs(img)
	if err != nil {
		return Solo5Manifest{}, err
	}
	var m Solo5Manifest
	found := false
	for _, data := range blobs {
		ok, err := m.scanNotes(data, img.bo)
		if err != nil {
			return Solo5Manifest{}, err
		}
		found = found || ok
	}
	if !found {
		return Solo5Manifest{}, ErrNoSolo5Manifest
	}
	return m, nil
}

// noteBlobs returns the contents of every PT_NOTE segment, or, when
// there are none, of the .note.solo5.* sections.
func noteBlobs(img *elfImage) ([][]byte, error) {
	out, err := img.noteSegments()
	if err != nil || len(out) > 0 {
		return out, err
	}
	secs, err := img.noteSections()
	if err != nil {
		return nil, err
	}
	for _, name := range []string{".note.solo5.abi", ".note.solo5.manifest"} {
		for _, s := range secs {
			if s.name != name {
				continue
			}
			data, err := img.sectionData(s)
			if err != nil {
				return nil, err
			}
			out = append(out, data)
			break // the first of that name, as elf.File.Section finds
		}
	}
	return out, nil
}

// scanNotes walks the notes in data (4-byte aligned, as ELF notes are)
// and fills m from the Solo5 ones. It reports whether a manifest was
// found.
func (m *Solo5Manifest) scanNotes(data []byte, bo binary.ByteOrder) (bool, error) {
	found := false
	var bad error
	err := walkNotes(data, bo, func(n elfNote) bool {
		if string(n.Name) != solo5NoteName || n.DescOff != solo5NoteHdrSize {
			return true
		}
		switch n.Type {
		case solo5NoteMFT1:
			devs, err := parseSolo5MFT(n.Desc, bo)
			if err != nil {
				bad = err
				return false
			}
			m.Devices, found = devs, true
		case solo5NoteABI1:
			m.parseABI1(n.Desc, bo)
		}
		return true
	})
	if bad != nil {
		return found, bad
	}
	return found, err
}

// parseABI1 reads struct abi1_info (4-aligned: no padding after the header).
func (m *Solo5Manifest) parseABI1(desc []byte, bo binary.ByteOrder) {
	if len(desc) < solo5ABIInfoSize {
		return
	}
	target := bo.Uint32(desc[0:])
	m.Target = solo5Targets[target]
	if m.Target == "" {
		m.Target = Solo5Target(fmt.Sprintf("unknown-%d", target))
	}
	m.ABIVersion = bo.Uint32(desc[4:])
}

// parseSolo5MFT decodes struct mft from a MFT1 note descriptor, checking
// what the tender's mft_validate checks.
func parseSolo5MFT(desc []byte, bo binary.ByteOrder) ([]Solo5Device, error) {
	pad := int(alignUp(solo5NoteHdrSize, solo5MFTAlign) - solo5NoteHdrSize)
	if len(desc) < pad+solo5MFTHdrSize {
		return nil, fmt.Errorf("solo5 manifest note: %d bytes is too short", len(desc))
	}
	mft := desc[pad:]
	version, entries := bo.Uint32(mft[0:]), bo.Uint32(mft[4:])
	switch {
	case version != solo5MFTVersion:
		return nil, fmt.Errorf("solo5 manifest version %d: %w (want %d)", version, ErrNotSupported, solo5MFTVersion)
	case entries > solo5MaxEntries:
		return nil, fmt.Errorf("solo5 manifest: %d entries, at most %d", entries, solo5MaxEntries)
	case len(mft) != solo5MFTHdrSize+int(entries)*solo5EntrySize:
		return nil, fmt.Errorf("solo5 manifest: %d bytes for %d entries, want %d "+
			"(not the Solo5 >= 0.6 LP64 layout)", len(mft), entries, solo5MFTHdrSize+int(entries)*solo5EntrySize)
	}
	var devs []Solo5Device
	for i := range int(entries) {
		e := mft[solo5MFTHdrSize+i*solo5EntrySize:][:solo5EntrySize]
		d, ok, err := parseSolo5Entry(e, bo)
		if err != nil {
			return nil, fmt.Errorf("solo5 manifest entry %d: %w", i, err)
		}
		if ok {
			devs = append(devs, d)
		}
	}
	return devs, nil
}

// parseSolo5Entry decodes one struct mft_entry; reserved entries (the
// MFT_RESERVED_FIRST entry elftool puts first) are skipped.
func parseSolo5Entry(e []byte, bo binary.ByteOrder) (Solo5Device, bool, error) {
	raw := e[:solo5NameSize]
	nul := bytes.IndexByte(raw, 0)
	if nul < 0 {
		return Solo5Device{}, false, fmt.Errorf("name is not NUL-terminated")
	}
	name := string(raw[:nul])
	typ := bo.Uint32(e[solo5NameSize:])
	switch {
	case typ >= solo5ReservedType:
		return Solo5Device{}, false, nil
	case typ == solo5TypeNet:
		return Solo5Device{Name: name, Type: Solo5NetBasic}, true, nil
	case typ == solo5TypeBlock:
		return Solo5Device{Name: name, Type: Solo5BlockBasic}, true, nil
	default:
		return Solo5Device{}, false, fmt.Errorf("device %q: type %d: %w", name, typ, ErrNotSupported)
	}
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) &^ (a - 1) }
