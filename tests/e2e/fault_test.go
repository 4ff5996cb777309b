package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/urunc-runtime/urunc/internal/fault"
)

// faultEnv is e with the faultinject build of urunc (make urunc-fault) in
// place of urunc, in a folder of its own, so that the leak checks look for
// that binary's processes.
func faultEnv(t *testing.T, e *env) *env {
	t.Helper()
	src := filepath.Join(e.bin, "urunc-fault")
	if _, err := os.Stat(src); err != nil {
		t.Skipf("%s not built: run `make urunc-fault` (make test builds it)", src)
	}
	fe := *e
	fe.bin = t.TempDir()
	copyFile(t, src, filepath.Join(fe.bin, "urunc"), 0o755)
	for _, b := range []string{"urunit", "hello", "httpd"} {
		if err := os.Symlink(filepath.Join(e.bin, b), filepath.Join(fe.bin, b)); err != nil {
			t.Fatal(err)
		}
	}
	return &fe
}

// faulted runs urunc with the fault switch set to phase and its stdio on
// f; it reports the exit code, or killed when urunc died of the switch.
func (r *runtime) faulted(phase string, f *os.File, args ...string) (code int, killed bool) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := r.cmd(ctx, args...)
	c.Env = append(os.Environ(), fault.Env+"="+phase)
	c.Stdout, c.Stderr = f, f
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return -1, true
		}
		return ee.ExitCode(), false
	}
	if err != nil {
		r.t.Fatalf("urunc %v: %v", args, err)
	}
	return 0, false
}

// TestFaultPhaseWalk kills urunc (SIGKILL, as a crash or the OOM killer
// would) right after each named phase of create, start, kill and delete,
// and the launcher just before it execs the VMM, for a Linux guest in a
// network namespace that outlives the container (a pod's). delete --force
// must then leave no process, mount, state or VM folder, tap, qdisc or
// filter, and a container of the same id must start again.
func TestFaultPhaseWalk(t *testing.T) {
	e := setup(t, true)
	fe := faultEnv(t, e)
	for i, phase := range fault.Phases {
		t.Run(phase, func(t *testing.T) {
			tn := newTestNet(t, 40+i)
			r := fe.runtime(t)
			b := e.linuxBundle(t, "0", "600")
			joinNetns(b, tn.ctr)
			dir := b.write()
			const id = "walk"
			out, f := r.console()
			// Whatever fails below, nothing of this container outlives the test.
			t.Cleanup(func() { r.urunc("delete", "--force", id) })
			if !r.walkTo(phase, id, dir, out, f) {
				b, _ := os.ReadFile(out)
				t.Fatalf("the lifecycle never reached phase %s (output: %s)", phase, b)
			}
			if res := r.urunc("delete", "--force", id); res.code != 0 {
				t.Fatalf("delete --force after a kill at %s: exit %d: %s", phase, res.code, res.stderr)
			}
			tn.assertNothingOfOurs("a kill at " + phase + " and delete --force")
			r.assertClean()
			// The id is free again, for a container that runs.
			r.ok("create", "--bundle", dir, id)
			r.ok("start", id)
			r.waitStatus(id, "running", 30*time.Second)
			r.ok("delete", "--force", id)
			tn.assertNothingOfOurs("a new container of the same id")
		})
	}
}

// walkTo runs create, start, kill SIGTERM and delete of a container, the
// phase's fault switched on, until urunc (or its launcher) dies there; it
// reports whether it did.
func (r *runtime) walkTo(phase, id, dir, out string, f *os.File) bool {
	r.t.Helper()
	for _, args := range [][]string{{"create", "--bundle", dir, id}, {"start", id}, {"kill", id, "SIGTERM"}, {"delete", id}} {
		code, killed := r.faulted(phase, f, args...)
		if killed {
			return true
		}
		if code != 0 {
			b, _ := os.ReadFile(out)
			r.t.Fatalf("urunc %v (fault at %s): exit %d: %s", args, phase, code, b)
		}
		switch args[0] {
		case "start":
			if phase == fault.LaunchBeforeExec {
				// The launcher is the container's init: its death stops
				// the container before any VMM ran.
				r.waitStatus(id, "stopped", 30*time.Second)
				return true
			}
			r.waitStatus(id, "running", 30*time.Second)
		case "kill":
			r.waitStatus(id, "stopped", 90*time.Second)
		}
	}
	return false
}
