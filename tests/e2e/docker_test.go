package e2e

// The docker driver: a private dockerd (Debian's docker.io 20.10, started
// by harness.Dockerd with its own containerd) with urunc registered as
// the runtime "urunc" through a wrapper that records every call. Docker
// passes no image annotations: urunc finds the unikernel metadata in the
// image's /urunc.json. Containers run with --network none (no bridge).

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urunc-runtime/urunc/internal/pack"
	"github.com/urunc-runtime/urunc/internal/testutil/images"
	"github.com/urunc-runtime/urunc/tests/e2e/harness"
)

// pdConsoleHint explains the known cause when a unikernel's output is
// missing under Docker only.
const pdConsoleHint = " (Docker's init layer leaves an empty regular file at /dev/console in the rootfs; " +
	"copied into the guest's initramfs it replaces the console device, so the guest's output is lost)"

// pdDockerd is one private dockerd, stopped and removed when the test ends.
type pdDockerd struct {
	t      *testing.T
	dd     *harness.Dockerd
	dir    string // everything of this daemon lives here
	client string // docker client binary
	env    []string
	argv   string // the wrapper's record of urunc's arguments
	logged bool   // argv already shown
}

// pdStartDockerd starts a private dockerd, or skips the test saying what
// is missing.
func pdStartDockerd(t *testing.T, e *env) *pdDockerd {
	t.Helper()
	if _, err := exec.LookPath("dockerd"); err != nil {
		t.Skipf("dockerd not installed: %s", pdInstallHint)
	}
	client := harness.DockerClient()
	if client == "" {
		t.Skipf("docker client not installed: %s", pdInstallHint)
	}
	// A short folder: containerd's sockets live under it.
	dir, err := os.MkdirTemp("/tmp", "pddk")
	if err != nil {
		t.Fatal(err)
	}
	d := &pdDockerd{t: t, dir: dir, client: client}
	// The wrapper lives beside the folder: the harness only takes an empty one.
	rt := dir + "-rt"
	t.Cleanup(func() { os.RemoveAll(rt) })
	_, d.argv = pdWrapper(t, rt, filepath.Join(e.bin, "urunc"))
	d.dd = &harness.Dockerd{Dir: dir, Bin: rt, URUNCConfig: e.config, Client: client, Logf: t.Logf,
		Env: []string{"URUNC_BIN=" + rt, "URUNC_CONFIG=" + e.config}}
	d.env = append(os.Environ(), d.dd.ClientEnv()...)
	t.Cleanup(d.stop)
	if err := d.dd.Start(); err != nil {
		t.Fatalf("start dockerd: %v", err)
	}
	return d
}

// stop shows the daemon's log on failure, then stops it and removes its
// folder whatever happened.
func (d *pdDockerd) stop() {
	t := d.t
	if t.Failed() {
		d.logArgv()
		if b, err := os.ReadFile(filepath.Join(d.dir, "dockerd.log")); err == nil {
			lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			if len(lines) > 40 {
				lines = lines[len(lines)-40:]
			}
			t.Logf("dockerd.log (last %d lines):\n%s", len(lines), strings.Join(lines, "\n"))
		}
	}
	if r, err := d.dd.Stop(); err != nil {
		t.Errorf("stop dockerd: %v\n%s", err, r)
	} else if len(r.Leftovers)+len(r.ContainerProcs) > 0 {
		t.Errorf("stopping dockerd found leftovers:\n%s", r)
	}
}

// docker runs the client against this daemon and fails the test if it
// cannot run.
func (d *pdDockerd) docker(args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	stdout, stderr, code, err := pdExec(d.env, d.client, args...)
	if err != nil {
		d.t.Fatalf("docker %v: %v (stderr: %s)", args, err, stderr)
	}
	return stdout, stderr, code
}

// ok runs docker and fails the test unless it exits 0.
func (d *pdDockerd) ok(args ...string) string {
	d.t.Helper()
	out, errs, code := d.docker(args...)
	if code != 0 {
		d.t.Fatalf("docker %v: exit %d: %s", args, code, errs)
	}
	return out
}

// run is `docker run` with urunc and no network.
func (d *pdDockerd) run(args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	return d.docker(append([]string{"run", "--runtime", "urunc", "--pull", "never", "--network", "none"}, args...)...)
}

func (d *pdDockerd) logArgv() {
	if b, err := os.ReadFile(d.argv); err == nil && !d.logged {
		d.logged = true
		d.t.Logf("urunc calls (docker):\n%s", b)
	}
}

