// Package harness runs the private daemons of the end-to-end tests and the
// bench: a containerd (Containerd) and a dockerd (Dockerd), each with
// everything under one folder, beside any system one. Start and Stop are
// idempotent; Stop also removes what a daemon leaves outside its folder
// (container processes, cgroups, runtime state, CNI bridges and iptables
// rules) and reports what outlived the daemon.
//
// It replaces scripts/containerd.sh and scripts/dockerd.sh: the
// supervision (process and cgroup killing, iptables rule parsing, subnet
// picking, unmounting) is plain Go here, without eval or text pipelines.
// Installing the daemons' binaries stays in scripts/install-tools.sh.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Logf receives the harness's messages (warnings, processes killed).
type Logf func(format string, args ...any)

func (l Logf) printf(format string, args ...any) {
	if l != nil {
		l(format, args...)
	}
}

// Report is what Stop found and removed.
type Report struct {
	// Shims are containerd-shim processes of the daemon's socket still
	// alive after containerd stopped, killed.
	Shims []int
	// Leftovers are other processes of the daemon still alive after it
	// stopped (dockerd's containerd and its shims: command lines naming
	// the daemon's exec folder), killed.
	Leftovers []string
	// ContainerProcs are processes left in the daemon's containers'
	// cgroups, killed.
	ContainerProcs []int
	// Warnings are what could not be removed.
	Warnings []string
}

func (r *Report) warn(l Logf, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.Warnings = append(r.Warnings, msg)
	l.printf("warning: %s", msg)
}

// String lists everything the report holds, one item a line.
func (r *Report) String() string {
	var b strings.Builder
	for _, p := range r.Shims {
		fmt.Fprintf(&b, "leftover shim %d\n", p)
	}
	for _, p := range r.Leftovers {
		fmt.Fprintf(&b, "leftover process %s\n", p)
	}
	for _, p := range r.ContainerProcs {
		fmt.Fprintf(&b, "leftover container process %d\n", p)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

// absDir is dir made absolute with its existing symbolic links resolved
// (realpath -m).
func absDir(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("no folder given")
	}
	a, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	rest := ""
	for p := a; ; p = filepath.Dir(p) {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest), nil
		}
		if p == "/" {
			return a, nil
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}

// emptyOrMissing tells whether dir has no entries (or does not exist).
func emptyOrMissing(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}

// pids lists the processes in /proc.
func pids() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if p, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// argv is pid's command line (nil when it is gone or a kernel thread).
func argv(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// zombie tells whether pid has exited and waits to be reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// running tells whether pid exists and is not a zombie.
func running(pid int) bool {
	return pid > 0 && unix.Kill(pid, 0) == nil && !zombie(pid)
}

// readPid reads a pid file (0 when missing or empty).
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}

// ownedBy tells whether pid runs with arg as one of its arguments: the
// pid file still names our daemon, not a reused pid.
func ownedBy(pid int, arg string) bool {
	if pid <= 0 {
		return false
	}
	for _, a := range argv(pid) {
		if a == arg {
			return true
		}
	}
	return false
}

// stopPid sends SIGTERM, waits up to timeout, then sends SIGKILL and
// waits a little more.
func stopPid(pid int, timeout time.Duration, l Logf) {
	if pid <= 0 || unix.Kill(pid, unix.SIGTERM) != nil {
		return
	}
	if waitGone(pid, timeout) {
		return
	}
	l.printf("pid %d did not stop within %v: SIGKILL", pid, timeout)
	_ = unix.Kill(pid, unix.SIGKILL)
	waitGone(pid, 2*time.Second)
}

func waitGone(pid int, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); running(pid); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// command runs name with a time limit and returns its standard output.
// Standard error (ctr's deprecation warnings, say) is not part of it: it
// only goes into the error when the command fails.
func command(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	c.Env = env
	c.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("%s %v: timed out after %v", filepath.Base(name), args, timeout)
	case err != nil:
		err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), err
}

// withPath is the caller's environment plus extra, with prefix put first
// in PATH.
func withPath(extra []string, prefix string) []string {
	env := append(os.Environ(), extra...)
	path := os.Getenv("PATH")
	for _, kv := range extra {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	if prefix != "" {
		path = prefix + ":" + path
	}
	return append(env, "PATH="+path)
}

// daemon is a started daemon process; exited closes when it has exited
// (and has been reaped).
type daemon struct {
	pid    int
	exited chan struct{}
}

// startDaemon starts bin in a session of its own (signals meant for the
// caller's process group do not reach it), stdin /dev/null, stdout and
// stderr appended to logPath.
func startDaemon(bin string, args, env []string, logPath string) (*daemon, error) {
	lf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer lf.Close() // the daemon has its own descriptor
	c := exec.Command(bin, args...)
	c.Env = env
	c.Stdout, c.Stderr = lf, lf
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		return nil, err
	}
	d := &daemon{pid: c.Process.Pid, exited: make(chan struct{})}
	go func() {
		_ = c.Wait()
		close(d.exited)
	}()
	return d, nil
}

