package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// packHello builds a Linux-guest image of the hello app with urunc-pack
// and imports it; cmd are hello's arguments (status, seconds).
func packHello(t *testing.T, e *env, d *ctrdDaemon, ref string, cmd ...string) string {
	t.Helper()
	archive := packApp(t, e, ref, "hello", false, cmd...)
	d.ctrOK("images", "import", archive)
	return ref
}

// packApp builds a Linux-guest image archive of one of the built example
// apps, optionally with the guest kernel's modules (needed for networking
// with Debian's kernel), and returns the archive's path.
func packApp(t *testing.T, e *env, ref, app string, modules bool, cmd ...string) string {
	t.Helper()
	b := newBundle(t, baseSpec("/"+app))
	copyFile(t, filepath.Join(e.bin, app), b.rootfs(app), 0o755)
	if modules {
		e.withModules(t, b)
	} else {
		e.agentModules(t, b.rootfs(""))
	}
	archive := filepath.Join(t.TempDir(), app+".tar")
	args := []string{"--kernel", e.kernel, "--type", "linux", "--hypervisor", "qemu",
		"--rootfs", b.rootfs(""), "--entrypoint", "/" + app, "--tag", ref, "--output", archive}
	for _, c := range cmd {
		args = append(args, "--cmd", c)
	}
	if out, err := exec.Command(filepath.Join(e.bin, "urunc-pack"), args...).CombinedOutput(); err != nil {
		t.Fatalf("urunc-pack: %v\n%s", err, out)
	}
	return archive
}

// uruncCtrd starts a containerd for unikernel tests, or skips.
func uruncCtrd(t *testing.T) (*env, *ctrdDaemon) {
	e := setup(t, true)
	if _, err := os.Stat(filepath.Join(e.bin, "urunc-pack")); err != nil {
		t.Skip("urunc-pack not built: run `make`")
	}
	ctrdNeedUrunc(t)
	return e, ctrdStart(t)
}

func TestCtrRunUnikernel(t *testing.T) {
	e, d := uruncCtrd(t)
	// An even status: QEMU's exit device alone would make it 43.
	ref := packHello(t, e, d, "urunc.local/hello:exit42", "42")
	out, errs, code := d.ctr("run", "--rm", "--runtime", ctrdUruncRuntime, ref, "u1")
	if code != 42 || !strings.Contains(out, "hello from guest") {
		t.Fatalf("ctr run: exit %d, stdout %q, stderr %q; want 42 and the guest's line", code, out, errs)
	}
}

// taskPid returns the PID and status columns of `ctr task ls` for id.
func (d *ctrdDaemon) taskPid(id string) (int, string) {
	for _, line := range strings.Split(d.ctrOK("tasks", "ls"), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == id {
			pid, _ := strconv.Atoi(f[1])
			return pid, f[2]
		}
	}
	return 0, ""
}

func TestCtrDetachedUnikernel(t *testing.T) {
	e, d := uruncCtrd(t)
	ref := packHello(t, e, d, "urunc.local/hello:sleep", "0", "600")
	d.ctrOK("run", "-d", "--runtime", ctrdUruncRuntime, ref, "u2")
	pid, status := d.taskPid("u2")
	if exe := vmmExe(pid); status != "RUNNING" || !strings.Contains(exe, "qemu-system") {
		t.Fatalf("task u2: pid %d (%s) status %q, want RUNNING with the VMM's pid", pid, exe, status)
	}
	d.ctrOK("tasks", "kill", "u2")
	d.waitTaskStopped("u2", 10*time.Second)
	d.ctrOK("tasks", "delete", "u2")
	d.ctrOK("containers", "delete", "u2")
	d.assertNoVMM(t)
}

// Containerd restarts while a unikernel runs: the shim keeps it, and the
// new containerd sees it RUNNING and can kill and delete it.
func TestContainerdRestartWithUnikernel(t *testing.T) {
	e, d := uruncCtrd(t)
	ref := packHello(t, e, d, "urunc.local/hello:sleep", "0", "600")
	d.ctrOK("run", "-d", "--runtime", ctrdUruncRuntime, ref, "u3")
	before, _ := d.taskPid("u3")
	d.restart(t)
	pid, status := d.taskPid("u3")
	if status != "RUNNING" || pid != before {
		t.Fatalf("after containerd restart: task u3 pid %d status %q, want RUNNING pid %d", pid, status, before)
	}
	d.ctrOK("tasks", "kill", "-s", "SIGKILL", "u3")
	d.waitTaskStopped("u3", 10*time.Second)
	d.ctrOK("tasks", "delete", "u3")
	d.ctrOK("containers", "delete", "u3")
	d.assertNoVMM(t)
}

