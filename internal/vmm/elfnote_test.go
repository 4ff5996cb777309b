package vmm

import (
	"encoding/binary"
	"testing"
)

// note is kernel_test.go's.

func TestParseNotes(t *testing.T) {
	data := append(note("Xen", xenNotePVHEntry, []byte{1, 2, 3, 4, 5}), note("Solo5", 7, nil)...)
	notes, err := parseNotes(data, binary.LittleEndian)
	if err != nil || len(notes) != 2 {
		t.Fatalf("parseNotes = %+v, %v; want 2 notes", notes, err)
	}
	if n := notes[0]; n.Name != "Xen" || n.Type != xenNotePVHEntry || len(n.Desc) != 5 || n.DescOff != 16 {
		t.Errorf("first note %+v", n)
	}
	if n := notes[1]; n.Name != "Solo5" || n.Type != 7 || len(n.Desc) != 0 || n.DescOff != 20 {
		t.Errorf("second note %+v", n)
	}
	truncated := append(note("Xen", 1, nil), note("Solo5", 2, []byte("abcdefgh"))[:20]...)
	notes, err = parseNotes(truncated, binary.LittleEndian)
	if err == nil || len(notes) != 1 || notes[0].Name != "Xen" {
		t.Errorf("truncated: %+v, %v; want the first note and an error", notes, err)
	}
}
