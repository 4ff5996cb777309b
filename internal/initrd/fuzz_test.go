package initrd

import (
	"bytes"
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"
)

// FuzzBuildExtras: for any two extra files, Build either refuses them with
// one of its errors or writes an archive that reads back with relative,
// clean, ".."-free names, each extra holding its data, within the budget,
// and whose size is exactly what the budget charged.
func FuzzBuildExtras(f *testing.F) {
	f.Add("/.urunit/urunit", uint32(0o755), []byte("ELF"), "etc/resolv.conf", uint32(0o644))
	f.Add("a/b/../c", uint32(0o644), []byte{}, "/a", uint32(fs.ModeDir|0o755))
	f.Add("//x///y/", uint32(fs.ModeSymlink|0o777), []byte("../../etc"), "x", uint32(0o600))
	f.Add("dev/null", uint32(fs.ModeDevice|fs.ModeCharDevice), []byte{}, "d", uint32(fs.ModeDir))
	f.Add(strings.Repeat("n/", 2100), uint32(0o644), []byte("x"), "y", uint32(0o644))
	f.Fuzz(func(t *testing.T, p1 string, m1 uint32, data []byte, p2 string, m2 uint32) {
		extra := []File{{Path: p1, Mode: fs.FileMode(m1), Data: data}, {Path: p2, Mode: fs.FileMode(m2)}}
		b := &Budget{Max: 64 << 10}
		var out bytes.Buffer
		err := BuildLimited(&out, "", extra, nil, b)
		if err != nil {
			known := []error{ErrBadPath, ErrConflict, ErrUnsupportedType, ErrTooLarge, ErrNewcLimit}
			if !slices.ContainsFunc(known, func(e error) bool { return errors.Is(err, e) }) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if int64(out.Len()) != b.Used() || b.Used() > b.Max {
			t.Fatalf("archive %d bytes, budget used %d of %d", out.Len(), b.Used(), b.Max)
		}
		got := readBack(t, out.Bytes())
		for _, e := range extra {
			name, _ := cleanPath(e.Path)
			if again, err := cleanPath(name); err != nil || again != name {
				t.Fatalf("cleanPath(%q) = %q, cleaned again %q, %v", e.Path, name, again, err)
			}
			body, ok := got[name]
			if !ok {
				t.Fatalf("extra %q (%q) missing from %v", e.Path, name, got)
			}
			if !e.Mode.IsDir() && body != string(e.Data) {
				t.Fatalf("extra %q holds %q, want %q", name, body, e.Data)
			}
		}
	})
}

// readBack returns the archive's entries by name, checking each name.
func readBack(t *testing.T, data []byte) map[string]string {
	got := map[string]string{}
	for _, e := range readArchive(t, data) {
		n := e.name
		if n == "" || strings.HasPrefix(n, "/") || path.Clean(n) != n || slices.Contains(strings.Split(n, "/"), "..") {
			t.Fatalf("archive name %q", n)
		}
		if _, dup := got[n]; dup {
			t.Fatalf("archive holds %q twice", n)
		}
		got[n] = e.data
	}
	return got
}
