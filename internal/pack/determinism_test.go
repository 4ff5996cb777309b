package pack

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDeterministic builds the same inputs twice, the second time from
// renamed copies with other modification times, and expects identical
// archives and digests.
func TestDeterministic(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			s := inputs(t)
			s.Format, s.Rootfs, s.Initrd = format, inDir(s, "rootfs"), inDir(s, "in/initrd.cpio")
			s.Entrypoint, s.Env = []string{"/app"}, []string{"A=1"}
			first, firstData := build(t, s)

			s.Kernel = copyFile(t, s.Kernel, filepath.Join(t.TempDir(), "other-name"))
			touchAll(t, s.Rootfs, time.Now().Add(time.Hour))
			s.Output = filepath.Join(t.TempDir(), "second.tar")
			second, secondData := build(t, s)

			if first != second {
				t.Errorf("digests differ: %s then %s", first, second)
			}
			if !bytes.Equal(firstData, secondData) {
				t.Errorf("archives differ (%d and %d bytes)", len(firstData), len(secondData))
			}
		})
	}
}

func build(t *testing.T, s Spec) (string, []byte) {
	t.Helper()
	d, err := Run(s)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	data, err := os.ReadFile(s.Output)
	if err != nil {
		t.Fatal(err)
	}
	return d.String(), data
}

func copyFile(t *testing.T, src, dst string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dst, string(data), 0o600)
	return dst
}

func touchAll(t *testing.T, root string, when time.Time) {
	t.Helper()
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, when, when)
	})
	if err != nil {
		t.Fatal(err)
	}
}