// assertNoState fails if urunc kept a container or VM folder under the
// root Docker gives it.
// waitLogs polls `docker logs name` until it holds want, and returns it.
func (d *pdDockerd) waitLogs(name, want string, timeout time.Duration) string {
	d.t.Helper()
	var out, errs string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if out, errs, _ = d.docker("logs", name); strings.Contains(out+errs, want) {
			return out + errs
		}
	}
	d.t.Fatalf("docker logs %s lacks %q after %v: stdout %q, stderr %q%s", name, want, timeout, out, errs, pdConsoleHint)
	return ""
}

func (d *pdDockerd) assertNoState() {
	d.t.Helper()
	pdAssertNoState(d.t, filepath.Join(d.dir, "exec", "runtime-runc", "moby"))
}

// pdUnikernelDocker packs the hello app as a docker-archive with cmd as
// its arguments and loads it into a private dockerd.
func pdUnikernelDocker(t *testing.T, cmd ...string) (*pdDockerd, string) {
	e := setup(t, true)
	if _, err := os.Stat(filepath.Join(e.bin, "urunc-pack")); err != nil {
		t.Skip("urunc-pack not built: run `make`")
	}
	d := pdStartDockerd(t, e)
	ref := "urunc.local/hello:test"
	d.ok("load", "-i", pdPack(t, e, ref, "docker", cmd...))
	return d, ref
}

func TestDockerUnikernel(t *testing.T) {
	d, image := pdUnikernelDocker(t, "42") // even: exact only through urunit's agent
	out, errs, code := d.run("--rm", image)
	d.logArgv()
	if code != 42 {
		t.Fatalf("docker run --runtime urunc %s: exit %d, stdout %q, stderr %q; want 42", image, code, out, errs)
	}
	if !strings.Contains(out, "hello from guest") {
		t.Errorf("docker run --runtime urunc %s: stdout %q, stderr %q; want the guest's line%s", image, out, errs, pdConsoleHint)
	}
	pdCheckArgv(t, d.argv, "create", "start", "delete")
	d.assertNoState()
}

// A detached unikernel stops on `docker stop`: SIGTERM reaches the app in
// the guest, which says so and exits 143. A stop sent at once, while the
// guest still boots, is held by urunc until urunit takes it; the app may
// then die of it before it handles SIGTERM (as under runc), so that case
// asserts the status only.
func TestDockerUnikernelStop(t *testing.T) {
	d, image := pdUnikernelDocker(t, "0", "600")
	for _, name := range []string{"vm", "early"} {
		if _, errs, code := d.run("-d", "--name", name, image); code != 0 {
			t.Fatalf("docker run -d --name %s --runtime urunc %s: exit %d: %s", name, image, code, errs)
		}
	}
	d.ok("stop", "--time", "30", "early")
	d.waitLogs("vm", "hello from guest", 90*time.Second)
	d.ok("stop", "--time", "30", "vm")
	for _, name := range []string{"vm", "early"} {
		if code := strings.TrimSpace(d.ok("inspect", "--format", "{{.State.ExitCode}}", name)); code != "143" {
			t.Errorf("%s after docker stop: exit code %s, want 143 (the app died of the SIGTERM, not the VMM of SIGKILL)", name, code)
		}
	}
	logs := d.waitLogs("vm", "hello: got SIGTERM", 5*time.Second)
	d.logArgv()
	if !strings.Contains(logs, "hello from guest") {
		t.Errorf("after docker stop: logs %q, want \"hello from guest\" and \"hello: got SIGTERM\"%s", logs, pdConsoleHint)
	}
	d.ok("rm", "vm", "early")
	pdCheckArgv(t, d.argv, "create", "start", "kill", "delete")
	d.assertNoState()
}

// A plain image runs through urunc as through runc.
func TestDockerBusybox(t *testing.T) {
	e := setup(t, false)
	if _, err := os.Stat(ctrdHostBusybox); err != nil {
		t.Skipf("%s missing: run `make deps` (busybox-static)", ctrdHostBusybox)
	}
	d := pdStartDockerd(t, e)
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	image := "urunc.local/busybox:test"
	if err := images.WriteBusybox(archive, image, pack.FormatDocker); err != nil {
		t.Fatalf("build busybox image: %v", err)
	}
	d.ok("load", "-i", archive)
	out, errs, code := d.run("--rm", image, "echo", "hi")
	if code != 0 || strings.TrimSpace(out) != "hi" {
		t.Fatalf("docker run --runtime urunc %s echo hi: exit %d, stdout %q, stderr %q; want 0, \"hi\"", image, code, out, errs)
	}
	_, errs, code = d.run("--rm", image, "sh", "-c", "exit 5")
	d.logArgv()
	if code != 5 {
		t.Fatalf("docker run --runtime urunc %s sh -c 'exit 5': exit %d, stderr %q; want 5", image, code, errs)
	}
	pdCheckArgv(t, d.argv, "create", "start", "delete")
	d.assertNoState()
}
