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

	"github.com/urunc-runtime/urunc/internal/testutil/solo5elf"
)

// The synthetic unikernels come from the shared test-support package; the
// short names keep the tables readable.
type mftEntry = solo5elf.Entry

var (
	le                = binary.LittleEndian
	solo5ManifestNote = solo5elf.ManifestNote
	solo5ABINote      = solo5elf.ABINote
	withReserved      = solo5elf.WithReserved
)

// noteELF builds an ELF64 little-endian x86-64 executable with one PT_NOTE
// segment per entry of segs and SHT_NOTE sections named secNames holding secs.
func noteELF(class elf.Class, segs [][]byte, secNames []string, secs [][]byte) []byte {
	return solo5elf.ELF(class, segs, solo5elf.Sections{Names: secNames, Data: secs})
}

func TestReadSolo5Manifest(t *testing.T) {
	netBlock := withReserved(solo5elf.Net("service"), solo5elf.Block("storage"))
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
	short := solo5ManifestNote(1, withReserved(solo5elf.Net("x")))
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
			[][]byte{solo5ManifestNote(1, withReserved(mftEntry{Name: "pci0", Type: 3}))}, nil, nil), ErrNotSupported},
		{"entry count disagrees with size", noteELF(elf.ELFCLASS64, [][]byte{short}, nil, nil), nil},
		{"name not terminated", noteELF(elf.ELFCLASS64,
			[][]byte{solo5ManifestNote(1, withReserved(solo5elf.Net(string(long))))}, nil, nil), nil},
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
		solo5ManifestNote(1, withReserved(solo5elf.Net("service")))}, nil, nil)
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
