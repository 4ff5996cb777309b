package e2e

import (
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// Every bad input exits non-zero with one line naming the problem, and
// leaves nothing behind: no state, VM folder, mount or process (the
// runtime's cleanup), no loop device, and no tap, ingress qdisc or filter
// in the test's network namespace or the one the bundle joins.
func TestBadInputs(t *testing.T) {
	e := setup(t, true)
	uk := func(t *testing.T, edit func(b *bundle)) string {
		b := e.linuxBundle(t)
		edit(b)
		return b.write()
	}
	annot := func(k, v string) func(b *bundle) {
		return func(b *bundle) { b.spec.Annotations["com.urunc.unikernel."+k] = v }
	}
	cases := []struct {
		name string
		args func(t *testing.T, r *runtime) []string
		want string
	}{
		{"malformed config.json", func(t *testing.T, r *runtime) []string {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "config.json"), `{"ociVersion": "1.0.2", "process": {`)
			return []string{"create", "-b", dir, "c1"}
		}, "config.json"},
		{"missing config.json", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", t.TempDir(), "c1"}
		}, "config.json not found"},
		{"missing kernel", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, annot("binary", "/boot/nope")), "c1"}
		}, "com.urunc.unikernel.binary"},
		{"kernel escapes by symlink", func(t *testing.T, r *runtime) []string {
			dir := uk(t, annot("binary", "/boot/link"))
			if err := os.Symlink("../../../../../../etc/hostname", filepath.Join(dir, "rootfs/boot/link")); err != nil {
				t.Fatal(err)
			}
			return []string{"create", "-b", dir, "c1"}
		}, "leaves the container rootfs"},
		{"unknown hypervisor", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, annot("hypervisor", "vmware")), "c1"}
		}, "com.urunc.unikernel.hypervisor"},
		{"unknown type", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, annot("unikernelType", "windows")), "c1"}
		}, "com.urunc.unikernel.unikernelType"},
		{"bad template annotation", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(b *bundle) { b.spec.Annotations["com.urunc.template"] = "maybe" }), "c1"}
		}, "com.urunc.template"},
		{"relative template folder", func(t *testing.T, r *runtime) []string {
			r.e = withConfig(t, r.e, "[templates]\nenabled = true\ndir = \"templates\"\n")
			return []string{"create", "-b", uk(t, func(b *bundle) {}), "c1"}
		}, "templates.dir"},
		{"partial annotations", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(b *bundle) { delete(b.spec.Annotations, "com.urunc.unikernel.binary") }), "c1"}
		}, "com.urunc.unikernel.binary"},
		{"bad base64 in urunc.json", func(t *testing.T, r *runtime) []string {
			dir := uk(t, func(b *bundle) { b.spec.Annotations = nil })
			writeFile(t, filepath.Join(dir, "rootfs/urunc.json"), `{"com.urunc.unikernel.unikernelType": "!!not base64!!"}`)
			return []string{"create", "-b", dir, "c1"}
		}, "urunc.json"},
		{"missing qemu binary", func(t *testing.T, r *runtime) []string {
			r.e = withConfig(t, r.e, "[qemu]\nbinary = \"/nonexistent/qemu-system-x86_64\"\n")
			return []string{"create", "-b", uk(t, func(*bundle) {}), "c1"}
		}, "qemu"},
		// An id is one folder name, by runc's rule, for every verb: the
		// sentinel beside the state root must survive each attempt.
		{"id climbing out of the state root", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(*bundle) {}), "../.."}
		}, "invalid container id"},
		{"id with a slash", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(*bundle) {}), "a/b"}
		}, "invalid container id"},
		{"id of dots", func(t *testing.T, r *runtime) []string {
			return []string{"run", "-b", busyboxBundle(t, "true").write(), ".."}
		}, "invalid container id"},
		{"id with a space", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(*bundle) {}), "a b"}
		}, "invalid container id"},
		{"id too long", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(*bundle) {}), strings.Repeat("x", 256)}
		}, "at most 255"},
		{"id reserved", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(*bundle) {}), ".urunc"}
		}, "reserved"},
		{"delete of a climbing id", func(t *testing.T, r *runtime) []string {
			return []string{"delete", "--force", "../../.."}
		}, "invalid container id"},
		{"kill of a climbing id", func(t *testing.T, r *runtime) []string {
			return []string{"kill", "../..", "KILL"}
		}, "invalid container id"},
		{"unikernel on the host's network", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(b *bundle) {
				var ns []specs.LinuxNamespace
				for _, n := range b.spec.Linux.Namespaces {
					if n.Type != specs.NetworkNamespace {
						ns = append(ns, n)
					}
				}
				b.spec.Linux.Namespaces = ns
			}), "c1"}
		}, "linux.namespaces has no network namespace"},
		{"unikernel in urunc's own network namespace", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(b *bundle) {
				for i, n := range b.spec.Linux.Namespaces {
					if n.Type == specs.NetworkNamespace {
						// the test's own namespace, which urunc shares
						b.spec.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/net", os.Getpid())
					}
				}
			}), "c1"}
		}, "which is the host's"},
		// The image's files.
		{"kernel is a folder", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, annot("binary", "/boot")), "c1"}
		}, "com.urunc.unikernel.binary"},
		{"kernel climbs out by ..", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, annot("binary", "/../../../../etc/hostname")), "c1"}
		}, "com.urunc.unikernel.binary"},
		{"kernel is no kernel", func(t *testing.T, r *runtime) []string {
			dir := uk(t, annot("binary", "/boot/junk"))
			writeFile(t, filepath.Join(dir, "rootfs/boot/junk"), strings.Repeat("not a kernel ", 100))
			return []string{"create", "-b", dir, "c1"}
		}, "com.urunc.unikernel.binary"},
		{"kernel is empty", func(t *testing.T, r *runtime) []string {
			dir := uk(t, annot("binary", "/boot/empty"))
			writeFile(t, filepath.Join(dir, "rootfs/boot/empty"), "")
			return []string{"create", "-b", dir, "c1"}
		}, "com.urunc.unikernel.binary"},
		{"kernel is a fifo", func(t *testing.T, r *runtime) []string {
			dir := uk(t, annot("binary", "/boot/fifo"))
			if err := syscall.Mkfifo(filepath.Join(dir, "rootfs/boot/fifo"), 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"create", "-b", dir, "c1"}
		}, "com.urunc.unikernel.binary"},
		// Bombs: the image's headers and sizes must not decide what urunc
		// reads or allocates.
		{"kernel with 10000 note headers over 1 GiB", func(t *testing.T, r *runtime) []string {
			dir := uk(t, annot("binary", "/boot/bomb"))
			le, n := binary.LittleEndian, 10000
			elf := make([]byte, 64+56*n)
			copy(elf, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
			le.PutUint16(elf[16:], 2)
			le.PutUint16(elf[18:], 62)
			le.PutUint64(elf[32:], 64)
			le.PutUint16(elf[52:], 64)
			le.PutUint16(elf[54:], 56)
			le.PutUint16(elf[56:], uint16(n))
			for i := range n {
				ph := elf[64+56*i:]
				le.PutUint32(ph, 4) // PT_NOTE over the whole (sparse) file
				le.PutUint64(ph[32:], 1<<30)
				le.PutUint64(ph[40:], 1<<30)
			}
			writeFile(t, filepath.Join(dir, "rootfs/boot/bomb"), string(elf))
			if err := os.Truncate(filepath.Join(dir, "rootfs/boot/bomb"), 1<<30); err != nil {
				t.Fatal(err)
			}
			return []string{"create", "-b", dir, "c1"}
		}, "at most 1024"},
		{"rootfs file of 4 GiB or more", func(t *testing.T, r *runtime) []string {
			dir := uk(t, func(*bundle) {})
			writeFile(t, filepath.Join(dir, "rootfs/huge"), "")
			if err := os.Truncate(filepath.Join(dir, "rootfs/huge"), 5<<30); err != nil {
				t.Fatal(err)
			}
			return []string{"create", "-b", dir, "c1"}
		}, "5368709120 bytes, newc holds at most"},
		{"image initrd over the initrd limit", func(t *testing.T, r *runtime) []string {
			dir := uk(t, annot("initrd", "/boot/initrd.img"))
			writeFile(t, filepath.Join(dir, "rootfs/boot/initrd.img"), "")
			if err := os.Truncate(filepath.Join(dir, "rootfs/boot/initrd.img"), 3<<30); err != nil {
				t.Fatal(err)
			}
			return []string{"create", "-b", dir, "c1"}
		}, "[limits] initrd_max_bytes"},
		{"missing initrd", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, annot("initrd", "/boot/initrd.img")), "c1"}
		}, "com.urunc.unikernel.initrd"},
		{"missing block image", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, annot("block", "/data.img")), "c1"}
		}, "com.urunc.unikernel.block"},
		{"guest the vmm cannot run", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(b *bundle) {
				b.spec.Annotations["com.urunc.unikernel.unikernelType"] = "mirage"
				b.spec.Annotations["com.urunc.unikernel.hypervisor"] = "firecracker"
			}), "c1"}
		}, "com.urunc.unikernel.hypervisor"},
		{"mountRootfs not a boolean", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, annot("mountRootfs", "perhaps")), "c1"}
		}, "com.urunc.unikernel.mountRootfs"},
		{"image cmdline ends urunc's options", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, annot("cmdline", "quiet -- /bin/sh")), "c1"}
		}, "com.urunc.unikernel.cmdline"},
		{"image cmdline sets urunit's parameters", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, annot("cmdline", "urunit.halt=poweroff")), "c1"}
		}, "com.urunc.unikernel.cmdline"},
		{"urunc.json not JSON", func(t *testing.T, r *runtime) []string {
			dir := uk(t, func(b *bundle) { b.spec.Annotations = nil })
			writeFile(t, filepath.Join(dir, "rootfs/urunc.json"), `{"com.urunc.unikernel.unikernelType": `)
			return []string{"create", "-b", dir, "c1"}
		}, "urunc.json"},
		// The spec.
		{"memory limit below the floor", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(b *bundle) {
				limit := int64(32 << 20)
				b.spec.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
			}), "c1"}
		}, "linux.resources.memory.limit"},
		{"no process args", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(b *bundle) { b.spec.Process.Args = nil }), "c1"}
		}, "process.args"},
		{"relative cwd", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(b *bundle) { b.spec.Process.Cwd = "srv" }), "c1"}
		}, "process.cwd"},
		{"no linux section", func(t *testing.T, r *runtime) []string {
			return []string{"create", "-b", uk(t, func(b *bundle) { b.spec.Linux = nil }), "c1"}
		}, "linux section"},
		// The host's configuration.
		{"unknown config key", func(t *testing.T, r *runtime) []string {
			r.e = withConfig(t, r.e, "[qemu]\nbinray = \"/x\"\n")
			return []string{"create", "-b", uk(t, func(*bundle) {}), "c1"}
		}, "qemu.binray"},
		{"relative kvm device", func(t *testing.T, r *runtime) []string {
			r.e = withConfig(t, r.e, "[host]\nkvm_device = \"kvm\"\n")
			return []string{"create", "-b", uk(t, func(*bundle) {}), "c1"}
		}, "host.kvm_device"},
		{"deprecated and current key both set", func(t *testing.T, r *runtime) []string {
			r.e = withConfig(t, r.e, "[vm]\naccel = \"tcg\"\n\n[qemu]\naccel = \"tcg\"\n")
			return []string{"create", "-b", uk(t, func(*bundle) {}), "c1"}
		}, "[qemu] accel and [vm] accel"},
		{"missing firecracker", func(t *testing.T, r *runtime) []string {
			r.e = withConfig(t, r.e, "[firecracker]\nbinary = \"/nonexistent/firecracker\"\n")
			return []string{"create", "-b", uk(t, annot("hypervisor", "firecracker")), "c1"}
		}, "firecracker"},
		{"missing urunit", func(t *testing.T, r *runtime) []string {
			r.e = withConfig(t, r.e, "[linux]\nurunit = \"/nonexistent/urunit\"\n")
			return []string{"create", "-b", uk(t, func(*bundle) {}), "c1"}
		}, "[linux] urunit"},
		{"unknown container id", func(t *testing.T, r *runtime) []string {
			return []string{"state", "nosuch"}
		}, "nosuch"},
		{"start twice", func(t *testing.T, r *runtime) []string {
			r.ok("create", "-b", busyboxBundle(t, "sleep", "600").write(), "c1")
			r.ok("start", "c1")
			t.Cleanup(func() { r.ok("delete", "--force", "c1") })
			return []string{"start", "c1"}
		}, "already running"},
		{"delete running without force", func(t *testing.T, r *runtime) []string {
			r.ok("run", "-d", "-b", busyboxBundle(t, "sleep", "600").write(), "c1")
			t.Cleanup(func() { r.ok("delete", "--force", "c1") })
			return []string{"delete", "c1"}
		}, "--force"},
		{"duplicate id", func(t *testing.T, r *runtime) []string {
			r.ok("create", "-b", busyboxBundle(t, "sleep", "600").write(), "c1")
			t.Cleanup(func() { r.ok("delete", "--force", "c1") })
			return []string{"create", "-b", busyboxBundle(t, "true").write(), "c1"}
		}, "exist"},
		{"exec into a Linux guest not started", func(t *testing.T, r *runtime) []string {
			r.ok("create", "-b", uk(t, func(*bundle) {}), "c1")
			t.Cleanup(func() { r.ok("delete", "--force", "c1") })
			return []string{"exec", "c1", "sh"}
		}, "that is created"},
		{"unknown signal", func(t *testing.T, r *runtime) []string {
			return []string{"kill", "c1", "SIGNOPE"}
		}, "SIGNOPE"},
		{"terminal without console socket", func(t *testing.T, r *runtime) []string {
			b := busyboxBundle(t, "true")
			b.spec.Process.Terminal = true
			return []string{"create", "-b", b.write(), "c1"}
		}, "console-socket"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.runtime(t)
			sentinel := filepath.Join(filepath.Dir(r.root), "sentinel")
			writeFile(t, sentinel, "")
			defer func() {
				if _, err := os.Stat(sentinel); err != nil {
					t.Errorf("a file beside the state root is gone: %v", err)
				}
			}()
			// Registered before the case's own clean-ups, so it runs after them.
			before, joined := hostObjects(""), ""
			t.Cleanup(func() {
				for _, o := range newObjects(before, hostObjects("", joined)) {
					t.Errorf("left behind: %s", o)
				}
			})
			args := tc.args(t, r)
			if joined = bundleNetns(args); joined != "" {
				maps.Copy(before, netObjects(joined))
			}
			res := r.urunc(args...)
			if res.code == 0 {
				t.Fatalf("exit 0, want an error; stdout %q", res.stdout)
			}
			lines := nonEmptyLines(res.stderr)
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("stderr %q: want one line naming %q", res.stderr, tc.want)
			}
		})
	}
}

