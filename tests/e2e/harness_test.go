// Package e2e drives the real urunc binary, QEMU and guest kernel. Every
// test here needs root; without it, or without the binaries and kernel that
// `make test` provides, the tests skip and say why.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urunc-runtime/urunc/internal/planner"
)

// env is what a test needs from the machine, found once.
type env struct {
	bin    string // folder with urunc, urunit, hello
	kernel string // Debian cloud kernel
	config string // urunc config file for the tests
}

func setup(t *testing.T, needKernel bool) *env {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: containers and VMs are created for real (run `make test` as root)")
	}
	e := &env{bin: os.Getenv("URUNC_BIN"), kernel: os.Getenv("URUNC_KERNEL")}
	if e.bin == "" {
		t.Skip("URUNC_BIN not set: run through `make test`, which builds the binaries")
	}
	for _, b := range []string{"urunc", "urunit", "hello", "httpd"} {
		if _, err := os.Stat(filepath.Join(e.bin, b)); err != nil {
			t.Skipf("%s not built in %s: run `make`", b, e.bin)
		}
	}
	if needKernel {
		if _, err := os.Stat(e.kernel); err != nil {
			t.Skipf("guest kernel %q missing: run `make kernel`", e.kernel)
		}
		if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
			t.Skip("qemu-system-x86_64 not installed: run `make deps`")
		}
	}
	e.config = filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, e.config, "[linux]\nurunit = \""+filepath.Join(e.bin, "urunit")+"\"\n")
	return e
}

// runtime is one urunc state root, removed after the test with a check
// that nothing of it was left behind.
type runtime struct {
	t      *testing.T
	e      *env
	root   string
	before map[string]bool // VMM pids that existed before the test
}

func (e *env) runtime(t *testing.T) *runtime {
	r := &runtime{t: t, e: e, root: filepath.Join(t.TempDir(), "state"), before: map[string]bool{}}
	for _, p := range processesOf("qemu-system") {
		r.before[p] = true
	}
	t.Cleanup(func() { r.assertClean() })
	return r
}

// result is one urunc invocation's outcome.
type result struct {
	stdout, stderr string
	code           int
}

func (r *runtime) cmd(ctx context.Context, args ...string) *exec.Cmd {
	all := append([]string{"--root", r.root, "--config", r.e.config}, args...)
	return exec.CommandContext(ctx, filepath.Join(r.e.bin, "urunc"), all...)
}

// urunc runs urunc with a time limit and returns what it did.
func (r *runtime) urunc(args ...string) result {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := r.cmd(ctx, args...)
	// Files, not pipes: a detached container inherits them and would hold
	// a pipe open long after urunc exits.
	out, errf := tempFile(r.t), tempFile(r.t)
	c.Stdout, c.Stderr = out, errf
	err := c.Run()
	res := result{stdout: readAll(out), stderr: readAll(errf)}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("urunc %v: %v", args, err)
	}
	return res
}

// ok runs urunc and fails the test unless it exits 0.
func (r *runtime) ok(args ...string) string {
	r.t.Helper()
	res := r.urunc(args...)
	if res.code != 0 {
		r.t.Fatalf("urunc %v: exit %d: %s", args, res.code, res.stderr)
	}
	return res.stdout
}

// execTimeout runs a client (ctr, nerdctl, podman, docker, ...) with env,
// killing it after timeout. A non-zero exit is a code, not an error; err
// is for a client that could not run or timed out (code -1).
func execTimeout(timeout time.Duration, env []string, path string, args ...string) (stdout, stderr string, code int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := exec.CommandContext(ctx, path, args...)
	c.Env = env
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	c.WaitDelay = 5 * time.Second // a detached child holding our pipes must not hang the test
	err = c.Run()
	if ctx.Err() != nil {
		return out.String(), errb.String(), -1, fmt.Errorf("%s %v: timed out after %v", filepath.Base(path), args, timeout)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode(), nil
	}
	return out.String(), errb.String(), 0, err
}

// console is a file for a container's stdio: a file, not a pipe, since a
// detached VMM keeps it open long after urunc returns.
func (r *runtime) console() (string, *os.File) {
	r.t.Helper()
	path := filepath.Join(r.t.TempDir(), "console")
	f, err := os.Create(path)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { f.Close() })
	return path, f
}

