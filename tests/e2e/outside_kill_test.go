package e2e

// Processes killed from outside urunc (issue 15, item 3): SIGKILL of the
// VMM, of the supervisor, of a foreground `urunc run`, of the shim and of
// containerd. In each case what the guest printed before the kill stays in
// the container's log, the container can then be stopped and removed, and
// nothing is left: no VMM, tap, qdisc or filter, state or VM folder, mount
// or shim.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// noVMFolder fails if the VM folder of id is left under root.
func noVMFolder(t *testing.T, root, id string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, ".urunc", id)); !os.IsNotExist(err) {
		t.Errorf("VM folder %s left: %v", filepath.Join(root, ".urunc", id), err)
	}
}

// consoleHas fails unless the log file holds want.
func consoleHas(t *testing.T, path, want, after string) {
	t.Helper()
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), want) {
		t.Errorf("log %s lost %q after %s:\n%s", path, want, after, b)
	}
}

func TestOutsideKill(t *testing.T) {
	e := setup(t, true)

	// The VMM dies of SIGKILL: the container stops, delete cleans up.
	t.Run("vmm", func(t *testing.T) {
		tn := newTestNet(t, 60)
		r := e.runtime(t)
		b := e.linuxBundle(t, "0", "600")
		joinNetns(b, tn.ctr)
		const id = "ok-vmm"
		out := r.detached("run", "--detach", "--bundle", b.write(), id)
		waitFor(t, out, "hello from guest", 90*time.Second)
		s := r.state(id)
		if exe := vmmExe(s.Pid); !strings.Contains(exe, "qemu-system") {
			t.Fatalf("state pid %d runs %q, want QEMU", s.Pid, exe)
		}
		if err := syscall.Kill(vmmPid(s.Pid), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		r.waitStatus(id, "stopped", 10*time.Second)
		r.ok("delete", id)
		r.assertLeftNothing(tn, out, id, "hello from guest", "SIGKILL of the VMM and delete")
	})

	// The supervisor (the container's init for a Linux guest) dies of
	// SIGKILL: the VMM dies with it, as a container's processes die with
	// its init, and delete cleans up.
	t.Run("supervisor", func(t *testing.T) {
		tn := newTestNet(t, 61)
		r := e.runtime(t)
		b := e.linuxBundle(t, "0", "600", "ignore-term")
		joinNetns(b, tn.ctr)
		const id = "ok-super"
		out := r.detached("run", "--detach", "--bundle", b.write(), id)
		waitFor(t, out, "hello from guest", 90*time.Second)
		s := r.state(id)
		vmm := vmmPid(s.Pid)
		if vmm == s.Pid {
			t.Fatalf("init %d (%s) has no VMM child", s.Pid, exeOf(strconv.Itoa(s.Pid)))
		}
		if err := syscall.Kill(s.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitGone(t, vmm, 5*time.Second)
		r.waitStatus(id, "stopped", 10*time.Second)
		r.ok("delete", id)
		r.assertLeftNothing(tn, out, id, "hello from guest", "SIGKILL of the supervisor and delete")
	})

	// runc's behaviour, the reference for the next case: a SIGKILLed
	// `runc run` leaves its container running, and delete --force removes it.
	t.Run("runc run reference", func(t *testing.T) {
		tools := os.Getenv("URUNC_TOOLS")
		if tools == "" {
			tools = "/var/cache/urunc/tools"
		}
		runc := filepath.Join(tools, "runc")
		if _, err := os.Stat(runc); err != nil {
			t.Skipf("runc not found in %s", tools)
		}
		b := busyboxBundle(t, "/bin/sleep", "600")
		dir := b.write()
		root := filepath.Join(t.TempDir(), "runc")
		const id = "ref-run"
		c := exec.Command(runc, "--root", root, "run", "--bundle", dir, id)
		f := tempFile(t)
		c.Stdout, c.Stderr = f, f
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { exec.Command(runc, "--root", root, "delete", "--force", id).Run() })
		runcState := func() string {
			out, err := exec.Command(runc, "--root", root, "state", id).Output()
			if err != nil {
				return ""
			}
			var s state
			_ = json.Unmarshal(out, &s)
			return s.Status
		}
		for i := 0; i < 100 && runcState() != "running"; i++ {
			time.Sleep(50 * time.Millisecond)
		}
		_ = c.Process.Kill()
		_ = c.Wait()
		time.Sleep(200 * time.Millisecond)
		if st := runcState(); st != "running" {
			t.Fatalf("runc: status %q after `runc run` was SIGKILLed, this test assumed running", st)
		}
		if out, err := exec.Command(runc, "--root", root, "delete", "--force", id).CombinedOutput(); err != nil {
			t.Fatalf("runc delete --force: %v: %s", err, out)
		}
		if st := runcState(); st != "" {
			t.Errorf("runc: status %q after delete --force", st)
		}
	})

	// A foreground `urunc run` dies of SIGKILL: as under runc the
	// container runs on (state says so, its VMM is alive), what the guest
	// printed is in run's stdout, and delete --force removes everything.
	t.Run("foreground run", func(t *testing.T) {
		tn := newTestNet(t, 62)
		r := e.runtime(t)
		b := e.linuxBundle(t, "0", "600")
		joinNetns(b, tn.ctr)
		const id = "ok-run"
		out, f := r.console()
		c := r.cmd(context.Background(), "run", "--bundle", b.write(), id)
		c.Stdout, c.Stderr = f, f
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.urunc("delete", "--force", id) })
		waitFor(t, out, "hello from guest", 90*time.Second)
		if err := c.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = c.Wait()
		time.Sleep(300 * time.Millisecond)
		s := r.state(id)
		if s.Status != "running" {
			t.Errorf("status %q after `urunc run` was SIGKILLed, want running (as runc's container)", s.Status)
		} else if exe := exeOf(strconv.Itoa(vmmPid(s.Pid))); !strings.Contains(exe, "qemu-system") {
			t.Errorf("state pid %d runs %q, want the VMM alive", s.Pid, exe)
		}
		r.ok("delete", "--force", id)
		r.assertLeftNothing(tn, out, id, "hello from guest", "SIGKILL of `urunc run` and delete --force")
	})
}

