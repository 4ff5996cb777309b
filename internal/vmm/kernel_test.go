package vmm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// note renders one ELF note.
func note(name string, typ uint32, desc []byte) []byte {
	var b bytes.Buffer
	n := append([]byte(name), 0)
	le := binary.LittleEndian
	_ = binary.Write(&b, le, [3]uint32{uint32(len(n)), uint32(len(desc)), typ})
	b.Write(pad4(n))
	b.Write(pad4(desc))
	return b.Bytes()
}

func pad4(b []byte) []byte { return append(b, make([]byte, int(align4(uint64(len(b))))-len(b))...) }

// elfOpts describes a synthetic ELF64 little-endian x86-64 file.
type elfOpts struct {
	segNotes []byte // contents of a PT_NOTE segment, if any
	secNotes []byte // contents of a SHT_NOTE section, if any
	payload  []byte // bytes placed right after the headers (e.g. a multiboot header)
}

// buildELF lays out: ehdr, phdrs, payload, notes, shstrtab, shdrs.
func buildELF(o elfOpts) []byte {
	le := binary.LittleEndian
	const ehsize, phsize, shsize = 64, 56, 64
	phnum := 0
	if o.segNotes != nil {
		phnum = 1
	}
	off := ehsize + phsize*phnum
	payloadOff := off
	off += len(o.payload)
	segOff := off
	off += len(o.segNotes)
	secOff := off
	off += len(o.secNotes)
	shstr := []byte("\x00.note.Xen\x00.shstrtab\x00")
	shstrOff := off
	off += len(shstr)
	off = int(align4(uint64(off)))
	shOff := off

	buf := make([]byte, shOff+3*shsize)
	copy(buf, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	le.PutUint16(buf[16:], 2)  // ET_EXEC
	le.PutUint16(buf[18:], 62) // EM_X86_64
	le.PutUint32(buf[20:], 1)
	le.PutUint64(buf[24:], 0x100000) // entry
	if phnum > 0 {
		le.PutUint64(buf[32:], ehsize)
	}
	le.PutUint64(buf[40:], uint64(shOff))
	le.PutUint16(buf[52:], ehsize)
	le.PutUint16(buf[54:], phsize)
	le.PutUint16(buf[56:], uint16(phnum))
	le.PutUint16(buf[58:], shsize)
	le.PutUint16(buf[60:], 3) // null, .note.Xen, .shstrtab
	le.PutUint16(buf[62:], 2)
	if phnum > 0 {
		ph := buf[ehsize:]
		le.PutUint32(ph[0:], 4) // PT_NOTE
		le.PutUint64(ph[8:], uint64(segOff))
		le.PutUint64(ph[32:], uint64(len(o.segNotes)))
		le.PutUint64(ph[40:], uint64(len(o.segNotes)))
		le.PutUint64(ph[48:], 4)
	}
	copy(buf[payloadOff:], o.payload)
	copy(buf[segOff:], o.segNotes)
	copy(buf[secOff:], o.secNotes)
	copy(buf[shstrOff:], shstr)
	sh := buf[shOff+shsize:] // section 1: the note section
	le.PutUint32(sh[0:], 1)  // name ".note.Xen"
	le.PutUint32(sh[4:], 7)  // SHT_NOTE
	le.PutUint64(sh[24:], uint64(secOff))
	le.PutUint64(sh[32:], uint64(len(o.secNotes)))
	le.PutUint64(sh[48:], 4)
	sh = buf[shOff+2*shsize:] // section 2: shstrtab
	le.PutUint32(sh[0:], 11)
	le.PutUint32(sh[4:], 3) // SHT_STRTAB
	le.PutUint64(sh[24:], uint64(shstrOff))
	le.PutUint64(sh[32:], uint64(len(shstr)))
	le.PutUint64(sh[48:], 1)
	return buf
}

// multiboot1 renders a valid multiboot 1 header.
func multiboot1() []byte {
	b := make([]byte, 12)
	flags := uint32(0x00010003)
	binary.LittleEndian.PutUint32(b, multibootMagic)
	binary.LittleEndian.PutUint32(b[4:], flags)
	binary.LittleEndian.PutUint32(b[8:], -(uint32(multibootMagic) + flags))
	return b
}

// multiboot2 renders a valid multiboot 2 header.
func multiboot2() []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b, multiboot2Magic)
	binary.LittleEndian.PutUint32(b[8:], 16)
	sum := uint32(multiboot2Magic) + 16
	binary.LittleEndian.PutUint32(b[12:], -sum)
	return b
}

