package vmm

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// elfNote is one ELF note: an Elf_Nhdr (namesz, descsz, type), the name
// and the descriptor, each padded to 4 bytes. Name and Desc alias the
// note data: walking notes allocates nothing, however many there are.
type elfNote struct {
	Name    []byte // without its NUL padding
	Type    uint32
	Desc    []byte
	DescOff uint64 // offset of Desc from the start of the note
}

// walkNotes calls fn for each note in data, in order, until fn returns
// false. A truncated note ends the walk with an error, after fn has seen
// the notes before it.
func walkNotes(data []byte, bo binary.ByteOrder, fn func(elfNote) bool) error {
	for len(data) >= 12 {
		namesz := uint64(bo.Uint32(data[0:]))
		descsz := uint64(bo.Uint32(data[4:]))
		descOff := 12 + align4(namesz)
		end := descOff + align4(descsz)
		if end > uint64(len(data)) {
			return fmt.Errorf("truncated elf note (%d bytes, need %d)", len(data), end)
		}
		n := elfNote{
			Name:    bytes.TrimRight(data[12:12+namesz], "\x00"),
			Type:    bo.Uint32(data[8:]),
			Desc:    data[descOff : descOff+descsz],
			DescOff: descOff,
		}
		if !fn(n) {
			return nil
		}
		data = data[end:]
	}
	return nil
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }
