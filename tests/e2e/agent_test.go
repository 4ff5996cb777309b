package e2e

// The guest agent of Linux guests (issue 16): the application's exact exit
// status, and processes exec'd in the guest, through the urunc CLI. The
// clients' exec paths are in exec_clients_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// guestApplets are the busybox applets the exec tests run in the guest.
var guestApplets = []string{"sh", "echo", "cat", "sleep", "id", "pwd", "ps", "tar", "head", "wc", "kill", "true", "false", "env", "tty", "stty", "test", "od", "hostname", "date"}

// withBusybox puts a static busybox and its applets under /bin in rootfs.
func withBusybox(t *testing.T, rootfs string) {
	t.Helper()
	const bb = "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		t.Skip("busybox not installed: run `make deps` (busybox-static)")
	}
	copyFile(t, bb, filepath.Join(rootfs, "bin", "busybox"), 0o755)
	for _, a := range guestApplets {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
}

// guestBundle is a Linux guest running hello with args, with busybox.
func (e *env) guestBundle(t *testing.T, args ...string) *bundle {
	b := e.linuxBundle(t, args...)
	withBusybox(t, b.rootfs(""))
	b.spec.Process.Env = append(b.spec.Process.Env, "PATH=/bin")
	return b
}

// runStatus runs a container in the foreground and returns urunc run's
// exit status and output. onStart, if set, runs once the guest has printed
// its first line, with the container's id.
func (r *runtime) runStatus(t *testing.T, b *bundle, id string, onStart func(id string)) (int, string) {
	t.Helper()
	out, f := r.console()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := r.cmd(ctx, "run", "--bundle", b.write(), id)
	c.Stdout, c.Stderr = f, f
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.urunc("delete", "--force", id) })
	if onStart != nil {
		waitFor(t, out, "hello from guest", 90*time.Second)
		onStart(id)
	}
	err := c.Wait()
	data, _ := os.ReadFile(out)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(data)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(data)
	}
	t.Fatalf("urunc run %s: %v: %s", id, err, data)
	return -1, ""
}

// The container's exit status is the guest application's, exactly: even
// statuses too (QEMU's exit device alone makes them odd), 126 and 127 as a
// shell gives them, 128+n for an application killed by signal n.
func TestGuestExitStatus(t *testing.T) {
	e := setup(t, true)
	cases := []struct {
		name string
		args []string // hello's, or a program of the guest's
		kill string   // signal sent with urunc kill once the guest runs
		want int
	}{
		{"0", []string{"0"}, "", 0},
		{"1", []string{"1"}, "", 1},
		{"2", []string{"2"}, "", 2},
		{"3", []string{"3"}, "", 3},
		{"42", []string{"42"}, "", 42},
		{"126 not executable", []string{"!/notexec"}, "", 126},
		{"127 not found", []string{"!/nope"}, "", 127},
		{"137 killed by SIGKILL in the guest", []string{"!/bin/sh", "-c", "kill -9 $$"}, "", 137},
		{"143 stopped by SIGTERM", []string{"0", "600"}, "TERM", 143},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.runtime(t)
			b := e.guestBundle(t, tc.args...)
			if strings.HasPrefix(tc.args[0], "!") {
				b.spec.Process.Args = append([]string{tc.args[0][1:]}, tc.args[1:]...)
			}
			writeFile(t, b.rootfs("notexec"), "not a program\n")
			var onStart func(string)
			if tc.kill != "" {
				onStart = func(id string) { r.ok("kill", id, tc.kill) }
			}
			got, out := r.runStatus(t, b, fmt.Sprintf("status-%d", i), onStart)
			if got != tc.want {
				t.Errorf("exit status %d, want %d; output:\n%s", got, tc.want, out)
			}
		})
	}
}

