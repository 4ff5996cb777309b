// Package images builds small container images for tests and benchmarks
// (busybox, a pause binary, extra layers) from files given in memory, with
// go-containerregistry, and writes them as archives that ctr, nerdctl,
// podman and docker load. Test support only: never used by urunc itself.
package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/urunc-runtime/urunc/internal/pack"
)

// File is one entry of a layer.
type File struct {
	Name string // relative path; folders end in "/"
	Link string // symlink target
	Mode int64
	Data []byte
	Dir  bool
}

// epoch keeps archives reproducible.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Tar renders files as an uncompressed layer.
func Tar(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: f.Mode, ModTime: epoch, Format: tar.FormatPAX}
		switch {
		case f.Dir:
			h.Typeflag = tar.TypeDir
		case f.Link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.Link
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.Name, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Busybox is Debian's busybox-static.
const Busybox = "/bin/busybox"

// BusyboxLayer is a rootfs with /bin/busybox, one symlink per applet, the
// usual mount points and a minimal /etc/passwd and /etc/group.
func BusyboxLayer() ([]byte, error) {
	bb, err := os.ReadFile(Busybox)
	if err != nil {
		return nil, fmt.Errorf("busybox layer: %w (apt-get install busybox-static)", err)
	}
	list, err := exec.Command(Busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	files := []File{{Name: "bin/", Dir: true, Mode: 0o755}}
	for _, dir := range []string{"dev/", "etc/", "proc/", "root/", "sys/", "tmp/"} {
		files = append(files, File{Name: dir, Dir: true, Mode: 0o755})
	}
	files = append(files,
		File{Name: "bin/busybox", Mode: 0o755, Data: bb},
		File{Name: "etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")},
		File{Name: "etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnogroup:x:65534:\n")})
	applets := strings.Fields(string(list))
	sort.Strings(applets)
	for _, a := range applets {
		if a != "busybox" {
			files = append(files, File{Name: "bin/" + a, Link: "busybox", Mode: 0o777})
		}
	}
	return Tar(files)
}

// Write writes an image of layers (uncompressed tars, bottom first) with
// the process settings cfg, named ref, to path in format (pack.FormatOCI or
// pack.FormatDocker).
func Write(path, ref, format string, layers [][]byte, cfg v1.Config) error {
	img := empty.Image
	for _, data := range layers {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			return fmt.Errorf("image %s: layer: %w", ref, err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return fmt.Errorf("image %s: layer: %w", ref, err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image %s: config: %w", ref, err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Created, cf.Config = "linux", runtime.GOARCH, v1.Time{Time: epoch}, cfg
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return fmt.Errorf("image %s: config: %w", ref, err)
	}
	if format == pack.FormatOCI {
		img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	return pack.Write(img, ref, format, path)
}

// WriteBusybox writes the busybox image (Cmd sh) named ref to path.
func WriteBusybox(path, ref, format string) error {
	layer, err := BusyboxLayer()
	if err != nil {
		return err
	}
	return Write(path, ref, format, [][]byte{layer}, v1.Config{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd: []string{"sh"},
	})
}