// waitGone waits until process pid no longer exists (or is a zombie).
func waitGone(t *testing.T, pid int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			return
		}
		if f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("process %d still alive after %v", pid, d)
}

// TestOutsideKillContainerd kills the shim and containerd itself under a
// unikernel run by ctr. TestContainerdRestartWithUnikernel covers a
// containerd stopped with SIGTERM and the task then killed with SIGKILL;
// here containerd dies of SIGKILL, the task is stopped gracefully after the
// restart (SIGTERM through the shim, urunc kill and the guest's control
// channel), the log the shim writes keeps the guest's lines, and the
// network namespace the task joined is left as it was.
func TestOutsideKillContainerd(t *testing.T) {
	e, d := uruncCtrd(t)
	ref := packHello(t, e, d, "urunc.local/hello:sleep", "0", "600")
	runTask := func(t *testing.T, tn *testNet, id string) string {
		t.Helper()
		log := filepath.Join(t.TempDir(), id+".log")
		d.ctrOK("run", "-d", "--runtime", ctrdUruncRuntime, "--with-ns", "network:/var/run/netns/"+tn.ctr,
			"--log-uri", "file://"+log, ref, id)
		t.Cleanup(func() {
			d.exec("ctr", "--address", d.sock, "--namespace", d.ns, "tasks", "kill", "-s", "SIGKILL", id)
			time.Sleep(500 * time.Millisecond)
			d.exec("ctr", "--address", d.sock, "--namespace", d.ns, "tasks", "delete", "--force", id)
			d.exec("ctr", "--address", d.sock, "--namespace", d.ns, "containers", "delete", id)
		})
		waitFor(t, log, "hello from guest", 90*time.Second)
		return log
	}

	// The shim dies: containerd notices, cleans the task up through the
	// shim binary's delete (urunc delete --force), and the container can
	// be removed.
	t.Run("shim", func(t *testing.T) {
		tn := newTestNet(t, 63)
		const id = "ks1"
		log := runTask(t, tn, id)
		shim := d.shimPid(id)
		if shim == 0 {
			t.Fatalf("no shim process for task %s", id)
		}
		if err := syscall.Kill(shim, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, status := d.taskPid(id)
			if status != "RUNNING" {
				t.Logf("task %s after the shim's death: %q", id, status)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %s still RUNNING 20 s after its shim was killed", id)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if _, status := d.taskPid(id); status != "" {
			d.ctrOK("tasks", "delete", id)
		}
		d.ctrOK("containers", "delete", id)
		consoleHas(t, log, "hello from guest", "SIGKILL of the shim")
		d.assertNoVMM(t)
		d.assertNoMount(t, id)
		tn.assertNothingOfOurs("SIGKILL of the shim and ctr containers delete")
	})

	// containerd dies of SIGKILL and starts again: the task is still
	// RUNNING with the same VMM, stops on SIGTERM, and is removed.
	t.Run("containerd", func(t *testing.T) {
		tn := newTestNet(t, 64)
		const id = "ks2"
		log := runTask(t, tn, id)
		before, _ := d.taskPid(id)
		b, err := os.ReadFile(d.c.PIDFile())
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill containerd: %v", err)
		}
		waitGone(t, pid, 10*time.Second)
		if err := d.c.Start(); err != nil {
			t.Fatalf("restart containerd: %v", err)
		}
		pidAfter, status := d.taskPid(id)
		if status != "RUNNING" || pidAfter != before {
			t.Fatalf("after containerd's SIGKILL and restart: task %s pid %d status %q, want RUNNING pid %d", id, pidAfter, status, before)
		}
		if exe := exeOf(strconv.Itoa(vmmPid(pidAfter))); !strings.Contains(exe, "qemu-system") {
			t.Errorf("task pid %d runs %q, want the VMM", pidAfter, exe)
		}
		d.ctrOK("tasks", "kill", id) // SIGTERM, to the guest's app
		d.waitTaskStopped(id, 30*time.Second)
		waitFor(t, log, "hello: got SIGTERM", 5*time.Second) // the shim still copies the guest's output
		d.ctrOK("tasks", "delete", id)
		d.ctrOK("containers", "delete", id)
		consoleHas(t, log, "hello from guest", "SIGKILL of containerd")
		d.assertNoVMM(t)
		d.assertNoMount(t, id)
		tn.assertNothingOfOurs("SIGKILL of containerd, SIGTERM and delete")
	})
}

