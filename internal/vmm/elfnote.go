package vmm

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
)

// elfNote is one ELF note: an Elf_Nhdr (namesz, descsz, type), the name
// and the descriptor, each padded to 4 bytes.
type elfNote struct {
	Name    string // without its NUL padding
	Type    uint32
	Desc    []byte
	DescOff uint64 // offset of Desc from the start of the note
}

// parseNotes splits data into notes. A truncated note ends the walk with
// an error; the notes before it are returned.
func parseNotes(data []byte, bo binary.ByteOrder) ([]elfNote, error) {
	var out []elfNote
	for len(data) >= 12 {
		namesz := uint64(bo.Uint32(data[0:]))
		descsz := uint64(bo.Uint32(data[4:]))
		descOff := 12 + align4(namesz)
		end := descOff + align4(descsz)
		if end > uint64(len(data)) {
			return out, fmt.Errorf("truncated elf note (%d bytes, need %d)", len(data), end)
		}
		out = append(out, elfNote{
			Name:    string(bytes.TrimRight(data[12:12+namesz], "\x00")),
			Type:    bo.Uint32(data[8:]),
			Desc:    data[descOff : descOff+descsz],
			DescOff: descOff,
		})
		data = data[end:]
	}
	return out, nil
}

// noteSegments returns the contents of the PT_NOTE segments, where
// loaders (and the Solo5 tenders) look for notes.
func noteSegments(ef *elf.File) ([][]byte, error) {
	var out [][]byte
	for _, p := range ef.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		data, err := io.ReadAll(p.Open())
		if err != nil {
			return nil, fmt.Errorf("read elf note segment: %w", err)
		}
		out = append(out, data)
	}
	return out, nil
}

// sectionData returns the contents of section s.
func sectionData(s *elf.Section) ([]byte, error) {
	data, err := s.Data()
	if err != nil {
		return nil, fmt.Errorf("read elf section %q: %w", s.Name, err)
	}
	return data, nil
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }
