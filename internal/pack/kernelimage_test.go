package pack

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestKernelFromImage(t *testing.T) {
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinux")
	want := []byte("\x7fELF a kernel")
	if err := os.WriteFile(kernel, want, 0o644); err != nil {
		t.Fatal(err)
	}
	image := filepath.Join(dir, "kernel.tar")
	if _, err := Run(Spec{Kernel: kernel, Type: "linux", Hypervisor: "qemu", Tag: "urunc.local/guest-kernel:test",
		Output: image, Format: FormatDocker}); err != nil {
		t.Fatal(err)
	}
	got, err := KernelFromImage(image, dir)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(got); !bytes.Equal(data, want) {
		t.Errorf("kernel from image = %q, want %q", data, want)
	}

	// An application image takes its kernel from the kernel image.
	app := filepath.Join(dir, "app.tar")
	if _, err := Run(Spec{KernelImage: image, Type: "linux", Hypervisor: "qemu", Tag: "urunc.local/app:test",
		Output: app, Format: FormatDocker}); err != nil {
		t.Fatal(err)
	}
	if got, err = KernelFromImage(app, dir); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(got); !bytes.Equal(data, want) {
		t.Errorf("kernel of the app image = %q, want %q", data, want)
	}

	if _, err := Run(Spec{Kernel: kernel, KernelImage: image, Type: "linux", Hypervisor: "qemu", Tag: "x:y",
		Output: app}); !errors.Is(err, ErrInvalid) {
		t.Errorf("both --kernel and --kernel-image: %v, want ErrInvalid", err)
	}
	if _, err := KernelFromImage(kernel, dir); err == nil {
		t.Error("a file that is no image was taken as a kernel image")
	}
}
