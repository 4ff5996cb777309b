package e2e

// The agent paths of Linux guests on Firecracker and Cloud Hypervisor,
// end to end with the stand-in VMM playing the guest's agent (see
// testdata/standin/agent.go): the supervisor, the container's pid 1, takes
// the application's exit status from the guest, passes it signals, and
// runs `urunc exec` processes in it through the exec proxy.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/agent"
	"github.com/urunc-runtime/urunc/internal/testutil/solo5elf"
)

// saVMMs are the VMMs whose agent channel is the hybrid vsock.
var saVMMs = []string{"firecracker", "cloud-hypervisor"}

// TestStandinAgent drives, on each VMM, the exit statuses, signals, stop
// grace, a guest that reports nothing and exec.
func TestStandinAgent(t *testing.T) {
	e := setup(t, false)
	dir := siInstallStandin(t)
	for _, v := range saVMMs {
		t.Run(v, func(t *testing.T) {
			sa := &saCase{e: e, vmm: v, dir: dir, bin: filepath.Join(dir, v)}
			t.Run("exit-status", sa.exitStatus)
			t.Run("kill-TERM", func(t *testing.T) { sa.killed(t, "TERM", 143, false) })
			t.Run("kill-KILL", func(t *testing.T) { sa.killed(t, "KILL", 137, false) })
			t.Run("stop-grace", func(t *testing.T) { sa.killed(t, "TERM", 137, true) })
			t.Run("run-SIGINT", sa.runSignal)
			t.Run("non-root", sa.nonRoot)
			t.Run("unreported", sa.unreported)
			t.Run("exec", sa.exec)
		})
	}
}

type saCase struct {
	e        *env
	vmm      string
	dir, bin string // the stand-in's folder and the VMM's binary in it
}

// runtime configures urunc for the case's VMM (plus extra config) and
// returns a fresh state root.
func (sa *saCase) runtime(t *testing.T, extra ...string) *runtime {
	siConfig(t, sa.e, sa.vmm, sa.bin, siKVM(t), extra...)
	return sa.e.runtime(t)
}

// bundle is a Linux guest whose application is hello with args.
func (sa *saCase) bundle(t *testing.T, args ...string) *bundle {
	b := siLinuxBundle(sa.vmm)(t, sa.e)
	b.spec.Process.Args = append([]string{"/hello"}, args...)
	return b
}

// noLeaks: no stand-in process is left, nor the container's state.
func (sa *saCase) noLeaks(t *testing.T, r *runtime, id string) {
	t.Helper()
	if left := processesOf(sa.dir); len(left) > 0 {
		t.Errorf("stand-in processes left: %v", left)
	}
	if _, err := os.Stat(filepath.Join(r.root, id)); !os.IsNotExist(err) {
		t.Errorf("state of %s left: %v", id, err)
	}
}

// saReport decodes the stand-in's report, the first line of the container's
// stdout, and checks it played the guest with args.
func saReport(t *testing.T, stdout string, args []string) {
	t.Helper()
	line, _, _ := strings.Cut(stdout, "\n")
	var rep siReport
	if err := json.Unmarshal([]byte(line), &rep); err != nil {
		t.Errorf("stand-in report: %v\n%s", err, stdout)
		return
	}
	if rep.Guest == nil || rep.Guest.Error != "" || !slices.Equal(rep.Guest.Args, args) {
		t.Errorf("the stand-in played guest %+v, want args %q", rep.Guest, args)
	}
}

// exitStatus: a foreground run exits with exactly the status the guest's
// application exited with, as urunit reported it.
func (sa *saCase) exitStatus(t *testing.T) {
	r := sa.runtime(t)
	for _, status := range []int{0, 1, 2, 3, 42, 126, 127, 137} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			id := fmt.Sprintf("sa-%s-exit%d", sa.vmm, status)
			args := []string{"/hello", fmt.Sprint(status)}
			b := sa.bundle(t, args[1:]...)
			res := r.urunc("run", "--bundle", b.write(), id)
			if res.code != status {
				t.Errorf("run: exit %d, want %d\nstderr:\n%s", res.code, status, res.stderr)
			}
			want := fmt.Sprintf("standin: the host took the exit status %d\n", status)
			if !strings.Contains(res.stderr, want) || strings.Contains(res.stderr, "without reporting") {
				t.Errorf("container stderr lacks %q (the status did not come through the agent):\n%s", want, res.stderr)
			}
			saReport(t, res.stdout, args)
			sa.noLeaks(t, r, id)
		})
	}
}

