package pack

import (
	"archive/tar"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWalkTree(t *testing.T) {
	s := inputs(t)
	root := inDir(s, "rootfs")
	if err := os.Chmod(filepath.Join(root, "app"), 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	got, err := walkTree(root)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]entry{}
	for _, e := range got {
		byName[e.name] = e
	}
	tests := []struct {
		name string
		kind byte
		mode int64
		link string
	}{
		{"app", tar.TypeReg, 0o4755, ""},
		{"etc", tar.TypeDir, 0o755, ""},
		{"etc/motd", tar.TypeReg, 0o644, ""},
		{"etc/app-link", tar.TypeSymlink, 0o777, "/app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := byName[tc.name]
			if !ok {
				t.Fatalf("missing %q in %v", tc.name, got)
			}
			if e.kind != tc.kind || e.mode != tc.mode || e.link != tc.link {
				t.Errorf("got kind %c mode %o link %q", e.kind, e.mode, e.link)
			}
		})
	}
}

func TestRootfsErrors(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, root string)
		wantMsg string
	}{
		{"holds urunc.json", func(t *testing.T, root string) {
			write(t, filepath.Join(root, "urunc.json"), "{}", 0o644)
		}, "/urunc.json"},
		{"holds /boot/kernel", func(t *testing.T, root string) {
			write(t, filepath.Join(root, "boot", "kernel"), "x", 0o644)
		}, "/boot/kernel"},
		{"boot is a symlink", func(t *testing.T, root string) {
			must(t, os.RemoveAll(filepath.Join(root, "boot")))
			must(t, os.Symlink("/elsewhere", filepath.Join(root, "boot")))
		}, "/boot"},
		{"holds a fifo", func(t *testing.T, root string) {
			must(t, syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644))
		}, "unsupported file type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := inputs(t)
			s.Rootfs = inDir(s, "rootfs")
			tc.prepare(t, s.Rootfs)
			_, err := Run(s)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Run: %v, want ErrInvalid mentioning %q", err, tc.wantMsg)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
