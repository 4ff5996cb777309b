package vmm

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/urunc-runtime/urunc/internal/testutil/solo5elf"
)

// maxImageRead bounds what one note reader may read of any image: the
// kernel probe's head, the ELF header, both header tables at their limits,
// the section names and the notes.
const maxImageRead = inspectReadSize + 64 + maxProgHeaders*56 + maxSectionHeaders*64 +
	maxNoteSections*maxSectionName + maxNoteBytes

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += n
	return n, err
}

// imageSeeds are valid and edge-case images for the ELF fuzz targets.
func imageSeeds(f *testing.F) {
	pvh := note("Xen", xenNotePVHEntry, []byte{0, 0, 0x10, 0})
	net := solo5elf.WithReserved(solo5elf.Net("service"), solo5elf.Block("storage"))
	for _, seed := range [][]byte{
		bzImage(),
		buildELF(elfOpts{segNotes: pvh}),
		buildELF(elfOpts{secNotes: pvh}),
		buildELF(elfOpts{payload: multiboot1()}),
		noteELF(elf.ELFCLASS64, [][]byte{solo5ABINote(1, 2), solo5ManifestNote(1, net)}, nil, nil),
		noteELF(elf.ELFCLASS64, nil, []string{".note.solo5.abi", ".note.solo5.manifest"},
			[][]byte{solo5ABINote(1, 2), solo5ManifestNote(1, net)}),
		noteELF(elf.ELFCLASS32, [][]byte{pvh}, nil, nil),
		[]byte("\x7fELF\x02\x01\x01"),
	} {
		f.Add(seed)
	}
}

// FuzzInspectKernel: any image is classified or refused, without a panic,
// reading a bounded amount, and the bzImage check is exact.
func FuzzInspectKernel(f *testing.F) {
	imageSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &countingReaderAt{r: bytes.NewReader(data)}
		format, err := inspect(r)
		if r.n > maxImageRead {
			t.Fatalf("read %d bytes, at most %d", r.n, maxImageRead)
		}
		if err != nil {
			if format != "" {
				t.Fatalf("format %q with error %v", format, err)
			}
			return
		}
		valid := []KernelFormat{FormatBzImage, FormatMultiboot, FormatMultiboot2, FormatPVH, FormatELF}
		if !slices.Contains(valid, format) {
			t.Fatalf("format %q is none of %v", format, valid)
		}
		isBz := len(data) >= bzImageMagicOff+4 && string(data[bzImageMagicOff:bzImageMagicOff+4]) == "HdrS"
		if isBz != (format == FormatBzImage) {
			t.Fatalf("format %q for an image whose HdrS magic is %v", format, isBz)
		}
		if (format == FormatPVH || format == FormatELF) && !bytes.HasPrefix(data, []byte(elf.ELFMAG)) {
			t.Fatalf("format %q without the ELF magic", format)
		}
	})
}

// FuzzReadSolo5Manifest: a manifest read from any image holds what the
// tenders accept (at most 64 devices, NUL-free names that fit the 68-byte
// field, known types), with bounded reads.
func FuzzReadSolo5Manifest(f *testing.F) {
	imageSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &countingReaderAt{r: bytes.NewReader(data)}
		m, err := readSolo5Manifest(r)
		if r.n > maxImageRead {
			t.Fatalf("read %d bytes, at most %d", r.n, maxImageRead)
		}
		if err != nil {
			return
		}
		if len(m.Devices) > solo5MaxEntries {
			t.Fatalf("%d devices, at most %d", len(m.Devices), solo5MaxEntries)
		}
		for _, d := range m.Devices {
			if len(d.Name) >= solo5NameSize || strings.ContainsRune(d.Name, 0) {
				t.Fatalf("device name %q", d.Name)
			}
			if d.Type != Solo5NetBasic && d.Type != Solo5BlockBasic {
				t.Fatalf("device type %q", d.Type)
			}
		}
	})
}

// FuzzWalkNotes: the notes walked from data lie inside it, in order, do
// not overlap, and re-rendered they reproduce data up to where the walk
// stopped.
func FuzzWalkNotes(f *testing.F) {
	f.Add(append(note("Xen", xenNotePVHEntry, []byte{1, 2, 3, 4, 5}), note("Solo5", 7, nil)...))
	f.Add(solo5ManifestNote(1, solo5elf.WithReserved(solo5elf.Net("n"))))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var rendered []byte
		err := walkNotes(data, binary.LittleEndian, func(n elfNote) bool {
			namesz := binary.LittleEndian.Uint32(data[len(rendered):])
			var hdr [12]byte
			binary.LittleEndian.PutUint32(hdr[0:], namesz)
			binary.LittleEndian.PutUint32(hdr[4:], uint32(len(n.Desc)))
			binary.LittleEndian.PutUint32(hdr[8:], n.Type)
			start := len(rendered)
			rendered = append(rendered, hdr[:]...)
			if n.DescOff != 12+align4(uint64(namesz)) || len(n.Name) > int(namesz) {
				t.Fatalf("note at %d: DescOff %d, name %d bytes, namesz %d", start, n.DescOff, len(n.Name), namesz)
			}
			end := start + int(n.DescOff) + int(align4(uint64(len(n.Desc))))
			if end > len(data) {
				t.Fatalf("note at %d ends at %d, past %d", start, end, len(data))
			}
			rendered = append(rendered, data[start+12:end]...)
			if !bytes.Equal(n.Desc, data[start+int(n.DescOff):][:len(n.Desc)]) {
				t.Fatalf("note at %d: Desc is not the bytes at DescOff", start)
			}
			return true
		})
		if !bytes.HasPrefix(data, rendered) {
			t.Fatalf("re-rendered notes are not a prefix of the input")
		}
		if err == nil && len(data)-len(rendered) >= 12 {
			t.Fatalf("walk stopped at %d of %d without an error", len(rendered), len(data))
		}
	})
}