// The keys of the old config layout still work: each is logged once, at
// warn level, naming the key that replaces it, and its value is used (the
// missing binary named through [binaries] is the one create reports).
// The only test that writes deprecated keys.
func TestDeprecatedConfigKeys(t *testing.T) {
	e := setup(t, true)
	b := e.linuxBundle(t)
	b.spec.Annotations["com.urunc.unikernel.hypervisor"] = "firecracker"
	r := e.runtime(t)
	r.e = withConfig(t, r.e, "[linux]\nurunit = \""+filepath.Join(e.bin, "urunit")+"\"\n\n"+
		"[qemu]\ndefault_vcpus = 1\n\n[binaries]\nfirecracker = \"/nonexistent/firecracker\"\n")
	res := r.urunc("create", "-b", b.write(), "c1")
	lines := nonEmptyLines(res.stderr)
	if res.code == 0 || len(lines) != 3 {
		t.Fatalf("exit %d, stderr %q: want two warnings and the error", res.code, res.stderr)
	}
	for i, want := range []string{"[binaries] firecracker is deprecated: use [firecracker] binary",
		"[qemu] default_vcpus is deprecated: use [vm] default_vcpus", "/nonexistent/firecracker"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("stderr line %d %q: want %q", i+1, lines[i], want)
		}
	}
	for _, l := range lines[:2] {
		if !strings.Contains(l, "level=warning") {
			t.Errorf("%q is not a warning", l)
		}
	}
}

// withConfig is e with another urunc config file.
func withConfig(t *testing.T, e *env, body string) *env {
	e2 := *e
	e2.config = filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, e2.config, body)
	return &e2
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
