package e2e

// exec into a Linux guest from every client (issue 16): ctr, nerdctl,
// docker, podman and crictl, with and without a terminal, the exec'd
// process's status, an ExecSync probe as the kubelet runs one, and a tar
// stream out of the guest as `kubectl cp` reads one.

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// guestFile is the file the tar case streams out of the guest.
const guestFile, guestFileData = "data/report.txt", "made in the image, read from the guest\n"

// packGuest builds a Linux-guest image archive: hello (whose default
// arguments are cmd), busybox, the kernel's modules and guestFile.
func packGuest(t *testing.T, e *env, ref, format string, cmd ...string) string {
	t.Helper()
	rootfs := t.TempDir()
	copyFile(t, filepath.Join(e.bin, "hello"), filepath.Join(rootfs, "hello"), 0o755)
	withBusybox(t, rootfs)
	e.agentModules(t, rootfs)
	writeFile(t, filepath.Join(rootfs, guestFile), guestFileData)
	archive := filepath.Join(t.TempDir(), "guest-"+format+".tar")
	args := []string{"--kernel", e.kernel, "--type", "linux", "--hypervisor", "qemu",
		"--rootfs", rootfs, "--entrypoint", "/hello", "--tag", ref, "--format", format, "--output", archive,
		"--env", "PATH=/bin"}
	for _, c := range cmd {
		args = append(args, "--cmd", c)
	}
	if out, err := exec.Command(filepath.Join(e.bin, "urunc-pack"), args...).CombinedOutput(); err != nil {
		t.Fatalf("urunc-pack: %v\n%s", err, out)
	}
	return archive
}

// execClient is one client's exec, for the shared checks.
type execClient struct {
	env  []string
	bin  string
	args func(tty bool, cmd ...string) []string // the client's exec argv for the container
	// exitMsg, for a client that exits 1 and names the process's status
	// in a message instead (nerdctl, crictl), formats that message.
	exitMsg string
}

// checkStatus fails unless the client reported the process's status want.
func (c execClient) checkStatus(t *testing.T, what string, code int, stderr string, want int) {
	t.Helper()
	if c.exitMsg == "" || want == 0 {
		if code != want {
			t.Errorf("%s: status %d, want %d (stderr %q)", what, code, want, stderr)
		}
		return
	}
	if msg := fmt.Sprintf(c.exitMsg, want); code != 1 || !strings.Contains(stderr, msg) {
		t.Errorf("%s: status %d, stderr %q; want 1 and %q", what, code, stderr, msg)
	}
}

func (c execClient) run(t *testing.T, cmd ...string) (string, string, int) {
	t.Helper()
	so, se, code, err := execTimeout(2*time.Minute, c.env, c.bin, c.args(false, cmd...)...)
	if err != nil {
		t.Fatalf("%s %v: %v (stderr %s)", c.bin, c.args(false, cmd...), err, se)
	}
	return so, se, code
}

// checkExec runs the checks every client must pass: output and status,
// stderr apart, and a terminal session.
func (c execClient) checkExec(t *testing.T) {
	t.Helper()
	if so, se, code := c.run(t, "echo", "hi"); code != 0 || strings.TrimSpace(so) != "hi" {
		t.Errorf("exec echo hi: status %d, stdout %q, stderr %q", code, so, se)
	}
	so, se, code := c.run(t, "sh", "-c", "echo err >&2; exit 3")
	c.checkStatus(t, "exec exit 3", code, se, 3)
	if !strings.Contains(se, "err\n") || strings.Contains(so, "err") {
		t.Errorf("exec exit 3: stdout %q, stderr %q; want err on stderr only", so, se)
	}
	out, code := ptyRun(t, c.env, c.bin, c.args(true, "sh", "-c", "tty; stty size")...)
	if code != 0 || !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "33 111") {
		t.Errorf("exec with a terminal: status %d, output %q; want a /dev/pts tty of 33 rows and 111 columns", code, out)
	}
}

// ptyRun runs a client on a terminal of 33x111 (as a user's would be) and
// returns what it printed and its status.
func ptyRun(t *testing.T, env []string, bin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, bin, args...)
	c.Env = env
	f, err := pty.StartWithSize(c, &pty.Winsize{Rows: 33, Cols: 111})
	if err != nil {
		t.Fatalf("start %s on a pty: %v", bin, err)
	}
	defer f.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&out, f); close(done) }()
	err = c.Wait()
	f.Close()
	<-done
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return out.String(), c.ProcessState.ExitCode()
}

func TestCtrExecGuest(t *testing.T) {
	e, d := uruncCtrd(t)
	ref := "urunc.local/guest:ctr"
	d.ctrOK("images", "import", packGuest(t, e, ref, "oci", "0", "600"))
	d.ctrOK("run", "-d", "--runtime", ctrdUruncRuntime, ref, "g1")
	t.Cleanup(func() {
		d.ctr("tasks", "kill", "-s", "SIGKILL", "g1")
		d.ctr("tasks", "delete", "-f", "g1")
		d.ctr("containers", "delete", "g1")
	})
	n := 0
	c := execClient{env: append(os.Environ(), "PATH="+d.path()), bin: filepath.Join(d.tools, "ctr"),
		args: func(tty bool, cmd ...string) []string {
			n++
			a := []string{"--address", d.sock, "--namespace", d.ns, "tasks", "exec", "--exec-id", "e" + strconv.Itoa(n)}
			if tty {
				a = append(a, "-t")
			}
			return append(append(a, "g1"), cmd...)
		}}
	c.checkExec(t)
	d.ctrOK("tasks", "kill", "g1")
	d.waitTaskStopped("g1", 30*time.Second)
	d.ctrOK("tasks", "delete", "g1")
	d.ctrOK("containers", "delete", "g1")
	d.assertNoVMM(t)
}

