package vmm

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// Boot-format markers.
const (
	bzImageMagicOff = 0x202 // "HdrS" in the Linux x86 boot protocol header
	multibootMagic  = 0x1BADB002
	multibootSearch = 8192 // multiboot 1: header within the first 8 KiB, 4-byte aligned
	multiboot2Magic = 0xE85250D6
	multiboot2Scan  = 32768 // multiboot 2: header within the first 32 KiB, 8-byte aligned
	xenNotePVHEntry = 18    // XEN_ELFNOTE_PHYS32_ENTRY
	inspectReadSize = multiboot2Scan
)

// InspectKernel reports how the kernel at path boots. The checks run in the
// order QEMU's x86 loader applies them: a Linux boot-protocol header first,
// then a multiboot header (QEMU prefers it over a PVH note when a kernel has
// both), then an ELF PVH entry note. A multiboot2-only kernel and any other
// ELF are reported as such; anything else is ErrUnknownKernelFormat.
func InspectKernel(path string) (KernelFormat, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("inspect kernel: %w", err)
	}
	defer f.Close()
	format, err := inspect(f)
	if err != nil {
		return "", fmt.Errorf("inspect kernel %q: %w", path, err)
	}
	return format, nil
}

// InspectKernelAt is InspectKernel on an open file; the caller names it.
func InspectKernelAt(r io.ReaderAt) (KernelFormat, error) {
	format, err := inspect(r)
	if err != nil {
		return "", fmt.Errorf("inspect kernel: %w", err)
	}
	return format, nil
}

// inspect classifies the image read through r.
func inspect(r io.ReaderAt) (KernelFormat, error) {
	head := make([]byte, inspectReadSize)
	n, err := r.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return "", err
	}
	head = head[:n]
	if len(head) >= bzImageMagicOff+4 && string(head[bzImageMagicOff:bzImageMagicOff+4]) == "HdrS" {
		return FormatBzImage, nil
	}
	if hasMultiboot(head) {
		return FormatMultiboot, nil
	}
	isELF := bytes.HasPrefix(head, []byte(elf.ELFMAG))
	if isELF {
		pvh, err := hasPVHNote(r)
		if err != nil {
			return "", err
		}
		if pvh {
			return FormatPVH, nil
		}
	}
	if hasMultiboot2(head) {
		return FormatMultiboot2, nil
	}
	if isELF {
		return FormatELF, nil
	}
	return "", ErrUnknownKernelFormat
}

// hasMultiboot finds a multiboot 1 header: magic, flags and a checksum that
// makes the three sum to zero.
func hasMultiboot(head []byte) bool {
	end := min(len(head), multibootSearch)
	for off := 0; off+12 <= end; off += 4 {
		magic := binary.LittleEndian.Uint32(head[off:])
		if magic != multibootMagic {
			continue
		}
		flags := binary.LittleEndian.Uint32(head[off+4:])
		sum := binary.LittleEndian.Uint32(head[off+8:])
		if magic+flags+sum == 0 {
			return true
		}
	}
	return false
}

// hasMultiboot2 finds a multiboot 2 header: magic, architecture, header
// length and a checksum that makes the four sum to zero.
func hasMultiboot2(head []byte) bool {
	end := min(len(head), multiboot2Scan)
	for off := 0; off+16 <= end; off += 8 {
		magic := binary.LittleEndian.Uint32(head[off:])
		if magic != multiboot2Magic {
			continue
		}
		arch := binary.LittleEndian.Uint32(head[off+4:])
		length := binary.LittleEndian.Uint32(head[off+8:])
		sum := binary.LittleEndian.Uint32(head[off+12:])
		if magic+arch+length+sum == 0 {
			return true
		}
	}
	return false
}

// hasPVHNote looks for a Xen PHYS32_ENTRY note in the PT_NOTE segments and
// the SHT_NOTE sections of an ELF file. A truncated note ends the search of
// its blob, as a loader would stop there. Reads are bounded (elfread.go).
func hasPVHNote(r io.ReaderAt) (bool, error) {
	img, err := openELF(r)
	if err != nil {
		return false, err
	}
	blobs, err := img.noteSegments()
	if err != nil {
		return false, err
	}
	secs, err := img.noteSections()
	if err != nil {
		return false, err
	}
	for _, s := range secs {
		data, err := img.sectionData(s)
		if err != nil {
			return false, err
		}
		blobs = append(blobs, data)
	}
	for _, data := range blobs {
		if hasNote(data, img.bo, "Xen", xenNotePVHEntry) {
			return true, nil
		}
	}
	return false, nil
}

// hasNote reports whether data holds a note of the given owner and type
// before any truncated note.
func hasNote(data []byte, bo binary.ByteOrder, name string, typ uint32) bool {
	found := false
	_ = walkNotes(data, bo, func(n elfNote) bool {
		found = string(n.Name) == name && n.Type == typ
		return !found
	})
	return found
}
