package initrd

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

// fullWriter takes left bytes, then fails as a full disk does.
type fullWriter struct{ left int }

func (w *fullWriter) Write(p []byte) (int, error) {
	if len(p) <= w.left {
		w.left -= len(p)
		return len(p), nil
	}
	n := w.left
	w.left = 0
	return n, syscall.ENOSPC
}

// A full disk under the initrd is named as such, not as a file that
// changed while read.
func TestBuildFullDisk(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "big", 0o644, strings.Repeat("x", 1<<20))
	err := Build(&fullWriter{left: 64 << 10}, dir, nil)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Build() onto a full disk: %v, want ENOSPC", err)
	}
	if strings.Contains(err.Error(), "changed while read") {
		t.Errorf("Build() onto a full disk blames the file: %v", err)
	}
}
