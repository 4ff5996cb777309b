package e2e

// The podman driver: Debian's podman 4.3 with its storage, configuration,
// locks, events and urunc's state under one temporary folder, and urunc
// registered as the OCI runtime "urunc" through a wrapper that records
// every call. Nothing of the system's podman state is used.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/pack"
	"github.com/urunc-runtime/urunc/internal/testutil/images"
)

const (
	pdCmdTimeout  = 3 * time.Minute
	pdInstallHint = "apt-get install podman docker.io"
)

// pdPodman is one private podman set-up, removed when the test ends.
type pdPodman struct {
	t      *testing.T
	dir    string   // everything of this podman lives here
	env    []string // CONTAINERS_CONF and friends
	cgroup string   // cgroup parent of this test's containers
	argv   string   // the wrapper's record of urunc's arguments
	logged bool     // argv already shown
}

// pdStartPodman writes the configuration for a private podman, or skips
// the test saying what is missing.
func pdStartPodman(t *testing.T, e *env) *pdPodman {
	t.Helper()
	for _, b := range []string{"podman", "conmon"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not installed: %s", b, pdInstallHint)
		}
	}
	dir, err := os.MkdirTemp("/tmp", "pdpod")
	if err != nil {
		t.Fatal(err)
	}
	p := &pdPodman{t: t, dir: dir, cgroup: "/urunc-" + filepath.Base(dir)}
	t.Cleanup(p.stop)
	wrapper, argv := pdWrapper(t, filepath.Join(dir, "runtime"), filepath.Join(e.bin, "urunc"),
		"--root", filepath.Join(dir, "urunc"), "--config", e.config)
	p.argv = argv
	writeFile(t, filepath.Join(dir, "containers.conf"), pdContainersConf(dir, wrapper))
	writeFile(t, filepath.Join(dir, "storage.conf"), fmt.Sprintf(
		"[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "runroot")))
	// No search registries: a short name never turns into a lookup.
	writeFile(t, filepath.Join(dir, "registries.conf"), "unqualified-search-registries = []\n")
	for _, d := range []string{"tmp", "cni", "volumes"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p.env = append(os.Environ(),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF="+filepath.Join(dir, "registries.conf"),
		"TMPDIR="+filepath.Join(dir, "tmp"))
	return p
}

// pdContainersConf is podman's configuration for this host: cgroupfs (no
// systemd here), events to a file, file locks instead of /dev/shm, no
// network, and explicit ulimits, since without CAP_SYS_RESOURCE podman's
// defaults (nproc 1048576) cannot be set.
func pdContainersConf(dir, runtime string) string {
	return fmt.Sprintf(`[containers]
default_ulimits = [%q, %q]
netns = "none"
log_driver = "k8s-file"

[network]
network_config_dir = %q

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = %q
lock_type = "file"
tmp_dir = %q
image_copy_tmp_dir = %q
volume_path = %q
runtime = "urunc"

[engine.runtimes]
urunc = [%q]
`, pdUlimit("nofile", unix.RLIMIT_NOFILE), pdUlimit("nproc", unix.RLIMIT_NPROC),
		filepath.Join(dir, "cni"), filepath.Join(dir, "events.log"),
		filepath.Join(dir, "tmp"), filepath.Join(dir, "tmp"), filepath.Join(dir, "volumes"), runtime)
}

// pdUlimit is name=limit:limit with this process's soft limit, which a
// container may always keep. conmon runs with RLIMIT_NPROC lowered to
// kernel.pid_max (32768 here), so nproc is capped there too.
func pdUlimit(name string, resource int) string {
	var l unix.Rlimit
	if err := unix.Getrlimit(resource, &l); err != nil || l.Cur == unix.RLIM_INFINITY {
		l.Cur = 1024
	}
	if resource == unix.RLIMIT_NPROC {
		if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
			var max uint64
			if _, err := fmt.Sscan(string(b), &max); err == nil && max < l.Cur {
				l.Cur = max
			}
		}
	}
	return fmt.Sprintf("%s=%d:%d", name, l.Cur, l.Cur)
}

// pdWrapper writes dir/urunc, a shell script that appends its arguments
// to dir/argv.log and runs urunc with extra global flags first. It returns
// the script's and the log's paths.
func pdWrapper(t *testing.T, dir, urunc string, global ...string) (string, string) {
	t.Helper()
	log := filepath.Join(dir, "argv.log")
	script := "#!/bin/sh\n" +
		"# urunc as this test registers it: records each call, one line per call.\n" +
		"{ for a in \"$@\"; do printf '%s ' \"$a\"; done; echo; } >>" + pdShellQuote(log) + "\n" +
		"exec " + pdShellQuote(urunc)
	for _, g := range global {
		script += " " + pdShellQuote(g)
	}
	script += " \"$@\"\n"
	path := filepath.Join(dir, "urunc")
	writeFile(t, path, script)
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	return path, log
}

func pdShellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// pdExec runs one client command with a time limit and the given
// environment; err is set only when the command could not run or timed out.
func pdExec(env []string, name string, args ...string) (stdout, stderr string, code int, err error) {
	return execTimeout(pdCmdTimeout, env, name, args...)
}

// podman runs podman against this set-up and fails the test if it cannot run.
func (p *pdPodman) podman(args ...string) (stdout, stderr string, code int) {
	p.t.Helper()
	stdout, stderr, code, err := pdExec(p.env, "podman", args...)
	if err != nil {
		p.t.Fatalf("podman %v: %v (stderr: %s)", args, err, stderr)
	}
	return stdout, stderr, code
}

// ok runs podman and fails the test unless it exits 0.
func (p *pdPodman) ok(args ...string) string {
	p.t.Helper()
	out, errs, code := p.podman(args...)
	if code != 0 {
		p.t.Fatalf("podman %v: exit %d: %s", args, code, errs)
	}
	return out
}

// run is `podman run` with urunc, no network and this test's cgroup parent.
func (p *pdPodman) run(args ...string) (stdout, stderr string, code int) {
	p.t.Helper()
	all := append([]string{"run", "--runtime", "urunc", "--pull=never", "--network", "none",
		"--cgroup-parent", p.cgroup}, args...)
	return p.podman(all...)
}

// load imports an image archive and returns the name podman gave it.
func (p *pdPodman) load(archive string) string {
	p.t.Helper()
	out := p.ok("load", "-i", archive)
	for _, line := range strings.Split(out, "\n") {
		if _, name, ok := strings.Cut(line, "Loaded image: "); ok {
			return strings.TrimSpace(name)
		}
		if _, name, ok := strings.Cut(line, "Loaded image(s): "); ok {
			return strings.TrimSpace(strings.Split(name, ",")[0])
		}
	}
	p.t.Fatalf("podman load %s: no image name in %q", archive, out)
	return ""
}

// logArgv shows what podman passed to urunc.
func (p *pdPodman) logArgv() {
	if b, err := os.ReadFile(p.argv); err == nil && !p.logged {
		p.logged = true
		p.t.Logf("urunc calls (podman):\n%s", b)
	}
}

// assertNoState fails if urunc kept a container or VM folder.
func (p *pdPodman) assertNoState() {
	p.t.Helper()
	pdAssertNoState(p.t, filepath.Join(p.dir, "urunc"))
}

// pdAssertNoState fails if urunc root holds a container or VM folder.
func pdAssertNoState(t *testing.T, root string) {
	t.Helper()
	entries, _ := os.ReadDir(root)
	for _, en := range entries {
		if en.Name() == ".urunc" {
			if left, _ := os.ReadDir(filepath.Join(root, en.Name())); len(left) > 0 {
				t.Errorf("urunc vm folders left in %s: %v", root, left)
			}
			continue
		}
		t.Errorf("urunc state left in %s: %s", root, en.Name())
	}
}

// stop removes this podman's containers, mounts, cgroups and folder,
// whatever the test did.
func (p *pdPodman) stop() {
	t := p.t
	if t.Failed() {
		p.logArgv()
	}
	if _, errs, code, err := pdExec(p.env, "podman", "rm", "--all", "--force", "--time", "0"); err != nil || code != 0 {
		t.Errorf("podman rm --all --force: exit %d, %v: %s", code, err, errs)
	}
	pdAssertNoState(t, filepath.Join(p.dir, "urunc"))
	pdKillCgroup(t, p.cgroup)
	if err := pdUnmountUnder(p.dir); err != nil {
		t.Errorf("unmount %s: %v", p.dir, err)
	}
	if err := os.RemoveAll(p.dir); err != nil {
		t.Errorf("remove %s: %v", p.dir, err)
	}
}

// pdUnmountUnder unmounts everything mounted below dir, deepest first.
func pdUnmountUnder(dir string) error {
	for try := 0; try < 1000; try++ {
		info, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			return err
		}
		var deepest string
		for _, line := range strings.Split(string(info), "\n") {
			f := strings.Fields(line)
			if len(f) < 5 {
				continue
			}
			m := pdUnescape(f[4])
			if strings.HasPrefix(m, dir+"/") && len(m) > len(deepest) {
				deepest = m
			}
		}
		if deepest == "" {
			return nil
		}
		if err := unix.Unmount(deepest, 0); err != nil {
			if err := unix.Unmount(deepest, unix.MNT_DETACH); err != nil {
				return fmt.Errorf("unmount %q: %w", deepest, err)
			}
		}
	}
	return errors.New("mounts keep appearing")
}

