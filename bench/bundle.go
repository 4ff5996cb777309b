package main

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urunc-runtime/urunc/internal/testutil/images"
	"github.com/urunc-runtime/urunc/internal/testutil/ocispec"
)

// baseSpec is the spec `runc spec` writes, with args set.
func baseSpec(args ...string) *specs.Spec { return ocispec.Base("urunc-bench", args...) }

// bundle is an OCI bundle folder.
type bundle struct {
	dir  string
	spec *specs.Spec
}

func newBundle(dir string, spec *specs.Spec) *bundle {
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		panic(err)
	}
	return &bundle{dir: dir, spec: spec}
}

func (b *bundle) rootfs(p string) string { return filepath.Join(b.dir, "rootfs", p) }

// write stores config.json and returns the bundle folder.
func (b *bundle) write() string {
	data, err := json.MarshalIndent(b.spec, "", "  ")
	if err != nil {
		panic(err)
	}
	writeFile(filepath.Join(b.dir, "config.json"), string(data), 0o644)
	return b.dir
}

// appBundle is a Linux-guest unikernel bundle of one example app (from
// bin/) booting kernel.
func (bb *bench) appBundle(dir, kernel, app string, args ...string) *bundle {
	b := newBundle(dir, baseSpec(append([]string{"/" + app}, args...)...))
	copyFile(kernel, b.rootfs("boot/kernel"), 0o644)
	copyFile(filepath.Join(bb.o.bin, app), b.rootfs(app), 0o755)
	b.spec.Annotations = map[string]string{
		"com.urunc.unikernel.unikernelType": "linux",
		"com.urunc.unikernel.hypervisor":    "qemu",
		"com.urunc.unikernel.binary":        "/boot/kernel",
	}
	return b
}

// plainBundle is a runc bundle holding one example app and nothing else.
func (bb *bench) plainBundle(dir, app string, args ...string) *bundle {
	b := newBundle(dir, baseSpec(append([]string{"/" + app}, args...)...))
	copyFile(filepath.Join(bb.o.bin, app), b.rootfs(app), 0o755)
	return b
}

// busyboxBundle is a plain bundle with the host's static busybox.
func busyboxBundle(dir string, args ...string) (*bundle, error) {
	if _, err := os.Stat(images.Busybox); err != nil {
		return nil, err
	}
	b := newBundle(dir, baseSpec(args...))
	copyFile(images.Busybox, b.rootfs("bin/busybox"), 0o755)
	for _, l := range []string{"sh", "sleep", "true"} {
		if err := os.Symlink("busybox", b.rootfs("bin/"+l)); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// joinNetns makes a bundle use a named network namespace.
func joinNetns(b *bundle, name string) {
	for i, ns := range b.spec.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			b.spec.Linux.Namespaces[i].Path = "/var/run/netns/" + name
		}
	}
}
