package pack

import (
	"archive/tar"
	"encoding/base64"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/urunc-runtime/urunc/internal/unikernel"
)

type buildCase struct {
	name  string
	edit  func(s *Spec)
	want  map[string]string // annotations, labels and urunc.json
	files []string          // paths that must exist in the image
}

var buildCases = []buildCase{
	{
		name: "linux guest with app rootfs",
		edit: func(s *Spec) {
			s.Rootfs = inDir(*s, "rootfs")
			s.Cmdline = "console=ttyS0 quiet"
			s.Entrypoint, s.Cmd, s.Env = []string{"/app"}, []string{"3"}, []string{"PATH=/bin"}
		},
		want: map[string]string{
			unikernel.KeyType: "linux", unikernel.KeyHypervisor: "qemu",
			unikernel.KeyBinary: "/boot/kernel", unikernel.KeyCmdline: "console=ttyS0 quiet",
		},
		files: []string{"app", "etc/motd", "etc/app-link", "boot/README", "boot/kernel", "urunc.json"},
	},
	{
		name: "unikraft with initrd",
		edit: func(s *Spec) {
			s.Type, s.Hypervisor, s.Version = "unikraft", "firecracker", "0.16.1"
			s.Initrd, s.Cmdline = inDir(*s, "in/initrd.cpio"), "vfs.rootfs=initrd -- /app"
		},
		want: map[string]string{
			unikernel.KeyType: "unikraft", unikernel.KeyHypervisor: "firecracker",
			unikernel.KeyBinary: "/boot/kernel", unikernel.KeyInitrd: "/boot/initrd",
			unikernel.KeyVersion: "0.16.1", unikernel.KeyCmdline: "vfs.rootfs=initrd -- /app",
		},
		files: []string{"boot/kernel", "boot/initrd", "urunc.json"},
	},
	{
		name: "rumprun with block, docker-archive",
		edit: func(s *Spec) {
			s.Type, s.Hypervisor, s.Format = "rumprun", "hvt", FormatDocker
			s.Block, s.BlockMount = inDir(*s, "in/disk.ext4"), "/data"
		},
		want: map[string]string{
			unikernel.KeyType: "rumprun", unikernel.KeyHypervisor: "hvt",
			unikernel.KeyBinary: "/boot/kernel", unikernel.KeyBlock: "/boot/block.img",
			unikernel.KeyBlkMntPoint: "/data",
		},
		files: []string{"boot/kernel", "boot/block.img", "urunc.json"},
	},
	{
		name: "boolean keys",
		edit: func(s *Spec) {
			s.Type, s.Hypervisor = "mewz", "cloud-hypervisor"
			s.MountRootfs, s.UseDMBlock = true, true
		},
		want: map[string]string{
			unikernel.KeyType: "mewz", unikernel.KeyHypervisor: "cloud-hypervisor",
			unikernel.KeyBinary: "/boot/kernel", unikernel.KeyMountRootfs: "true",
			unikernel.KeyUseDMBlock: "true",
		},
		files: []string{"boot/kernel", "urunc.json"},
	},
}

func TestRun(t *testing.T) {
	for _, tc := range buildCases {
		t.Run(tc.name, func(t *testing.T) {
			s := inputs(t)
			tc.edit(&s)
			digest, err := Run(s)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			img := readBack(t, s, digest, tc.want)
			checkConfig(t, img, s, tc.want)
			fs := files(t, img)
			for _, name := range tc.files {
				if _, ok := fs[name]; !ok {
					t.Errorf("image lacks /%s; has %v", name, slices.Sorted(maps.Keys(fs)))
				}
			}
			checkMetadataFile(t, fs, tc.want)
			checkLoad(t, fs, tc.want)
		})
	}
}

// readBack reads the archive s.Output with go-containerregistry.
func readBack(t *testing.T, s Spec, digest v1.Hash, want map[string]string) v1.Image {
	t.Helper()
	if s.Format == FormatDocker {
		img, err := tarball.ImageFromPath(s.Output, nil)
		if err != nil {
			t.Fatalf("read docker-archive: %v", err)
		}
		return img
	}
	return readOCI(t, s, digest, want)
}

// readOCI reads an OCI layout tar and checks the index and manifest
// annotations.
func readOCI(t *testing.T, s Spec, digest v1.Hash, want map[string]string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(untar(t, s.Output))
	if err != nil {
		t.Fatalf("read OCI layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index manifest: %v, %d manifests", err, len(im.Manifests))
	}
	desc := im.Manifests[0]
	for _, k := range []string{ocispec.AnnotationRefName, containerdNameAnnotation} {
		if got := desc.Annotations[k]; got != s.Tag {
			t.Errorf("index annotation %s = %q, want %q", k, got, s.Tag)
		}
	}
	if desc.Digest != digest {
		t.Errorf("index digest %s, Run returned %s", desc.Digest, digest)
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatalf("image %s: %v", desc.Digest, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	checkMap(t, "manifest annotations", m.Annotations, want)
	return img
}

func checkConfig(t *testing.T, img v1.Image, s Spec, want map[string]string) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	checkMap(t, "config labels", cf.Config.Labels, want)
	if !slices.Equal(cf.Config.Entrypoint, s.Entrypoint) || !slices.Equal(cf.Config.Cmd, s.Cmd) ||
		!slices.Equal(cf.Config.Env, s.Env) {
		t.Errorf("config entrypoint/cmd/env %q %q %q, want %q %q %q", cf.Config.Entrypoint,
			cf.Config.Cmd, cf.Config.Env, s.Entrypoint, s.Cmd, s.Env)
	}
}

func checkMap(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// checkMetadataFile decodes /urunc.json by hand: base64 values.
func checkMetadataFile(t *testing.T, fs map[string]file, want map[string]string) {
	t.Helper()
	var raw map[string]string
	if err := json.Unmarshal([]byte(fs["urunc.json"].data), &raw); err != nil {
		t.Fatalf("urunc.json: %v", err)
	}
	got := map[string]string{}
	for k, v := range raw {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatalf("urunc.json %s: %v", k, err)
		}
		got[k] = string(b)
	}
	checkMap(t, "urunc.json", got, want)
}

// checkLoad feeds the flattened image to the runtime's own metadata loader,
// with no annotations, as under docker.
func checkLoad(t *testing.T, fs map[string]file, want map[string]string) {
	t.Helper()
	rootfs := materialize(t, fs)
	c, err := unikernel.Load(nil, rootfs)
	if err != nil || c == nil {
		t.Fatalf("unikernel.Load: %v, %v", c, err)
	}
	if c.Type != want[unikernel.KeyType] || c.KernelPath != filepath.Join(rootfs, "boot", "kernel") {
		t.Errorf("unikernel.Load: type %q kernel %q", c.Type, c.KernelPath)
	}
	if fs["boot/kernel"].data != "KERNEL" || fs["boot/kernel"].kind != tar.TypeReg {
		t.Errorf("/boot/kernel = %+v", fs["boot/kernel"])
	}
}
