package e2e

// The containerd driver: a private containerd per test (harness.Containerd),
// ctr and nerdctl pointed at it, and a busybox image built locally, without a
// registry. The pinned tools come from scripts/install-tools.sh.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urunc-runtime/urunc/internal/pack"
	"github.com/urunc-runtime/urunc/internal/testutil/images"
	"github.com/urunc-runtime/urunc/tests/e2e/harness"
)

const (
	ctrdBusyboxRef   = "docker.io/library/busybox:test"
	ctrdUruncRuntime = "io.containerd.urunc.v2"
	ctrdCNIPath      = "/usr/lib/cni"
	ctrdHostBusybox  = images.Busybox
	ctrdCmdTimeout   = 2 * time.Minute
)

// ctrdTools are what scripts/install-tools.sh puts in the tools folder.
var ctrdTools = []string{"containerd", "ctr", "containerd-shim-runc-v2", "nerdctl", "runc"}

// ctrdDaemon is one private containerd, stopped and removed when the test ends.
type ctrdDaemon struct {
	t     *testing.T
	c     *harness.Containerd
	tools string // pinned containerd, ctr, nerdctl, runc
	bin   string // URUNC_BIN: urunc and containerd-shim-urunc-v2 (may be empty)
	dir   string // everything of this daemon lives here
	sock  string
	ns    string // containerd namespace, unique per daemon so cgroup paths never clash
}