// started runs `urunc run` in the foreground in the background and
// waits until the stand-in's guest has the supervisor's OpWait: from then
// on a signal to the container reaches the supervisor's handler and the
// session. It returns run's command and the console file.
func (sa *saCase) started(t *testing.T, r *runtime, id string, b *bundle) (*exec.Cmd, string) {
	t.Helper()
	out, f := r.console()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	c := r.cmd(ctx, "run", "--bundle", b.write(), id)
	c.Stdout, c.Stderr = f, f
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.urunc("delete", "--force", id)
		_ = c.Wait()
	})
	waitFor(t, out, "standin: the host waits for the application's exit status", 30*time.Second)
	return c, out
}

// saExitCode waits for a started run and returns its exit status.
func saExitCode(t *testing.T, c *exec.Cmd) int {
	t.Helper()
	err := c.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return 0
}

// killed: `urunc kill <id> <sig>` of a sleeping application. TERM reaches
// it through the agent and it exits 143, which the guest reports; KILL
// kills the supervisor, and the VMM with it (137). With ignoreTerm the
// application ignores TERM, and the supervisor kills the VM after
// [linux] stop_grace_seconds (137).
func (sa *saCase) killed(t *testing.T, sig string, want int, ignoreTerm bool) {
	var r *runtime
	args := []string{"0", "600"}
	if ignoreTerm {
		r = sa.runtime(t, "[linux]\nstop_grace_seconds = 1\n")
		args = append(args, "ignore-term")
	} else {
		r = sa.runtime(t)
	}
	id := fmt.Sprintf("sa-%s-kill-%s", sa.vmm, strings.ToLower(sig))
	if ignoreTerm {
		id += "-grace"
	}
	c, out := sa.started(t, r, id, sa.bundle(t, args...))
	start := time.Now()
	r.ok("kill", id, sig)
	code := saExitCode(t, c)
	b, _ := os.ReadFile(out)
	console := string(b)
	t.Logf("run exited %d, %v after kill %s", code, time.Since(start), sig)
	if code != want {
		t.Errorf("run after kill %s: exit %d, want %d\n%s", sig, code, want, console)
	}
	switch {
	case ignoreTerm:
		for _, w := range []string{"standin: signal 15 to the application\n", "standin: application ignores SIGTERM\n",
			"did not stop within 1s of the stop signal"} {
			if !strings.Contains(console, w) {
				t.Errorf("console lacks %q:\n%s", w, console)
			}
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("the VM was killed %v after TERM, before the 1s grace period", d)
		}
	case sig == "TERM":
		for _, w := range []string{"standin: signal 15 to the application\n", "standin: the host took the exit status 143\n"} {
			if !strings.Contains(console, w) {
				t.Errorf("console lacks %q (the status did not come through the agent):\n%s", w, console)
			}
		}
	}
	if strings.Contains(console, "without reporting") {
		t.Errorf("the supervisor says the guest reported nothing:\n%s", console)
	}
	sa.noLeaks(t, r, id)
}

// runSignal: a foreground `urunc run` passes a signal it gets to the
// container, whose supervisor passes it to the application through the
// agent: SIGINT ends hello with 130, which the guest reports.
func (sa *saCase) runSignal(t *testing.T) {
	r := sa.runtime(t)
	id := "sa-" + sa.vmm + "-run-sigint"
	c, out := sa.started(t, r, id, sa.bundle(t, "0", "600"))
	if err := c.Process.Signal(unix.SIGINT); err != nil {
		t.Fatal(err)
	}
	code := saExitCode(t, c)
	b, _ := os.ReadFile(out)
	if code != 130 {
		t.Errorf("foreground run after SIGINT: exit %d, want 130\n%s", code, b)
	}
	for _, w := range []string{"standin: signal 2 to the application\n", "standin: the host took the exit status 130\n"} {
		if !strings.Contains(string(b), w) {
			t.Errorf("console lacks %q (the signal or status did not go through the agent):\n%s", w, b)
		}
	}
	sa.noLeaks(t, r, id)
}

