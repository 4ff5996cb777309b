package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFindSerial(t *testing.T) {
	dir := t.TempDir()
	for name, serial := range map[string]string{"vda": "", "vdb": "urunc-dev0\n", "vdc": "urunc-dev1"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if serial != "" {
			if err := os.WriteFile(filepath.Join(dir, name, "serial"), []byte(serial), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for serial, want := range map[string]string{"urunc-dev0": "vdb", "urunc-dev1": "vdc"} {
		if got, err := waitSerial(dir, serial, time.Second); err != nil || got != want {
			t.Errorf("waitSerial(%q) = %q, %v; want %q", serial, got, err, want)
		}
	}
	if _, err := waitSerial(dir, "urunc-dev9", 50*time.Millisecond); err == nil {
		t.Error("waitSerial found a serial no disk has")
	}
}

func TestParseDevNumber(t *testing.T) {
	for in, want := range map[string][2]uint32{"254:16\n": {254, 16}, "8:0": {8, 0}} {
		maj, min, err := parseDevNumber(in)
		if err != nil || maj != want[0] || min != want[1] {
			t.Errorf("parseDevNumber(%q) = %d, %d, %v", in, maj, min, err)
		}
	}
	for _, bad := range []string{"", "254", "a:b", "1:-1"} {
		if _, _, err := parseDevNumber(bad); err == nil {
			t.Errorf("parseDevNumber(%q) accepted", bad)
		}
	}
}
