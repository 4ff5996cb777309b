package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urunc-runtime/urunc/internal/testutil/ocispec"
)

// baseSpec is the spec `runc spec` writes, with args set.
func baseSpec(args ...string) *specs.Spec { return ocispec.Base("urunc-test", args...) }

// bundle is an OCI bundle folder under construction.
type bundle struct {
	t    *testing.T
	dir  string
	spec *specs.Spec
}

func newBundle(t *testing.T, spec *specs.Spec) *bundle {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &bundle{t: t, dir: dir, spec: spec}
}

func (b *bundle) rootfs(p string) string { return filepath.Join(b.dir, "rootfs", p) }

// write stores config.json and returns the bundle folder.
func (b *bundle) write() string {
	data, err := json.MarshalIndent(b.spec, "", "  ")
	if err != nil {
		b.t.Fatal(err)
	}
	writeFile(b.t, filepath.Join(b.dir, "config.json"), string(data))
	return b.dir
}

// linuxBundle is a Linux-guest unikernel bundle running the hello app.
func (e *env) linuxBundle(t *testing.T, args ...string) *bundle {
	b := newBundle(t, baseSpec(append([]string{"/hello"}, args...)...))
	copyFile(t, e.kernel, b.rootfs("boot/vmlinuz"), 0o644)
	copyFile(t, filepath.Join(e.bin, "hello"), b.rootfs("hello"), 0o755)
	e.agentModules(t, b.rootfs(""))
	b.spec.Annotations = map[string]string{
		"com.urunc.unikernel.unikernelType": "linux",
		"com.urunc.unikernel.hypervisor":    "qemu",
		"com.urunc.unikernel.binary":        "/boot/vmlinuz",
	}
	return b
}

// withModules lays the guest kernel's modules (virtio, virtio-net, ...)
// that `make kernel` keeps beside it into the bundle's rootfs.
func (e *env) withModules(t *testing.T, b *bundle) {
	src := filepath.Join(filepath.Dir(e.kernel), "modules", "lib")
	if _, err := os.Stat(src); err != nil {
		t.Skipf("guest kernel modules missing in %s: run `make kernel`", src)
	}
	if out, err := exec.Command("cp", "-a", src, b.rootfs("")).CombinedOutput(); err != nil {
		t.Fatalf("copy modules: %v: %s", err, out)
	}
}

// agentModules lays the guest kernel's modules into rootfs when the
// kernel keeps them beside it (Debian's, whose virtio_console is a module):
// without it urunit has no agent channel, and the container's exit status
// is QEMU's. A kernel with the drivers built in has none to copy.
func (e *env) agentModules(t *testing.T, rootfs string) {
	t.Helper()
	src := filepath.Join(filepath.Dir(e.kernel), "modules", "lib")
	if _, err := os.Stat(src); err != nil {
		return
	}
	if out, err := exec.Command("cp", "-a", src, rootfs).CombinedOutput(); err != nil {
		t.Fatalf("copy modules: %v: %s", err, out)
	}
}

// uruncJSON writes /urunc.json with base64 values instead of annotations.
func (b *bundle) uruncJSON(kv map[string]string) {
	enc := map[string]string{}
	for k, v := range kv {
		enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	data, _ := json.Marshal(enc)
	writeFile(b.t, b.rootfs("urunc.json"), string(data))
}

// busyboxBundle is a plain container bundle with busybox.
func busyboxBundle(t *testing.T, args ...string) *bundle {
	bb := "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		t.Skip("busybox not installed: run `make deps` (busybox-static)")
	}
	b := newBundle(t, baseSpec(args...))
	copyFile(t, bb, b.rootfs("bin/busybox"), 0o755)
	for _, l := range []string{"sh", "sleep", "echo", "true", "false", "cat"} {
		if err := os.Symlink("busybox", b.rootfs("bin/"+l)); err != nil {
			t.Fatal(err)
		}
	}
	return b
}
