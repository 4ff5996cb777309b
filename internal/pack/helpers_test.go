package pack

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// inputs writes a fake kernel, initrd, block image and application rootfs
// under a temporary folder and returns a Spec using them.
func inputs(t *testing.T) Spec {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "in", "vmlinuz-6.1"), "KERNEL", 0o644)
	write(t, filepath.Join(dir, "in", "initrd.cpio"), "INITRD", 0o644)
	write(t, filepath.Join(dir, "in", "disk.ext4"), "BLOCK", 0o600)
	write(t, filepath.Join(dir, "rootfs", "app"), "#!/bin/app", 0o755)
	write(t, filepath.Join(dir, "rootfs", "etc", "motd"), "hello", 0o644)
	write(t, filepath.Join(dir, "rootfs", "boot", "README"), "own boot files", 0o644)
	if err := os.Symlink("/app", filepath.Join(dir, "rootfs", "etc", "app-link")); err != nil {
		t.Fatal(err)
	}
	return Spec{
		Kernel:     filepath.Join(dir, "in", "vmlinuz-6.1"),
		Type:       "linux",
		Hypervisor: "qemu",
		Tag:        "urunc.local/hello:latest",
		Output:     filepath.Join(dir, "out.tar"),
	}
}

func write(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// inDir returns a path beside s.Kernel's folder.
func inDir(s Spec, rel string) string {
	return filepath.Join(filepath.Dir(filepath.Dir(s.Kernel)), rel)
}

// file is one entry of an image's flattened filesystem.
type file struct {
	kind byte
	mode int64
	data string
	link string
}

// files flattens img and returns its entries by name.
func files(t *testing.T, img v1.Image) map[string]file {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]file{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Clean(h.Name)] = file{h.Typeflag, h.Mode, string(data), h.Linkname}
	}
}

// materialize writes the regular files and folders of fs under a new
// temporary folder and returns it.
func materialize(t *testing.T, fs map[string]file) string {
	t.Helper()
	dir := t.TempDir()
	for name, f := range fs {
		p := filepath.Join(dir, name)
		switch f.kind {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			write(t, p, f.data, 0o644)
		}
	}
	return dir
}

// untar unpacks the tar file at path into a new temporary folder.
func untar(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs := map[string]file{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return materialize(t, fs)
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fs[filepath.Clean(h.Name)] = file{kind: h.Typeflag, data: string(data)}
	}
}