// shimPid returns the pid of the shim serving task id (0: none).
func (d *ctrdDaemon) shimPid(id string) int {
	for _, p := range processesOf("containerd-shim-urunc-v2") {
		b, err := os.ReadFile(filepath.Join("/proc", p, "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if ctrdHasFlag(argv, "-address", d.sock) && ctrdHasFlag(argv, "-id", id) {
			pid, _ := strconv.Atoi(p)
			return pid
		}
	}
	return 0
}

// assertNoMount fails if a mount of task id's runtime state or bundle is
// left on the host.
func (d *ctrdDaemon) assertNoMount(t *testing.T, id string) {
	t.Helper()
	m, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(m), "\n") {
		if strings.Contains(line, "/"+d.ns+"/"+id) {
			t.Errorf("mount of task %s left: %s", id, line)
		}
	}
}

// assertLeftNothing checks, once container id is deleted, that its console
// (out) kept the line want, and that no VM folder, tap, qdisc, filter,
// state, mount or process of it is left; after says what was done.
func (r *runtime) assertLeftNothing(tn *testNet, out, id, want, after string) {
	r.t.Helper()
	consoleHas(r.t, out, want, after)
	noVMFolder(r.t, r.root, id)
	tn.assertNothingOfOurs(after)
	r.assertClean()
}