// ctrdStart starts a private containerd, or skips the test saying what is missing.
func ctrdStart(t *testing.T) *ctrdDaemon {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: containerd runs containers for real (run `make test` as root)")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	d := &ctrdDaemon{t: t, tools: os.Getenv("URUNC_TOOLS"), bin: os.Getenv("URUNC_BIN")}
	if d.tools == "" {
		d.tools = "/var/cache/urunc/tools"
	}
	for _, b := range ctrdTools {
		if _, err := os.Stat(filepath.Join(d.tools, b)); err != nil {
			t.Skipf("%s not found in %s: run scripts/install-tools.sh (or set URUNC_TOOLS)", b, d.tools)
		}
	}
	// A short folder: the socket path must fit in 108 bytes.
	if d.dir, err = os.MkdirTemp("/tmp", "ctrd"); err != nil {
		t.Fatal(err)
	}
	d.sock = filepath.Join(d.dir, "containerd.sock")
	d.ns = filepath.Base(d.dir)
	// Unset URUNC_BIN: bin/ of the repository, as for `make`.
	bin := d.bin
	if bin == "" {
		bin = filepath.Join(repo, "bin")
	}
	d.c = &harness.Containerd{Dir: d.dir, Tools: d.tools, Bin: bin, Logf: t.Logf}
	if d.bin != "" {
		// urunc, started by the shim, reads this config: urunit from the build.
		// Beside the folder, not in it: the harness only takes an empty one.
		conf := d.dir + "-urunc.toml"
		t.Cleanup(func() { os.Remove(conf) })
		if err := os.WriteFile(conf, []byte("[linux]\nurunit = \""+filepath.Join(d.bin, "urunit")+"\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		d.c.Env = []string{"URUNC_BIN=" + d.bin, "URUNC_CONFIG=" + conf}
	}
	t.Cleanup(d.stop)
	if err := d.c.Start(); err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	return d
}

// stop reports tasks the test left behind, then stops containerd and
// removes its folder whatever happened.
func (d *ctrdDaemon) stop() {
	t := d.t
	out, _, code, err := d.exec("ctr", "--address", d.sock, "--namespace", d.ns, "tasks", "ls", "-q")
	if err == nil && code == 0 && strings.TrimSpace(out) != "" {
		t.Errorf("leaked containerd tasks: %s", strings.Join(strings.Fields(out), " "))
	}
	if t.Failed() {
		d.logTail(60)
	}
	r, err := d.c.Stop()
	if err != nil {
		t.Errorf("stop containerd: %v\n%s", err, r)
	}
	if len(r.Shims) > 0 {
		t.Errorf("shims outlived containerd:\n%s", r)
	}
}

// logTail shows the end of containerd's log (which includes the shims').
func (d *ctrdDaemon) logTail(n int) {
	b, err := os.ReadFile(filepath.Join(d.dir, "containerd.log"))
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	d.t.Logf("containerd.log (last %d lines):\n%s", len(lines), strings.Join(lines, "\n"))
}

// path puts the pinned tools (runc) and urunc first.
func (d *ctrdDaemon) path() string {
	p := d.tools + ":" + os.Getenv("PATH")
	if d.bin != "" {
		p = d.bin + ":" + p
	}
	return p
}

// run runs one client binary with a time limit and fails the test if it
// cannot be run at all.
func (d *ctrdDaemon) run(name string, args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	stdout, stderr, code, err := d.exec(name, args...)
	if err != nil {
		d.t.Fatalf("%s %v: %v (stderr: %s)", name, args, err, stderr)
	}
	return stdout, stderr, code
}

// exec is run without failing the test, for cleanups.
func (d *ctrdDaemon) exec(name string, args ...string) (stdout, stderr string, code int, err error) {
	return execTimeout(ctrdCmdTimeout, append(os.Environ(), "PATH="+d.path()), filepath.Join(d.tools, name), args...)
}

// ctr runs ctr against this daemon and namespace.
func (d *ctrdDaemon) ctr(args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	return d.run("ctr", append([]string{"--address", d.sock, "--namespace", d.ns}, args...)...)
}

// nerdctl runs nerdctl against this daemon, with its data, CNI
// configuration and the default bridge network under the daemon's folder.
func (d *ctrdDaemon) nerdctl(args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	return d.run("nerdctl", append(d.nerdctlGlobal(), args...)...)
}

// nerdctlGlobal are the global flags that point nerdctl at this daemon.
func (d *ctrdDaemon) nerdctlGlobal() []string {
	return []string{
		"--address", d.sock, "--namespace", d.ns,
		"--data-root", filepath.Join(d.dir, "nerdctl"),
		"--cni-path", ctrdCNIPath,
		"--cni-netconfpath", filepath.Join(d.dir, "cni", "net.d"),
		"--cgroup-manager", "cgroupfs",
	}
}

// ctrOK runs ctr and fails the test unless it exits 0.
func (d *ctrdDaemon) ctrOK(args ...string) string {
	d.t.Helper()
	out, errs, code := d.ctr(args...)
	if code != 0 {
		d.t.Fatalf("ctr %v: exit %d: %s", args, code, errs)
	}
	return out
}

// ctrdImportBusybox builds a one-layer busybox OCI image archive from the
// host's busybox-static and imports it as ctrdBusyboxRef.
func ctrdImportBusybox(t *testing.T, d *ctrdDaemon) string {
	t.Helper()
	if _, err := os.Stat(ctrdHostBusybox); err != nil {
		t.Skipf("%s missing: run `make deps` (busybox-static)", ctrdHostBusybox)
	}
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	if err := images.WriteBusybox(archive, ctrdBusyboxRef, pack.FormatOCI); err != nil {
		t.Fatalf("build busybox image: %v", err)
	}
	d.ctrOK("images", "import", archive)
	if out := d.ctrOK("images", "ls", "-q"); !strings.Contains(out, ctrdBusyboxRef) {
		t.Fatalf("image %s not listed after import: %q", ctrdBusyboxRef, out)
	}
	return ctrdBusyboxRef
}

// ctrdNeedUrunc skips unless URUNC_BIN holds urunc and its shim.
func ctrdNeedUrunc(t *testing.T) {
	t.Helper()
	bin := os.Getenv("URUNC_BIN")
	if bin == "" {
		t.Skip("URUNC_BIN not set: run through `make test`, which builds the binaries")
	}
	for _, b := range []string{"urunc", "containerd-shim-urunc-v2"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			t.Skipf("%s not built in %s: run `make`", b, bin)
		}
	}
}

func TestContainerdBusyboxRunc(t *testing.T) {
	d := ctrdStart(t)
	ref := ctrdImportBusybox(t, d)
	out, errs, code := d.ctr("run", "--rm", ref, "t1", "echo", "hi")
	if code != 0 || strings.TrimSpace(out) != "hi" {
		t.Fatalf("ctr run (runc): exit %d, stdout %q, stderr %q; want exit 0, \"hi\"", code, out, errs)
	}
}

func TestContainerdBusyboxUrunc(t *testing.T) {
	ctrdNeedUrunc(t)
	d := ctrdStart(t)
	ref := ctrdImportBusybox(t, d)
	out, errs, code := d.ctr("run", "--rm", "--runtime", ctrdUruncRuntime, ref, "t1", "echo", "hi")
	if code != 0 || strings.TrimSpace(out) != "hi" {
		t.Fatalf("ctr run (urunc): exit %d, stdout %q, stderr %q; want exit 0, \"hi\"", code, out, errs)
	}
	_, errs, code = d.ctr("run", "--rm", "--runtime", ctrdUruncRuntime, ref, "t2", "sh", "-c", "exit 5")
	if code != 5 {
		t.Fatalf("ctr run (urunc) sh -c 'exit 5': exit %d, stderr %q; want 5", code, errs)
	}
	// Detached: the task's shim must be urunc's, and kill/delete must work.
	d.ctrOK("run", "-d", "--runtime", ctrdUruncRuntime, ref, "t3", "sleep", "60")
	if shim := d.shimOf("t3"); shim != "containerd-shim-urunc-v2" {
		t.Errorf("task t3 runs under shim %q, want containerd-shim-urunc-v2", shim)
	}
	d.ctrOK("tasks", "kill", "-s", "SIGKILL", "t3")
	d.waitTaskStopped("t3", 20*time.Second)
	d.ctrOK("tasks", "delete", "t3")
	d.ctrOK("containers", "delete", "t3")
}

// shimOf returns the executable name of the shim serving task id.
func (d *ctrdDaemon) shimOf(id string) string {
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range pids {
		b, err := os.ReadFile(filepath.Join(p, "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if ctrdHasFlag(argv, "-address", d.sock) && ctrdHasFlag(argv, "-id", id) {
			return filepath.Base(argv[0])
		}
	}
	return ""
}

func ctrdHasFlag(argv []string, flag, value string) bool {
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == flag && argv[i+1] == value {
			return true
		}
	}
	return false
}

// waitTaskStopped polls `ctr tasks ls` until task id is STOPPED.
func (d *ctrdDaemon) waitTaskStopped(id string, timeout time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := d.ctrOK("tasks", "ls")
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == id && f[2] == "STOPPED" {
				return
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("task %s not STOPPED after %v:\n%s", id, timeout, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ctrdNerdctlBusybox runs busybox through nerdctl on its default bridge
// network (CNI) with runtime rt, checking output, eth0 and the exit status.
func ctrdNerdctlBusybox(t *testing.T, d *ctrdDaemon, rt string) {
	ref := ctrdImportBusybox(t, d)
	out, errs, code := d.nerdctl("run", "--rm", "--runtime", rt, ref, "sh", "-c", "echo hi; ip -4 addr show eth0")
	if code != 0 || !strings.HasPrefix(out, "hi\n") || !strings.Contains(out, "inet ") {
		t.Fatalf("nerdctl run (%s): exit %d, stdout %q, stderr %q; want exit 0, \"hi\" and an eth0 address", rt, code, out, errs)
	}
	_, errs, code = d.nerdctl("run", "--rm", "--runtime", rt, ref, "sh", "-c", "exit 5")
	if code != 5 {
		t.Fatalf("nerdctl run (%s) sh -c 'exit 5': exit %d, stderr %q; want 5", rt, code, errs)
	}
}

func TestContainerdNerdctlBusyboxRunc(t *testing.T) {
	ctrdNerdctlBusybox(t, ctrdStart(t), "io.containerd.runc.v2")
}

func TestContainerdNerdctlBusyboxUrunc(t *testing.T) {
	ctrdNeedUrunc(t)
	d := ctrdStart(t)
	ctrdNerdctlBusybox(t, d, ctrdUruncRuntime)
}
