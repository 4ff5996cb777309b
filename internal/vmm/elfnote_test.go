package vmm

import (
	"encoding/binary"
	"testing"
)

// note is kernel_test.go's.

func TestWalkNotes(t *testing.T) {
	data := append(note("Xen", xenNotePVHEntry, []byte{1, 2, 3, 4, 5}), note("Solo5", 7, nil)...)
	notes, err := collectNotes(data)
	if err != nil || len(notes) != 2 {
		t.Fatalf("walkNotes = %+v, %v; want 2 notes", notes, err)
	}
	if n := notes[0]; string(n.Name) != "Xen" || n.Type != xenNotePVHEntry || len(n.Desc) != 5 || n.DescOff != 16 {
		t.Errorf("first note %+v", n)
	}
	if n := notes[1]; string(n.Name) != "Solo5" || n.Type != 7 || len(n.Desc) != 0 || n.DescOff != 20 {
		t.Errorf("second note %+v", n)
	}
	truncated := append(note("Xen", 1, nil), note("Solo5", 2, []byte("abcdefgh"))[:20]...)
	notes, err = collectNotes(truncated)
	if err == nil || len(notes) != 1 || string(notes[0].Name) != "Xen" {
		t.Errorf("truncated: %+v, %v; want the first note and an error", notes, err)
	}
	stops := 0
	_ = walkNotes(data, binary.LittleEndian, func(elfNote) bool { stops++; return false })
	if stops != 1 {
		t.Errorf("fn returning false: walked %d notes, want 1", stops)
	}
}

func collectNotes(data []byte) ([]elfNote, error) {
	var out []elfNote
	err := walkNotes(data, binary.LittleEndian, func(n elfNote) bool { out = append(out, n); return true })
	return out, err
}
