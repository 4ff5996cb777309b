package pack

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Run builds the image s describes and writes it to s.Output in s.Format.
// It returns the image's manifest digest.
func Run(s Spec) (v1.Hash, error) {
	if s.KernelImage != "" {
		if s.Kernel != "" {
			return v1.Hash{}, fmt.Errorf("%w: --kernel and --kernel-image: give one", ErrInvalid)
		}
		dir, err := os.MkdirTemp("", "urunc-pack-")
		if err != nil {
			return v1.Hash{}, err
		}
		defer os.RemoveAll(dir)
		if s.Kernel, err = KernelFromImage(s.KernelImage, dir); err != nil {
			return v1.Hash{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	if err := s.Validate(); err != nil {
		return v1.Hash{}, err
	}
	img, err := Build(s)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := Write(img, s.Tag, s.Format, s.Output); err != nil {
		return v1.Hash{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("compute image digest: %w", err)
	}
	return d, nil
}

// Write writes img, named ref, to the file output in format (FormatOCI or
// FormatDocker). The file is replaced atomically.
func Write(img v1.Image, ref, format, output string) error {
	full, err := imageName(ref)
	if err != nil {
		return fmt.Errorf("%w: --tag %q: %w", ErrInvalid, ref, err)
	}
	var write func(io.Writer, v1.Image, string) error
	switch format {
	case FormatOCI:
		write = writeOCI
	case FormatDocker:
		write = writeDocker
	default:
		return fmt.Errorf("%w: unknown --format %q", ErrInvalid, format)
	}
	return atomicWrite(output, func(w io.Writer) error { return write(w, img, full) })
}

// writeDocker writes a docker-archive: manifest.json with RepoTags, the
// config and the layers.
func writeDocker(w io.Writer, img v1.Image, ref string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("parse %q: %w", ref, err)
	}
	if err := tarball.Write(tag, img, w); err != nil {
		return fmt.Errorf("write docker-archive: %w", err)
	}
	return nil
}

// writeOCI writes an OCI image layout as a tar stream. index.json names the
// image with org.opencontainers.image.ref.name (podman, docker) and
// io.containerd.image.name (ctr, nerdctl).
func writeOCI(w io.Writer, img v1.Image, ref string) error {
	dir, err := os.MkdirTemp("", "urunc-pack-")
	if err != nil {
		return fmt.Errorf("create layout folder: %w", err)
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("create OCI layout %q: %w", dir, err)
	}
	err = p.AppendImage(img,
		layout.WithAnnotations(map[string]string{
			ocispec.AnnotationRefName: ref,
			containerdNameAnnotation:  ref,
		}),
		layout.WithPlatform(v1.Platform{OS: OS, Architecture: Architecture}))
	if err != nil {
		return fmt.Errorf("write OCI layout: %w", err)
	}
	t, err := walkTree(dir)
	if err != nil {
		return err
	}
	return t.normalized().writeTar(w)
}

// atomicWrite writes a temporary file beside path with fill and renames it
// over path.
func atomicWrite(path string, fill func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("create --output %q: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %q: %w", f.Name(), err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("chmod %q: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename output to %q: %w", path, err)
	}
	return nil
}
