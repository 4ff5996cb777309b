package lifecycle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/unikernel"
)

func TestOpenBeneath(t *testing.T) {
	rootfs := t.TempDir()
	write := func(p, data string) string {
		full := filepath.Join(rootfs, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return full
	}
	kernel := write("boot/vmlinuz", "kernel")
	host := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(host, []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	// After resolution, the image swaps its files: a link to a host file,
	// a link inside the rootfs, a FIFO.
	if err := os.Symlink(host, filepath.Join(rootfs, "boot/swapped")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("vmlinuz", filepath.Join(rootfs, "boot/inside")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(rootfs, "boot/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(rootfs, "dirlink")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path string
		err  error // nil: opens
	}{
		{kernel, nil},
		{filepath.Join(rootfs, "boot/swapped"), unikernel.ErrPathEscape},
		{filepath.Join(rootfs, "boot/inside"), unikernel.ErrPathEscape},
		{filepath.Join(rootfs, "dirlink", host), unikernel.ErrPathEscape},
		{filepath.Join(rootfs, "boot/fifo"), unikernel.ErrNotRegular},
		{filepath.Join(rootfs, "boot"), unikernel.ErrNotRegular},
		{filepath.Join(rootfs, "../outside"), nil},
	}
	for _, c := range cases {
		f, err := openBeneath(rootfs, c.path)
		if c.err == nil && strings.HasSuffix(c.path, "outside") {
			if err == nil {
				t.Errorf("%s: opened a path above the rootfs", c.path)
				f.Close()
			}
			continue
		}
		if !errors.Is(err, c.err) {
			t.Errorf("openBeneath(%s) = %v, want %v", c.path, err, c.err)
		}
		if f != nil {
			b, _ := os.ReadFile(fdPath(f))
			if string(b) != "kernel" {
				t.Errorf("read %q through the descriptor, want the kernel", b)
			}
			f.Close()
		}
	}
}

// The file the init bound must be the one checked at create.
func TestVerifyBinds(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fa, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	pid := os.Getpid() // this process's root plays the container's
	if err := verifyBinds(pid, map[string]*os.File{a: fa, "/absent": nil}); err != nil {
		t.Errorf("the same file: %v", err)
	}
	if err := verifyBinds(pid, map[string]*os.File{b: fa}); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("another file at the bind: %v, want a refusal", err)
	}
}

func TestFileContains(t *testing.T) {
	needle := []byte("9P2000")
	for _, at := range []int{0, 1<<20 - 3, 1 << 20, 3<<20 + 7, -1} {
		data := make([]byte, 4<<20)
		if at >= 0 {
			copy(data[at:], needle)
		}
		p := filepath.Join(t.TempDir(), "k")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := fileContains(p, needle)
		if err != nil || got != (at >= 0) {
			t.Errorf("needle at %d: %v, %v", at, got, err)
		}
	}
}