func TestNerdctlExecGuest(t *testing.T) {
	e, d := uruncCtrd(t)
	d.nerdctlOK("load", "-i", packGuest(t, e, "urunc.local/guest:nerdctl", "docker", "0", "600"))
	d.nerdctlOK("run", "-d", "--name", "g2", "--network", "none", "--runtime", ctrdUruncRuntime, "urunc.local/guest:nerdctl")
	t.Cleanup(func() { d.nerdctl("rm", "-f", "g2") })
	c := execClient{env: append(os.Environ(), "PATH="+d.path()), bin: filepath.Join(d.tools, "nerdctl"),
		args: func(tty bool, cmd ...string) []string {
			a := append(d.nerdctlGlobal(), "exec")
			if tty {
				a = append(a, "-it")
			}
			return append(append(a, "g2"), cmd...)
		}, exitMsg: "exec failed with exit code %d"}
	c.checkExec(t)
	d.nerdctlOK("rm", "-f", "g2")
	d.assertNoVMM(t)
}

func TestDockerExecGuest(t *testing.T) {
	e := setup(t, true)
	d := pdStartDockerd(t, e)
	image := "urunc.local/guest:docker"
	d.ok("load", "-i", packGuest(t, e, image, "docker", "0", "600"))
	if _, errs, code := d.run("-d", "--name", "g3", image); code != 0 {
		t.Fatalf("docker run -d: exit %d: %s", code, errs)
	}
	c := execClient{env: d.env, bin: d.client, args: dockerExec("g3")}
	c.checkExec(t)
	d.ok("rm", "-f", "g3")
	d.assertNoState()
}

// dockerExec is the exec argv of docker and podman for container name.
func dockerExec(name string) func(tty bool, cmd ...string) []string {
	return func(tty bool, cmd ...string) []string {
		a := []string{"exec"}
		if tty {
			a = append(a, "-it")
		}
		return append(append(a, name), cmd...)
	}
}

func TestPodmanExecGuest(t *testing.T) {
	e := setup(t, true)
	p := pdStartPodman(t, e)
	image := p.load(packGuest(t, e, "urunc.local/guest:podman", "oci", "0", "600"))
	if _, errs, code := p.run("-d", "--name", "g4", image); code != 0 {
		t.Fatalf("podman run -d: exit %d: %s", code, errs)
	}
	bin, err := exec.LookPath("podman")
	if err != nil {
		t.Skip("podman not installed")
	}
	c := execClient{env: p.env, bin: bin, args: dockerExec("g4")}
	c.checkExec(t)
	p.ok("rm", "-f", "g4")
	p.assertNoState()
}

// crictl exec (streaming, with and without a terminal), an ExecSync probe
// with a timeout as the kubelet runs exec probes, and a tar stream of a
// guest file as `kubectl cp` reads it.
func TestCRIExecGuest(t *testing.T) {
	e := setup(t, true)
	if _, err := os.Stat(filepath.Join(e.bin, "urunc-pack")); err != nil {
		t.Skip("urunc-pack not built: run `make`")
	}
	ctrdNeedUrunc(t)
	d := criStart(t)
	const image = "urunc.local/guest:cri"
	d.importImage(packGuest(t, e, image, "oci", "0", "600"))
	pod, errs, code := d.runPod("execpod", nil)
	if code != 0 {
		t.Fatalf("crictl runp: exit %d: %s", code, errs)
	}
	id := pod.create("guest", image)
	d.crictlOK("start", id)
	d.waitLogs(id, "hello from guest")
	c := execClient{env: append(os.Environ(), "PATH="+d.path()), bin: filepath.Join(d.tools, "crictl"),
		args: func(tty bool, cmd ...string) []string {
			a := []string{"--config", d.config, "exec"}
			if tty {
				a = append(a, "-it")
			}
			return append(append(a, id), cmd...)
		}, exitMsg: "command terminated with exit code %d"}
	c.checkExec(t)

	t.Run("ExecSync probe", func(t *testing.T) {
		probe := func() (int, string) {
			_, se, code := d.crictl("exec", "--sync", "--timeout", "20", id, "sh", "-c", "test -f /tmp/healthy || exit 3")
			return code, se
		}
		// ExecSync's answer carries the status; crictl prints it.
		sync := execClient{exitMsg: "exited with %d"}
		code, se := probe()
		sync.checkStatus(t, "probe before the file exists", code, se, 3)
		d.crictlOK("exec", "--sync", "--timeout", "20", id, "sh", "-c", "echo ok > /tmp/healthy")
		code, se = probe()
		sync.checkStatus(t, "probe once the file exists", code, se, 0)
	})

	t.Run("tar stream out of the guest", func(t *testing.T) {
		out, errs, code := d.crictl("exec", id, "tar", "cf", "-", "-C", "/", guestFile)
		if code != 0 {
			t.Fatalf("crictl exec tar: exit %d: %s", code, errs)
		}
		tr := tar.NewReader(strings.NewReader(out))
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("read the tar stream (%d bytes): %v", len(out), err)
		}
		data, _ := io.ReadAll(tr)
		if h.Name != guestFile || string(data) != guestFileData {
			t.Errorf("tar entry %q holding %q, want %q holding %q", h.Name, data, guestFile, guestFileData)
		}
	})

	d.crictlOK("stop", "--timeout", "10", id)
	if code := d.inspect("inspect", id).Status.ExitCode; code != 143 {
		t.Errorf("exit code after crictl stop %d, want 143", code)
	}
	d.crictlOK("rm", id)
	d.crictlOK("stopp", pod.id)
	d.crictlOK("rmp", pod.id)
	d.assertGone(t, nil, id, pod.id)
}