// detached runs a urunc verb that leaves the container running (run
// --detach, create) with its stdio on a console file, which it returns.
// The container, the last argument, is deleted with --force at cleanup.
func (r *runtime) detached(args ...string) string {
	r.t.Helper()
	out, f := r.console()
	c := r.cmd(context.Background(), args...)
	c.Stdout, c.Stderr = f, f
	err := c.Run()
	id := args[len(args)-1]
	r.t.Cleanup(func() { r.urunc("delete", "--force", id) })
	if err != nil {
		b, _ := os.ReadFile(out)
		r.t.Fatalf("urunc %v: %v: %s", args, err, b)
	}
	return out
}

type state struct {
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations"`
}

func (r *runtime) state(id string) state {
	r.t.Helper()
	var s state
	if err := json.Unmarshal([]byte(r.ok("state", id)), &s); err != nil {
		r.t.Fatalf("state %s: %v", id, err)
	}
	return s
}

// waitStatus polls state until the container reaches want.
func (r *runtime) waitStatus(id, want string, d time.Duration) state {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := r.state(id)
		if s.Status == want {
			return s
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("container %s: status %q after %v, want %q", id, s.Status, d, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// assertClean checks that no container state, VM folder, mount or
// process of this root is left.
func (r *runtime) assertClean() {
	t := r.t
	entries, _ := os.ReadDir(r.root)
	for _, e := range entries {
		left, _ := os.ReadDir(filepath.Join(r.root, e.Name()))
		t.Errorf("leaked state dir %s (holding %d entries)", e.Name(), len(left))
	}
	if m, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(m, []byte(r.root)) {
		t.Errorf("leaked mount under %s", r.root)
	}
	// A detached exec's proxy leaves within a poll of its guest process.
	for i := 0; i < 20 && len(processesOf(filepath.Join(r.e.bin, "urunc"))) > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	// The supervisor and exec proxies run urunc as the monitor root sees it.
	for _, p := range processesOf("qemu-system", filepath.Join(r.e.bin, "urunc"), planner.MonitorSelf) {
		if !r.before[p] && r.owns(p) {
			t.Errorf("leaked process %s (%s)", p, exeOf(p))
		}
	}
}

// owns tells whether process pid belongs to this runtime: a VMM runs in a
// monitor root under the state root; urunc itself names the root in its
// arguments. (Other QEMUs on the machine are not ours to judge.)
func (r *runtime) owns(pid string) bool {
	if root, err := os.Readlink(filepath.Join("/proc", pid, "root")); err == nil && strings.HasPrefix(root, r.root) {
		return true
	}
	b, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
	return bytes.Contains(b, []byte(r.root))
}

// processesOf returns the pids of processes whose executable path
// contains one of names.
func processesOf(names ...string) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		exe := exeOf(filepath.Base(d))
		for _, n := range names {
			if exe != "" && strings.Contains(exe, n) {
				out = append(out, filepath.Base(d))
			}
		}
	}
	return out
}

// vmmExe waits until pid has exec'd the VMM (the launcher, which runs
// first under the same pid, takes a few milliseconds) and returns its
// executable.
func vmmExe(pid int) string {
	exe := exeOf(strconv.Itoa(vmmPid(pid)))
	for i := 0; i < 50 && !strings.Contains(exe, "qemu-system"); i++ {
		time.Sleep(100 * time.Millisecond)
		exe = exeOf(strconv.Itoa(vmmPid(pid)))
	}
	return exe
}

// vmmArgv waits until the container whose init is pid runs its VMM (the
// supervisor forks it, then it execs) and returns the VMM's argv joined.
func vmmArgv(pid int) string {
	vmmExe(pid)
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", vmmPid(pid)))
	return strings.ReplaceAll(string(cmdline), "\x00", " ")
}

// vmmPid is the VMM of the container whose init is pid: the init itself,
// or, when the init is urunc's supervisor (Linux guests), its child.
func vmmPid(pid int) int {
	if !strings.HasSuffix(exeOf(strconv.Itoa(pid)), "/urunc") {
		return pid
	}
	// Each thread lists the children it forked: the supervisor's Go
	// runtime may have forked the VMM from any of its threads.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, task := range tasks {
		data, _ := os.ReadFile(task)
		if f := strings.Fields(string(data)); len(f) > 0 {
			if c, err := strconv.Atoi(f[0]); err == nil {
				return c
			}
		}
	}
	return pid
}

func exeOf(pid string) string {
	exe, _ := os.Readlink(filepath.Join("/proc", pid, "exe"))
	return exe
}

func tempFile(t *testing.T) *os.File {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readAll(f *os.File) string {
	b, _ := os.ReadFile(f.Name())
	return string(b)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}
