package initrd

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cavaliergopher/cpio"
)

// countingWriter counts bytes and keeps none: bomb inputs stay off the heap.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// sparse creates a sparse file of size bytes.
func sparse(t *testing.T, dir, name string, size int64) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// links makes n hard links to name.
func links(t *testing.T, dir, name string, n int) {
	t.Helper()
	for i := range n {
		if err := os.Link(filepath.Join(dir, name), filepath.Join(dir, name+".link"+itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
}

func itoa(i int) string {
	return string(rune('a'+i/26/26%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i%26))
}

func TestBuildLimits(t *testing.T) {
	const mib = 1 << 20
	long := strings.Repeat("d/", 2100) + "f"
	tests := []struct {
		name    string
		rootfs  func(t *testing.T, dir string)
		extra   []File
		max     int64
		want    error  // nil: the build succeeds
		mention string // the refused file, named in the error
	}{
		{"sparse 5 GiB file", func(t *testing.T, d string) { sparse(t, d, "huge", 5<<30) }, nil, 8 << 30, ErrNewcLimit, `"huge"`},
		{"exactly 4 GiB", func(t *testing.T, d string) { sparse(t, d, "four", 4<<30) }, nil, 8 << 30, ErrNewcLimit, `"four"`},
		{"file over budget", func(t *testing.T, d string) { sparse(t, d, "big", 3*mib) }, nil, 2 * mib, ErrTooLarge, `"big"`},
		{"many files over budget", func(t *testing.T, d string) {
			for i := range 40 {
				sparse(t, d, "f"+itoa(i), 64<<10)
			}
		}, nil, 2 * mib, ErrTooLarge, `"f`},
		{"extra over budget", nil, []File{{Path: "/blob", Mode: 0o644, Data: make([]byte, 3*mib)}}, 2 * mib, ErrTooLarge, `"blob"`},
		{"extra name too long", nil, []File{{Path: long, Mode: 0o644}}, 0, ErrNewcLimit, "at most 4095"},
		{"extra link target too long", nil, []File{{Path: "l", Mode: fs.ModeSymlink | 0o777, Data: []byte(long)}}, 0, ErrNewcLimit, `"l"`},
		{"1000 links to 1 MiB count once", func(t *testing.T, d string) {
			sparse(t, d, "shared", mib)
			links(t, d, "shared", 1000)
		}, nil, 2 * mib, nil, ""},
		{"links fill the budget by their headers", func(t *testing.T, d string) {
			sparse(t, d, "shared", mib)
			links(t, d, "shared", 1000)
		}, nil, mib + 100<<10, ErrTooLarge, `"shared.link`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rootfs := ""
			if tc.rootfs != nil {
				rootfs = t.TempDir()
				tc.rootfs(t, rootfs)
			}
			b := &Budget{Max: tc.max, Setting: "[limits] initrd_max_bytes"}
			var out countingWriter
			start := time.Now()
			err := BuildLimited(&out, rootfs, tc.extra, nil, b)
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("BuildLimited: %v, want %v", err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not name %s", err, tc.mention)
			}
			if errors.Is(err, ErrTooLarge) && !strings.Contains(err.Error(), "initrd_max_bytes") {
				t.Errorf("error %q does not name the setting", err)
			}
			if out.n != b.Used() || out.n > b.max() {
				t.Errorf("wrote %d bytes, budget used %d of %d", out.n, b.Used(), b.max())
			}
		})
	}
}

// TestBuildHardLinks checks the archive's hard links: contents once, on the
// first name, every name with the same inode number, and that GNU cpio
// (when present) extracts them as one file.
func TestBuildHardLinks(t *testing.T) {
	rootfs := t.TempDir()
	writeFile(t, rootfs, "a", 0o644, "shared")
	links(t, rootfs, "a", 2)
	writeFile(t, rootfs, "z", 0o644, "single")
	var buf bytes.Buffer
	if err := Build(&buf, rootfs, nil); err != nil {
		t.Fatal(err)
	}
	r := cpio.NewReader(bytes.NewReader(buf.Bytes()))
	inodes := map[string]int64{}
	for {
		hdr, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r)
		inodes[hdr.Name] = hdr.Inode
		want := ""
		switch hdr.Name {
		case "a":
			want = "shared"
		case "z":
			want = "single"
		}
		if string(body) != want || (hdr.Name != "z") != (hdr.Links == 3) {
			t.Errorf("%s: links %d, body %q, want %q", hdr.Name, hdr.Links, body, want)
		}
	}
	if inodes["a"] != inodes["a.linkaaa"] || inodes["a"] != inodes["a.linkaab"] || inodes["a"] == inodes["z"] {
		t.Errorf("inodes %v: the links should share one, z have its own", inodes)
	}
	extractWithCPIOTool(t, buf.Bytes())
}

func extractWithCPIOTool(t *testing.T, data []byte) {
	tool, err := exec.LookPath("cpio")
	if err != nil {
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(tool, "-i", "--quiet", "-D", dir)
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v: %s", err, out)
	}
	a, errA := os.Stat(filepath.Join(dir, "a"))
	l, errL := os.Stat(filepath.Join(dir, "a.linkaab"))
	body, _ := os.ReadFile(filepath.Join(dir, "a.linkaab"))
	if errA != nil || errL != nil || !os.SameFile(a, l) || string(body) != "shared" {
		t.Errorf("cpio -i: a and a.linkaab are not one file holding %q (%v, %v, %q)", "shared", errA, errL, body)
	}
}

func TestCopyFileAndReadFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "small", 0o644, "0123456789")
	sparse(t, dir, "big", 64<<20)
	b := &Budget{Max: 32 << 20, Setting: "[limits] initrd_max_bytes"}
	var out bytes.Buffer
	if err := CopyFile(&out, filepath.Join(dir, "small"), b); err != nil || out.String() != "0123456789" || b.Used() != 10 {
		t.Fatalf("CopyFile small: %v, %q, used %d", err, out.String(), b.Used())
	}
	err := CopyFile(&out, filepath.Join(dir, "big"), b)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "big") || out.Len() != 10 {
		t.Errorf("CopyFile big: %v, wrote %d bytes; want ErrTooLarge before writing", err, out.Len()-10)
	}
	if err := CopyFile(&out, dir, b); err == nil {
		t.Error("CopyFile of a directory succeeded")
	}
	fsys := os.DirFS(dir)
	if data, err := ReadFile(fsys, "small", b); err != nil || string(data) != "0123456789" {
		t.Errorf("ReadFile small: %q, %v", data, err)
	}
	if _, err := ReadFile(fsys, "big", b); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFile big: %v, want ErrTooLarge", err)
	}
}

// CopyOpen reads an open file from its start, whatever its offset, and
// names it as told, not by its descriptor.
func TestCopyOpen(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "small", 0o644, "0123456789")
	sparse(t, dir, "big", 64<<20)
	f, err := os.Open(filepath.Join(dir, "small"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(4, 0); err != nil {
		t.Fatal(err)
	}
	b := &Budget{Max: 32 << 20, Setting: "[limits] initrd_max_bytes"}
	var out bytes.Buffer
	if err := CopyOpen(&out, f, "/boot/initrd.img", b); err != nil || out.String() != "0123456789" {
		t.Fatalf("CopyOpen: %v, %q", err, out.String())
	}
	big, err := os.Open(filepath.Join(dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	err = CopyOpen(&out, big, "/boot/huge.img", b)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "/boot/huge.img") {
		t.Errorf("CopyOpen over the limit: %v, want ErrTooLarge naming /boot/huge.img", err)
	}
}