func bzImage() []byte {
	b := make([]byte, 4096)
	b[0x1fe], b[0x1ff] = 0x55, 0xaa
	copy(b[bzImageMagicOff:], "HdrS")
	return b
}

func TestInspectKernel(t *testing.T) {
	pvh := note("Xen", xenNotePVHEntry, []byte{0, 0, 0x10, 0})
	otherXen := note("Xen", 6, []byte("linux\x00"))
	gnu := note("GNU", xenNotePVHEntry, make([]byte, 20))
	badMB := multiboot1()
	badMB[8]++ // broken checksum
	mbAt := func(off int, hdr []byte) []byte {
		b := make([]byte, off+len(hdr)+64)
		copy(b[off:], hdr)
		return b
	}
	cases := []struct {
		name string
		data []byte
		want KernelFormat
		err  error
	}{
		{"bzimage", bzImage(), FormatBzImage, nil},
		{"pvh in segment", buildELF(elfOpts{segNotes: append(append(otherXen, gnu...), pvh...)}), FormatPVH, nil},
		{"pvh in section", buildELF(elfOpts{secNotes: pvh}), FormatPVH, nil},
		{"elf without pvh", buildELF(elfOpts{segNotes: append(otherXen, gnu...)}), FormatELF, nil},
		{"elf no notes", buildELF(elfOpts{}), FormatELF, nil},
		{"multiboot elf", buildELF(elfOpts{payload: multiboot1()}), FormatMultiboot, nil},
		{"multiboot beats pvh", buildELF(elfOpts{payload: multiboot1(), segNotes: pvh}), FormatMultiboot, nil},
		{"pvh beats multiboot2", buildELF(elfOpts{payload: append(make([]byte, 8), multiboot2()...), segNotes: pvh}), FormatPVH, nil},
		{"multiboot2 elf", buildELF(elfOpts{payload: append(make([]byte, 8), multiboot2()...)}), FormatMultiboot2, nil},
		{"multiboot raw at 8188", mbAt(8180, multiboot1()), FormatMultiboot, nil},
		{"multiboot beyond 8 KiB", mbAt(8192, multiboot1()), "", ErrUnknownKernelFormat},
		{"multiboot unaligned", mbAt(6, multiboot1()), "", ErrUnknownKernelFormat},
		{"multiboot bad checksum", mbAt(0, badMB), "", ErrUnknownKernelFormat},
		{"multiboot2 raw", mbAt(16, multiboot2()), FormatMultiboot2, nil},
		{"garbage", []byte("#!/bin/sh\necho hi\n"), "", ErrUnknownKernelFormat},
		{"empty", nil, "", ErrUnknownKernelFormat},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name)
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := InspectKernel(path)
			if !errors.Is(err, c.err) || got != c.want {
				t.Fatalf("InspectKernel = %q, %v; want %q, %v", got, err, c.want, c.err)
			}
		})
	}
}

func TestInspectKernelErrors(t *testing.T) {
	if _, err := InspectKernel(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
	// An ELF magic with a truncated header is an error, not "elf".
	path := filepath.Join(t.TempDir(), "truncated")
	if err := os.WriteFile(path, []byte("\x7fELF\x02\x01\x01"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := InspectKernel(path); err == nil {
		t.Errorf("truncated elf: got %q, want an error", f)
	}
}

// TestInspectRealKernel checks the real kernels make test fetches and
// builds: Debian's bzImage (URUNC_KERNEL) and the project kernel's vmlinux
// (URUNC_GUEST_KERNEL), a PVH ELF. go test alone does without.
func TestInspectRealKernel(t *testing.T) {
	for env, want := range map[string]KernelFormat{"URUNC_KERNEL": FormatBzImage, "URUNC_GUEST_KERNEL": FormatPVH} {
		path := os.Getenv(env)
		if path == "" {
			t.Logf("%s not set (make test sets it): not checked", env)
			continue
		}
		got, err := InspectKernel(path)
		if err != nil || got != want {
			t.Errorf("InspectKernel(%s) = %q, %v; want %q", path, got, err, want)
		}
	}
}
