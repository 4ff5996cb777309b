package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// guestKernel points e at the project's own kernel (9p built in), or skips.
func guestKernel(t *testing.T, e *env) {
	t.Helper()
	kernel := os.Getenv("URUNC_GUEST_KERNEL")
	if _, err := os.Stat(kernel); err != nil {
		t.Skipf("project guest kernel %q missing: run `make guest-kernel`", kernel)
	}
	e.kernel = kernel
}

// shellBundle is a Linux-guest bundle whose app is busybox sh running script.
func (e *env) shellBundle(t *testing.T, script string) *bundle {
	bb := busyboxBundle(t, "/bin/sh", "-c", script)
	copyFile(t, e.kernel, bb.rootfs("boot/vmlinuz"), 0o644)
	bb.spec.Annotations = map[string]string{
		"com.urunc.unikernel.unikernelType": "linux",
		"com.urunc.unikernel.hypervisor":    "qemu",
		"com.urunc.unikernel.binary":        "/boot/vmlinuz",
	}
	return bb
}

func bindMount(src, dst string, ro bool) specs.Mount {
	opts := []string{"rbind", "rw"}
	if ro {
		opts = []string{"rbind", "ro"}
	}
	return specs.Mount{Source: src, Destination: dst, Type: "bind", Options: opts}
}

// A 9p-rooted guest reads a file of its image and writes into a volume the
// test then finds on the host; a read-only volume refuses the write.
func TestSharedRootfsAndVolumes(t *testing.T) {
	e := setup(t, true)
	guestKernel(t, e)
	r := e.runtime(t)
	vol, rovol := t.TempDir(), t.TempDir()
	b := e.shellBundle(t, "cat /in-image.txt; mount | grep -c ' / type 9p'; echo written > /vol/out.txt; "+
		"echo x > /rovol/x 2>/dev/null || echo ro-refused")
	writeFile(t, b.rootfs("in-image.txt"), "from the image\n")
	b.spec.Annotations["com.urunc.unikernel.mountRootfs"] = "true"
	b.spec.Mounts = append(b.spec.Mounts, bindMount(vol, "/vol", false), bindMount(rovol, "/rovol", true))
	res := r.urunc("run", "--bundle", b.write(), "st1")
	if res.code != 0 {
		t.Fatalf("run: exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"from the image", "1\n", "ro-refused"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("guest output lacks %q:\n%s", want, res.stdout)
		}
	}
	if got, err := os.ReadFile(filepath.Join(vol, "out.txt")); err != nil || string(got) != "written\n" {
		t.Errorf("volume file on the host: %q, %v; want \"written\"", got, err)
	}
	if _, err := os.Stat(filepath.Join(rovol, "x")); err == nil {
		t.Error("the guest wrote into a read-only volume")
	}
}

// A volume for a kernel without 9p is an error at create naming the mount,
// not a silently missing folder.
func TestVolumeNeedsNineP(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	b := e.linuxBundle(t)
	b.spec.Mounts = append(b.spec.Mounts, bindMount(t.TempDir(), "/data", false))
	res := r.urunc("create", "--bundle", b.write(), "st2")
	if res.code == 0 || !strings.Contains(res.stderr, "volume") || !strings.Contains(res.stderr, "/data") || !strings.Contains(res.stderr, "9p") {
		t.Errorf("create: exit %d, stderr %q; want an error naming the volume and 9p", res.code, res.stderr)
	}
}

// A guest kernel crash is a failed container (exit 1 through pvpanic), not
// a clean-looking 0 from the reboot that follows a panic.
func TestGuestPanicIsAFailure(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	b := e.shellBundle(t, "echo c > /proc/sysrq-trigger; echo survived")
	e.withModules(t, b) // pvpanic's driver is a module in Debian's kernel
	res := r.urunc("run", "--bundle", b.write(), "panic1")
	if res.code != 1 || strings.Contains(res.stdout, "survived") {
		t.Errorf("run of a crashing guest: exit %d, stdout tail %q; want 1", res.code, tail(res.stdout, 200))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// A container block device (linux.devices, as Kubernetes volumeDevices
// become) reaches a Linux guest as a disk with a node at the same path:
// the guest reads what the host wrote and its writes land on the device.
func TestBlockDeviceReachesGuest(t *testing.T) {
	e := setup(t, true)
	guestKernel(t, e)
	r := e.runtime(t)
	img := filepath.Join(t.TempDir(), "disk.img")
	data := make([]byte, 1<<20)
	copy(data, "from the host\n")
	if err := os.WriteFile(img, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("losetup: %v: %s (loop devices are needed to stand in for a volume device)", err, out)
	}
	loop := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", loop).Run() })
	var st unix.Stat_t
	if err := unix.Stat(loop, &st); err != nil {
		t.Fatal(err)
	}
	major, minor := int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))

	b := e.shellBundle(t, "head -c 14 /dev/xvdb; ls -l /dev/xvdb; "+
		"echo written-by-guest | dd of=/dev/xvdb bs=512 seek=1 conv=notrunc 2>/dev/null && sync && echo wrote")
	mode := os.FileMode(0o660)
	uid, gid := uint32(0), uint32(6)
	b.spec.Linux.Devices = append(b.spec.Linux.Devices, specs.LinuxDevice{
		Path: "/dev/xvdb", Type: "b", Major: major, Minor: minor, FileMode: &mode, UID: &uid, GID: &gid})
	if b.spec.Linux.Resources == nil {
		b.spec.Linux.Resources = &specs.LinuxResources{}
	}
	b.spec.Linux.Resources.Devices = append(b.spec.Linux.Resources.Devices, specs.LinuxDeviceCgroup{
		Allow: true, Type: "b", Major: &major, Minor: &minor, Access: "rwm"})
	// The image's own block file comes first: the device is the second
	// disk, and urunit finds it by serial.
	writeFile(t, b.rootfs("data.img"), strings.Repeat("x", 4096))
	b.spec.Annotations["com.urunc.unikernel.block"] = "/data.img"
	res := r.urunc("run", "--bundle", b.write(), "blkdev1")
	if res.code != 0 {
		t.Fatalf("run: exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"from the host", "brw-rw----", "wrote"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("guest output lacks %q:\n%s", want, res.stdout)
		}
	}
	got := make([]byte, 17)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(got, 512); err != nil || string(got) != "written-by-guest\n" {
		t.Errorf("device at offset 512 after the guest wrote: %q, %v", got, err)
	}
}

// A block device for a guest that cannot take one is refused at create,
// naming the device.
func TestBlockDeviceNeedsLinuxOnQEMU(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	b := e.linuxBundle(t)
	b.spec.Annotations["com.urunc.unikernel.hypervisor"] = "firecracker"
	b.spec.Linux.Devices = append(b.spec.Linux.Devices, specs.LinuxDevice{Path: "/dev/xvdb", Type: "b", Major: 7, Minor: 0})
	res := r.urunc("create", "--bundle", b.write(), "blkdev2")
	if res.code == 0 {
		r.urunc("delete", "--force", "blkdev2")
		t.Fatal("create accepted a block device for a VMM that cannot pass it")
	}
	if !strings.Contains(res.stderr, "linux.devices[") || !strings.Contains(res.stderr, "/dev/xvdb") {
		t.Errorf("create error %q does not name the device", res.stderr)
	}
	r.assertClean()
}