// urunc exec runs a process in a Linux guest with runc's CLI: output and
// status, stdin, stderr apart, env/cwd/user, a missing program, concurrent
// sessions, and a detached exec whose proxy's death kills its guest process.
func TestGuestExec(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	b := e.guestBundle(t, "0", "600")
	const id = "exec-guest"
	out := r.detached("run", "--detach", "--bundle", b.write(), id)
	waitFor(t, out, "hello from guest", 90*time.Second)

	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		c := r.cmd(context.Background(), append([]string{"exec"}, args...)...)
		c.Stdin = strings.NewReader(stdin)
		var so, se strings.Builder
		c.Stdout, c.Stderr = &so, &se
		err := c.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("urunc exec %v: %v", args, err)
		}
		return so.String(), se.String(), code
	}
	cases := []struct {
		name             string
		stdin            string
		args             []string
		wantOut, wantErr string
		wantCode         int
	}{
		{"output and status", "", []string{id, "echo", "hi"}, "hi\n", "", 0},
		{"stderr apart, status 42", "", []string{id, "sh", "-c", "echo out; echo err >&2; exit 42"}, "out\n", "err\n", 42},
		{"stdin", "some input\n", []string{id, "cat"}, "some input\n", "", 0},
		{"env, cwd and user", "", []string{"--env", "FOO=bar", "--cwd", "/tmp", "--user", "1000:1000", id,
			"sh", "-c", `echo "$FOO $(pwd) $(id -u):$(id -g)"`}, "bar /tmp 1000:1000\n", "", 0},
		{"not found", "", []string{id, "/nope"}, "", "/nope: no such file or directory", 127},
		{"signalled", "", []string{id, "sh", "-c", "kill -TERM $$"}, "", "", 143},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			so, se, code := run(tc.stdin, tc.args...)
			if code != tc.wantCode || so != tc.wantOut || !strings.Contains(se, tc.wantErr) || (tc.wantErr == "" && se != "") {
				t.Errorf("exec %v: status %d, stdout %q, stderr %q; want %d, %q, %q",
					tc.args, code, so, se, tc.wantCode, tc.wantOut, tc.wantErr)
			}
		})
	}

	t.Run("concurrent sessions", func(t *testing.T) {
		var wg sync.WaitGroup
		outs := make([]string, 4)
		for i := range outs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], _, _ = run("", id, "sh", "-c", "sleep 1; echo "+strconv.Itoa(i))
			}()
		}
		wg.Wait()
		for i, o := range outs {
			if o != strconv.Itoa(i)+"\n" {
				t.Errorf("session %d: stdout %q", i, o)
			}
		}
	})

	t.Run("--process file", func(t *testing.T) {
		p := b.spec.Process
		proc := map[string]any{"args": []string{"sh", "-c", "echo $X; exit 5"}, "env": []string{"PATH=/bin", "X=from-process-json"},
			"cwd": "/", "user": map[string]any{"uid": p.User.UID, "gid": p.User.GID}}
		path := filepath.Join(t.TempDir(), "process.json")
		data, _ := json.Marshal(proc)
		writeFile(t, path, string(data))
		if so, se, code := run("", "--process", path, id); code != 5 || so != "from-process-json\n" {
			t.Errorf("exec --process: status %d, stdout %q, stderr %q; want 5 and the env's value", code, so, se)
		}
	})

	// What the shim does to kill an exec: a signal to the proxy's pid.
	t.Run("a signal to the proxy reaches its guest process", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "exec.pid")
		r.ok("exec", "--detach", "--pid-file", pidFile, id, "sleep", "4343")
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		waitGuestProc(t, run, id, "sleep 4343", true)
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitGuestProc(t, run, id, "sleep 4343", false)
		waitGone(t, pid, 10*time.Second)
	})

	t.Run("a killed proxy kills its guest process", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "exec.pid")
		r.ok("exec", "--detach", "--pid-file", pidFile, id, "sleep", "4242")
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		if pid <= 0 {
			t.Fatalf("pid file %q", data)
		}
		waitGuestProc(t, run, id, "sleep 4242", true)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitGuestProc(t, run, id, "sleep 4242", false)
	})

	r.ok("kill", id, "KILL")
	r.waitStatus(id, "stopped", 10*time.Second)
	r.ok("delete", id)
}

// waitGuestProc waits until the guest's ps lists (or no longer lists) a
// process whose command line holds cmd.
func waitGuestProc(t *testing.T, run func(string, ...string) (string, string, int), id, cmd string, want bool) {
	t.Helper()
	for i := 0; i < 100; i++ {
		so, _, _ := run("", id, "ps")
		if strings.Contains(so, cmd) == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("guest process %q running = %v, want %v", cmd, !want, want)
}