// pdUnescape undoes mountinfo's octal escapes (\040 for a space).
func pdUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// pdKillCgroup kills what is left in cgroup parent (any hierarchy) and
// removes its cgroups, children first.
func pdKillCgroup(t *testing.T, parent string) {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + parent)
	if d := "/sys/fs/cgroup" + parent; pdIsDir(d) {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		var all []string
		filepath.WalkDir(d, func(path string, de os.DirEntry, err error) error {
			if err == nil && de.IsDir() {
				all = append(all, path)
				if b, err := os.ReadFile(filepath.Join(path, "cgroup.procs")); err == nil {
					for _, pid := range strings.Fields(string(b)) {
						t.Errorf("process %s (%s) left in cgroup %s: killing it", pid, exeOf(pid), path)
						var n int
						fmt.Sscan(pid, &n)
						syscall.Kill(n, syscall.SIGKILL)
					}
				}
			}
			return nil
		})
		for i := len(all) - 1; i >= 0; i-- {
			for try := 0; try < 50; try++ {
				if err := os.Remove(all[i]); err == nil || errors.Is(err, os.ErrNotExist) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}

func pdIsDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// pdWaitFor polls f until it returns true or d has passed.
func pdWaitFor(d time.Duration, f func() bool) bool {
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
	return true
}

// pdCheckArgv fails unless each verb appears in the recorded urunc calls.
func pdCheckArgv(t *testing.T, log string, verbs ...string) {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("urunc was never called: %v", err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		for _, f := range strings.Fields(line) {
			seen[f] = true
		}
	}
	for _, v := range verbs {
		if !seen[v] {
			t.Errorf("urunc never called with %q; calls:\n%s", v, b)
		}
	}
}

// pdUnikernelPodman packs the hello app with cmd as its arguments,
// loads it into a private podman and returns both.
func pdUnikernelPodman(t *testing.T, cmd ...string) (*pdPodman, string) {
	e := setup(t, true)
	if _, err := os.Stat(filepath.Join(e.bin, "urunc-pack")); err != nil {
		t.Skip("urunc-pack not built: run `make`")
	}
	p := pdStartPodman(t, e)
	archive := pdPack(t, e, "urunc.local/hello:test", "oci", cmd...)
	return p, p.load(archive)
}

// pdPack builds an image archive of the hello app (format oci or docker)
// whose default arguments are cmd.
func pdPack(t *testing.T, e *env, ref, format string, cmd ...string) string {
	t.Helper()
	rootfs := t.TempDir()
	copyFile(t, filepath.Join(e.bin, "hello"), filepath.Join(rootfs, "hello"), 0o755)
	e.agentModules(t, rootfs)
	archive := filepath.Join(t.TempDir(), "hello-"+format+".tar")
	args := []string{"--kernel", e.kernel, "--type", "linux", "--hypervisor", "qemu",
		"--rootfs", rootfs, "--entrypoint", "/hello", "--tag", ref, "--format", format, "--output", archive}
	for _, c := range cmd {
		args = append(args, "--cmd", c)
	}
	if out, err := exec.Command(filepath.Join(e.bin, "urunc-pack"), args...).CombinedOutput(); err != nil {
		t.Fatalf("urunc-pack: %v\n%s", err, out)
	}
	return archive
}

func TestPodmanUnikernel(t *testing.T) {
	p, image := pdUnikernelPodman(t, "42") // even: exact only through urunit's agent
	out, errs, code := p.run("--rm", image)
	p.logArgv()
	if code != 42 || !strings.Contains(out, "hello from guest") {
		t.Fatalf("podman run --runtime urunc %s: exit %d, stdout %q, stderr %q; want 42 and the guest's line",
			image, code, out, errs)
	}
	pdCheckArgv(t, p.argv, "create", "start", "delete")
	p.assertNoState()
}

// A detached unikernel stops on `podman stop`: SIGTERM reaches the app in
// the guest, which says so and exits 143.
func TestPodmanUnikernelStop(t *testing.T) {
	p, image := pdUnikernelPodman(t, "0", "600")
	if _, errs, code := p.run("-d", "--name", "vm", image); code != 0 {
		t.Fatalf("podman run -d --runtime urunc %s: exit %d: %s", image, code, errs)
	}
	p.waitLogs("vm", "hello from guest")
	p.ok("stop", "--time", "30", "vm")
	code := strings.TrimSpace(p.ok("inspect", "--format", "{{.State.ExitCode}}", "vm"))
	logs, _, _ := p.podman("logs", "vm")
	p.logArgv()
	if code != "143" || !strings.Contains(logs, "hello: got SIGTERM") {
		t.Fatalf("after podman stop: exit code %s, logs %q; want 143 and \"hello: got SIGTERM\"", code, logs)
	}
	p.ok("rm", "vm")
	pdCheckArgv(t, p.argv, "create", "start", "kill", "delete")
	p.assertNoState()
}

// waitLogs waits until container name's output holds want, failing the
// test if the container stops first or it takes too long.
func (p *pdPodman) waitLogs(name, want string) {
	p.t.Helper()
	var out, status string
	ok := pdWaitFor(pdCmdTimeout, func() bool {
		out, _, _ = p.podman("logs", name)
		status = strings.TrimSpace(p.ok("inspect", "--format", "{{.State.Status}}", name))
		return strings.Contains(out, want) || status != "running"
	})
	if !ok || !strings.Contains(out, want) {
		p.logArgv()
		p.t.Fatalf("container %s (%s): %q not in its logs %q", name, status, want, out)
	}
}

// A plain image runs through urunc as through runc.
func TestPodmanBusybox(t *testing.T) {
	e := setup(t, false)
	if _, err := os.Stat(ctrdHostBusybox); err != nil {
		t.Skipf("%s missing: run `make deps` (busybox-static)", ctrdHostBusybox)
	}
	p := pdStartPodman(t, e)
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	if err := images.WriteBusybox(archive, "urunc.local/busybox:test", pack.FormatOCI); err != nil {
		t.Fatalf("build busybox image: %v", err)
	}
	image := p.load(archive)
	out, errs, code := p.run("--rm", image, "echo", "hi")
	if code != 0 || strings.TrimSpace(out) != "hi" {
		t.Fatalf("podman run --runtime urunc %s echo hi: exit %d, stdout %q, stderr %q; want 0, \"hi\"", image, code, out, errs)
	}
	_, errs, code = p.run("--rm", image, "sh", "-c", "exit 5")
	p.logArgv()
	if code != 5 {
		t.Fatalf("podman run --runtime urunc %s sh -c 'exit 5': exit %d, stderr %q; want 5", image, code, errs)
	}
	pdCheckArgv(t, p.argv, "create", "start", "delete")
	p.assertNoState()
}