// waitReady polls ready until it is true; it fails with the log's tail if
// the daemon exits or timeout passes.
func waitReady(d *daemon, logPath, sock string, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for !ready() {
		select {
		case <-d.exited:
			return fmt.Errorf("the daemon exited during start-up (log: %s)\n%s", logPath, tail(logPath, 20))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the daemon did not answer on %s within %v (log: %s)\n%s", sock, timeout, logPath, tail(logPath, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// unmountUnder unmounts everything mounted below dir, deepest first,
// lazily when a plain unmount fails.
func unmountUnder(dir string, r *Report, l Logf) {
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return !strings.HasPrefix(m.Mountpoint, dir+"/"), false
	})
	if err != nil {
		r.warn(l, "cannot read the mount table: %v", err)
		return
	}
	sort.SliceStable(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, m := range mounts {
		if unix.Unmount(m.Mountpoint, 0) != nil && unix.Unmount(m.Mountpoint, unix.MNT_DETACH) != nil {
			r.warn(l, "cannot unmount %s", m.Mountpoint)
		}
	}
}

// removeOneFS removes dir like rm -rf --one-file-system: a folder on
// another file system than dir's (a mount left in place) is not entered,
// and is an error.
func removeOneFS(dir string) error {
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	var errs []error
	var walk func(p string)
	walk = func(p string) {
		var s unix.Stat_t
		if err := unix.Lstat(p, &s); err != nil {
			if !errors.Is(err, unix.ENOENT) {
				errs = append(errs, err)
			}
			return
		}
		if s.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			return
		}
		if s.Dev != st.Dev {
			errs = append(errs, fmt.Errorf("skipping %s: on another file system", p))
			return
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, e := range ents {
			walk(filepath.Join(p, e.Name()))
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	walk(dir)
	return errors.Join(errs...)
}

// inCgroup tells whether a /proc/PID/cgroup text puts the process in
// cgroup path or below it, in any hierarchy.
func inCgroup(procCgroup, path string) bool {
	for _, line := range strings.Split(procCgroup, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && (f[2] == path || strings.HasPrefix(f[2], path+"/")) {
			return true
		}
	}
	return false
}

// cgroupPids lists the live (not zombie) processes in cgroup path or below.
func cgroupPids(path string) []int {
	var out []int
	for _, p := range pids() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cgroup")
		if err == nil && inCgroup(string(b), path) && !zombie(p) {
			out = append(out, p)
		}
	}
	return out
}

// killCgroup kills the processes of cgroup path (and below, any
// hierarchy) and waits up to 5 s for them to go. Zombies, whose parent
// is gone already, are only waiting to be reaped and are not counted.
func killCgroup(path string, r *Report, l Logf) {
	killed := map[int]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ps := cgroupPids(path)
		if len(ps) == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.warn(l, "processes of cgroup %s survive SIGKILL: %v", path, ps)
			return
		}
		for _, p := range ps {
			if !killed[p] {
				killed[p] = true
				r.ContainerProcs = append(r.ContainerProcs, p)
				l.printf("killing leftover container process %d (cgroup %s)", p, path)
			}
			_ = unix.Kill(p, unix.SIGKILL)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// removeCgroupTree removes cg and the cgroups below it, children first.
func removeCgroupTree(cg string) error {
	var dirs []string
	err := filepath.WalkDir(cg, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if e := unix.Rmdir(dirs[i]); e != nil && !errors.Is(e, unix.ENOENT) {
			err = errors.Join(err, fmt.Errorf("rmdir %s: %w", dirs[i], e))
		}
	}
	return err
}

// cgroupDirs are the folders of cgroup path in every mounted hierarchy
// (cgroup v1 /sys/fs/cgroup/*/PATH, v2 /sys/fs/cgroup/PATH) that exist.
func cgroupDirs(path string) []string {
	cands, _ := filepath.Glob("/sys/fs/cgroup/*" + path)
	cands = append(cands, "/sys/fs/cgroup"+path)
	var out []string
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			out = append(out, c)
		}
	}
	return out
}

// dirHash is a short number naming dir, for the names a daemon of dir
// gives things outside it (bridge, cgroup parent).
func dirHash(dir string) uint32 {
	return cksum([]byte(dir))
}

// cksum is POSIX cksum's CRC, as the shell scripts computed it.
func cksum(b []byte) uint32 {
	var crc uint32
	step := func(c byte) {
		crc ^= uint32(c) << 24
		for i := 0; i < 8; i++ {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04C11DB7
			} else {
				crc <<= 1
			}
		}
	}
	for _, c := range b {
		step(c)
	}
	for n := len(b); n > 0; n >>= 8 {
		step(byte(n))
	}
	return ^crc
}

// removable tells Stop whether dir is already gone (nothing to do), or
// refuses a folder that is / or not one the harness made for kind.
func removable(dir, kind string, ours func() bool) (gone bool, err error) {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if dir == "/" {
		return false, errors.New("refusing to remove /")
	}
	if !ours() {
		return false, fmt.Errorf("%s is not a harness %s folder: refusing to remove it", dir, kind)
	}
	return false, nil
}

// shared makes a daemon's folders absolute and fills in the defaults both
// daemons have: log level debug and the given timeouts.
func shared(dir, bin, logLevel *string, start, stop *time.Duration, startDefault, stopDefault time.Duration) error {
	var err error
	if *dir, err = absDir(*dir); err != nil {
		return err
	}
	if *bin != "" {
		if *bin, err = absDir(*bin); err != nil {
			return err
		}
	}
	if *logLevel == "" {
		*logLevel = "debug"
	}
	if *start == 0 {
		*start = startDefault
	}
	if *stop == 0 {
		*stop = stopDefault
	}
	return nil
}

// pidAlive tells whether pidFile names a running process whose command
// line names config: the daemon of that folder, not a reused pid.
func pidAlive(pidFile, config string) bool {
	p := readPid(pidFile)
	return running(p) && ownedBy(p, config)
}

// reusable tells Start that the daemon of kind already serves dir (up),
// or refuses a folder the harness did not make.
func reusable(kind, dir, pidFile, sock string, serving bool, ours func() bool, l Logf) (up bool, err error) {
	if serving {
		l.printf("%s already running (pid %d) on %s", kind, readPid(pidFile), sock)
		return true, nil
	}
	if !ours() {
		return false, fmt.Errorf("%s exists and is not a harness %s folder: refusing to use it", dir, kind)
	}
	return false, nil
}