// nonRoot: with a non-root container user the supervisor, the VMM and
// the exec proxy run as that user, and still meet on the run folder's
// sockets: the status comes through, and so does an exec.
func (sa *saCase) nonRoot(t *testing.T) {
	r := sa.runtime(t)
	id := "sa-" + sa.vmm + "-nonroot"
	b := sa.bundle(t, "5", "600")
	b.spec.Process.User = specs.User{UID: siUser, GID: siUser}
	c, out := sa.started(t, r, id, b)
	if res := r.urunc("exec", id, "echo", "as", "a", "user"); res.code != 0 || res.stdout != "as a user\n" {
		t.Errorf("exec echo: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	r.ok("kill", id, "TERM")
	code := saExitCode(t, c)
	text, _ := os.ReadFile(out)
	if code != 143 || !strings.Contains(string(text), "standin: the host took the exit status 143\n") {
		t.Errorf("run of a non-root guest after kill TERM: exit %d, want 143 through the agent\n%s", code, text)
	}
	line, _, _ := strings.Cut(string(text), "\n")
	var rep siReport
	if err := json.Unmarshal([]byte(line), &rep); err != nil || rep.UID != siUser || rep.GID != siUser {
		t.Errorf("the VMM ran as %d:%d (%v), want %d:%d", rep.UID, rep.GID, err, siUser, siUser)
	}
	sa.noLeaks(t, r, id)
}

// unreported: a VM that stops without urunit reporting a status — after
// answering OpWait (silent), or with no agent at all (absent) — is a
// container that exits 255, never 0, though the VMM exits 0.
func (sa *saCase) unreported(t *testing.T) {
	r := sa.runtime(t)
	for _, mode := range []string{"silent", "absent"} {
		t.Run(mode, func(t *testing.T) {
			id := fmt.Sprintf("sa-%s-%s", sa.vmm, mode)
			b := sa.bundle(t, "0")
			b.spec.Process.Env = append(b.spec.Process.Env, "STANDIN_AGENT="+mode)
			res := r.urunc("run", "--bundle", b.write(), id)
			if res.code != 255 {
				t.Errorf("run of a guest that reports nothing: exit %d, want 255\nstderr:\n%s", res.code, res.stderr)
			}
			for _, w := range []string{"urunc: the guest stopped without reporting its application's exit status",
				map[string]string{"silent": "standin: stopping without reporting", "absent": "standin: no agent in this guest"}[mode]} {
				if !strings.Contains(res.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, res.stderr)
				}
			}
			sa.noLeaks(t, r, id)
		})
	}
}

// exec: `urunc exec` runs processes in the guest through the exec proxy
// and the agent: their output, stdin, exit status, a program the guest
// lacks (127), and the process's settings as the guest gets them.
func (sa *saCase) exec(t *testing.T) {
	r := sa.runtime(t)
	id := "sa-" + sa.vmm + "-exec"
	out := r.detached("run", "--detach", "--bundle", sa.bundle(t, "0", "600").write(), id)
	waitFor(t, out, "standin: the host waits for the application's exit status", 30*time.Second)

	if res := r.urunc("exec", id, "echo", "hi", "there"); res.code != 0 || res.stdout != "hi there\n" {
		t.Errorf("exec echo hi there: exit %d, stdout %q, stderr %q; want 0 and \"hi there\\n\"", res.code, res.stdout, res.stderr)
	}
	if res := r.urunc("exec", id, "exit", "7"); res.code != 7 {
		t.Errorf("exec exit 7: exit %d (stderr %q), want 7", res.code, res.stderr)
	}
	if res := r.urunc("exec", id, "/no/such/program"); res.code != 127 || !strings.Contains(res.stderr, "no such file or directory") {
		t.Errorf("exec of a program the guest lacks: exit %d, stderr %q; want 127 and the guest's reason", res.code, res.stderr)
	}

	const piped = "through the guest and back\n"
	c := r.cmd(context.Background(), "exec", id, "cat")
	c.Stdin = strings.NewReader(piped)
	if got, err := c.Output(); err != nil || string(got) != piped {
		t.Errorf("exec cat with stdin %q: %q, %v", piped, got, err)
	}

	res := r.urunc("exec", "--env", "SA_EXTRA=1", "--cwd", "/tmp", "--user", "1000:1001", id, "standin-process")
	var p agent.Process
	if err := json.Unmarshal([]byte(res.stdout), &p); err != nil || res.code != 0 {
		t.Fatalf("exec standin-process: exit %d, %v\nstdout %q\nstderr %q", res.code, err, res.stdout, res.stderr)
	}
	if !slices.Equal(p.Args, []string{"standin-process"}) || !slices.Contains(p.Env, "SA_EXTRA=1") ||
		!slices.Contains(p.Env, siGuestOnly) || p.Cwd != "/tmp" || p.UID != 1000 || p.GID != 1001 || p.Terminal {
		t.Errorf("the guest got process %+v; want args [standin-process], env with SA_EXTRA=1 and the container's, cwd /tmp, 1000:1001, no terminal", p)
	}

	saExecTerminal(t, r, id)

	r.ok("kill", id, "TERM")
	r.waitStatus(id, "stopped", 30*time.Second)
	waitFor(t, out, "standin: the host took the exit status 143\n", 5*time.Second)
	r.ok("delete", id)
	sa.noLeaks(t, r, id)
}

// saExecTerminal: a detached exec with a terminal (-d -t, as a shim runs
// `exec -it`): the console socket gets the proxy's pty, the guest is told
// the process has a terminal and its output comes out of the pty; the pid
// file names the proxy, which exits once the guest process has.
func saExecTerminal(t *testing.T, r *runtime, id string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan *os.File, 1)
	go func() { got <- receivePty(t, l) }()
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	r.ok("exec", "-d", "-t", "--console-socket", sock, "--pid-file", pidFile, id, "standin-process")
	var pty *os.File
	select {
	case pty = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no pty received on the console socket")
	}
	if pty == nil {
		t.Fatal("the console socket got no pty")
	}
	defer pty.Close()
	text := readUntil(pty, "}", 30*time.Second)
	if !strings.Contains(text, `"args":["standin-process"]`) || !strings.Contains(text, `"terminal":true`) {
		t.Errorf("pty output %q: want the guest's process with a terminal", text)
	}
	b, err := os.ReadFile(pidFile)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || perr != nil {
		t.Fatalf("pid file: %q, %v %v", b, err, perr)
	}
	if exe := exeOf(strconv.Itoa(pid)); exe != "" && !strings.HasSuffix(exe, "/urunc") {
		t.Errorf("pid file names %d, running %q: want the exec proxy (urunc)", pid, exe)
	}
	for i := 0; i < 100 && unix.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if unix.Kill(pid, 0) == nil {
		t.Errorf("exec proxy %d still runs 10s after its guest process exited", pid)
	}
}

// exec into a guest without an agent (a Solo5 unikernel) is refused with
// one line naming the guest type, and leaves the container as it was.
func TestStandinExecRefused(t *testing.T) {
	e := setup(t, false)
	dir := siInstallStandin(t)
	siConfig(t, e, "spt", filepath.Join(dir, "solo5-spt"), siKVM(t))
	r := e.runtime(t)
	b := siSolo5Bundle("spt", "mirage", solo5elf.TargetSPT, false)(t, e)
	const id = "si-exec-refused"
	r.ok("create", "--bundle", b.write(), id)
	res := r.urunc("exec", id, "true")
	msg := strings.TrimSpace(res.stderr)
	if res.code == 0 || !strings.Contains(msg, "a mirage guest has no agent") || strings.Count(msg, "\n") > 0 {
		t.Errorf("exec into a mirage guest: exit %d, stderr %q; want one line naming the guest type", res.code, res.stderr)
	}
	if s := r.state(id); s.Status != "created" {
		t.Errorf("status %q after the refused exec, want created", s.Status)
	}
	r.ok("delete", "--force", id)
}
