package trace

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	tr := New(path, "c1")
	for _, p := range []string{"create", "planned", "exec"} {
		tr.Mark(p)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var phases []string
	var last int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if r.ID != "c1" || r.Mono < last {
			t.Errorf("record %+v: wrong id or time going back", r)
		}
		last = r.Mono
		phases = append(phases, r.Phase)
	}
	if len(phases) != 3 || phases[2] != "exec" {
		t.Errorf("phases %v", phases)
	}
}

func TestNilTracerRecordsNothing(t *testing.T) {
	var tr *Tracer = New("", "c1")
	tr.Mark("create") // must not panic
	if tr != nil {
		t.Fatal("New with no path returned a tracer")
	}
}