// vmms lists the VMMs of this daemon's containers: their root is a monitor
// root under the daemon's urunc state. (Other QEMUs on the host are not
// this test's.)
func (d *ctrdDaemon) vmms() []string {
	var out []string
	for _, p := range processesOf("qemu-system") {
		if root, err := os.Readlink("/proc/" + p + "/root"); err == nil && strings.HasPrefix(root, "/run/containerd/runc/"+d.ns+"/") {
			out = append(out, p)
		}
	}
	return out
}

// shimCount counts this daemon's urunc shims.
func (d *ctrdDaemon) shimCount() int {
	n := 0
	for _, p := range processesOf("containerd-shim-urunc-v2") {
		if b, err := os.ReadFile("/proc/" + p + "/cmdline"); err == nil && strings.Contains(string(b), d.sock) {
			n++
		}
	}
	return n
}

// restart stops containerd (not its shims) and starts it again.
func (d *ctrdDaemon) restart(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dir, "containerd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stop containerd: %v", err)
	}
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if err := d.c.Start(); err != nil {
		t.Fatalf("restart containerd: %v", err)
	}
}

// assertNoVMM fails if a QEMU process is left or urunc state remains
// under this daemon's namespace.
func (d *ctrdDaemon) assertNoVMM(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(d.vmms()) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if p := d.vmms(); len(p) > 0 {
		t.Errorf("VMM processes left: %v", p)
	}
	for i := 0; i < 50 && d.shimCount() > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if n := d.shimCount(); n > 0 {
		t.Errorf("%d urunc shims left", n)
	}
	state := filepath.Join("/run/containerd/runc", d.ns)
	entries, _ := os.ReadDir(state)
	for _, en := range entries { // urunc's .urunc folder included
		t.Errorf("runtime state left: %s", en.Name())
	}
}

// With containerd's blockfile snapshotter the rootfs is a loop-mounted ext4
// image: the guest boots with that device as its root disk.
func TestCtrBlockfileRootfs(t *testing.T) {
	e, d := uruncCtrd(t)
	b := busyboxBundle(t, "/bin/sh")
	e.withModules(t, b) // Debian's kernel builds virtio-blk as a module
	archive := filepath.Join(t.TempDir(), "sh.tar")
	ref := "urunc.local/blockroot:test"
	args := []string{"--kernel", e.kernel, "--type", "linux", "--hypervisor", "qemu", "--rootfs", b.rootfs(""),
		"--entrypoint", "/bin/sh", "--cmd", "-c", "--cmd", "mount | grep ' / '; echo in-image > /written; cat /written",
		"--tag", ref, "--output", archive}
	if out, err := exec.Command(filepath.Join(e.bin, "urunc-pack"), args...).CombinedOutput(); err != nil {
		t.Fatalf("urunc-pack: %v\n%s", err, out)
	}
	d.ctrOK("images", "import", archive)
	out, errs, code := d.ctr("run", "--rm", "--snapshotter", "blockfile", "--runtime", ctrdUruncRuntime, ref, "blk1")
	if code != 0 || !strings.Contains(out, "/dev/vda on / type ext4") || !strings.Contains(out, "in-image") {
		t.Fatalf("ctr run --snapshotter blockfile: exit %d\nstdout %s\nstderr %s\nwant the root on /dev/vda (ext4), writable", code, out, errs)
	}
	d.assertNoVMM(t)

	// The same image with a block file: the file is on the block root the
	// guest writes, so the host must not keep it mounted: refused.
	img := filepath.Join(t.TempDir(), "data.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	archive2 := filepath.Join(t.TempDir(), "blk.tar")
	ref2 := "urunc.local/blockroot-block:test"
	args2 := append(append([]string{}, args[:len(args)-4]...), "--block", img, "--block-mount", "/data", "--tag", ref2, "--output", archive2)
	if out, err := exec.Command(filepath.Join(e.bin, "urunc-pack"), args2...).CombinedOutput(); err != nil {
		t.Fatalf("urunc-pack: %v\n%s", err, out)
	}
	d.ctrOK("images", "import", archive2)
	_, errs, code = d.ctr("run", "--rm", "--snapshotter", "blockfile", "--runtime", ctrdUruncRuntime, ref2, "blk2")
	if code == 0 || !strings.Contains(errs, "com.urunc.unikernel.block") {
		t.Errorf("ctr run of an image block on a block root: exit %d, stderr %s; want the refusal naming the key", code, errs)
	}
	d.assertNoVMM(t)
	// The snapshots' loop devices are released once the containers are gone.
	if loops, _ := exec.Command("losetup", "-a").CombinedOutput(); strings.Contains(string(loops), d.dir) {
		t.Errorf("loop device of the test's snapshots left:\n%s", loops)
	}
}
