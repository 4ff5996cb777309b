package pack

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ErrNoKernel is returned for a kernel image without KernelPath.
var ErrNoKernel = errors.New("no " + KernelPath + " in the image")

// KernelFromImage copies the kernel out of a kernel image — a
// docker-archive written by urunc-pack, such as `make guest-kernel-image`
// makes — into a new file in dir, and returns its path. That way users
// take a prebuilt kernel instead of building one.
func KernelFromImage(archive, dir string) (string, error) {
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		return "", fmt.Errorf("--kernel-image %q: %w (want a docker-archive, urunc-pack --format docker)", archive, err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("--kernel-image %q: %w", archive, ErrNoKernel)
		}
		if err != nil {
			return "", fmt.Errorf("--kernel-image %q: read layers: %w", archive, err)
		}
		if path.Clean("/"+hdr.Name) == KernelPath && hdr.Typeflag == tar.TypeReg {
			return writeKernel(tr, dir)
		}
	}
}

func writeKernel(r io.Reader, dir string) (string, error) {
	f, err := os.CreateTemp(dir, "kernel-*")
	if err != nil {
		return "", fmt.Errorf("--kernel-image: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		return "", fmt.Errorf("--kernel-image: copy kernel: %w", err)
	}
	return f.Name(), f.Close()
}
