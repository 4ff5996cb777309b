package e2e

// Load tests: many containers at once, Linux guests and plain busybox
// containers mixed, through the CLI and through containerd, with every
// status checked and the host checked for leaks after each round.
//
// The counts come from the environment as <containers>x<rounds>:
//
//	URUNC_STRESS_CLI  create/start/kill/delete cycles through urunc (default 10x2)
//	URUNC_STRESS_CTR  `ctr run --rm` through containerd (default 6x2)
//
// `make test` runs the small defaults; `make stress` the full counts
// (50x5 and 20x3). "0" skips a test. URUNC_STRESS_KERNEL picks the guests'
// kernel (default: the project kernel URUNC_GUEST_KERNEL when built, which
// boots faster under TCG, else URUNC_KERNEL).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Time limits under load: 25 guests booting at once under TCG on two
// cores take minutes, not seconds, to print their first line.
const (
	stressReady   = 5 * time.Minute // start to the app's first line
	stressStop    = 2 * time.Minute // kill to stopped
	stressCommand = 3 * time.Minute // any one urunc or ctr invocation
	stressPoll    = 250 * time.Millisecond
)

// stressCounts reads <containers>x<rounds> from the environment variable.
func stressCounts(t *testing.T, name, def string) (n, rounds int) {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	if v == "0" {
		t.Skipf("%s=0", name)
	}
	a, b, ok := strings.Cut(v, "x")
	n, err1 := strconv.Atoi(a)
	rounds, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || rounds < 1 {
		t.Fatalf("%s=%q: want <containers>x<rounds>, e.g. 50x5", name, v)
	}
	return n, rounds
}

// stressKernel picks the guests' kernel and points e at it.
func stressKernel(t *testing.T, e *env) {
	k := os.Getenv("URUNC_STRESS_KERNEL")
	if k == "" {
		if g := os.Getenv("URUNC_GUEST_KERNEL"); g != "" {
			if _, err := os.Stat(g); err == nil {
				k = g
			}
		}
	}
	if k != "" {
		if _, err := os.Stat(k); err != nil {
			t.Fatalf("guest kernel %s: %v", k, err)
		}
		e.kernel = k
	}
	t.Logf("stress: guest kernel %s", e.kernel)
}

// stressRound gathers one round's failures and phase durations from its
// goroutines.
type stressRound struct {
	mu       sync.Mutex
	failures []string
	phases   map[string][]time.Duration
}

func newStressRound() *stressRound { return &stressRound{phases: map[string][]time.Duration{}} }

func (s *stressRound) fail(id, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, id+": "+fmt.Sprintf(format, args...))
}

func (s *stressRound) took(phase string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phases[phase] = append(s.phases[phase], d)
}

// summary is "phase median/max" for each phase, in the given order.
func (s *stressRound) summary(order ...string) string {
	var parts []string
	for _, p := range order {
		ds := s.phases[p]
		if len(ds) == 0 {
			continue
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		parts = append(parts, fmt.Sprintf("%s %v/%v", p, ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

// uruncTry runs urunc without touching the test (safe from goroutines):
// stdout, stderr and the exit status, or an error if it could not run.
func (r *runtime) uruncTry(args ...string) (string, string, int, error) {
	all := append([]string{"--root", r.root, "--config", r.e.config}, args...)
	return execTimeout(stressCommand, os.Environ(), filepath.Join(r.e.bin, "urunc"), all...)
}

// uruncOK is uruncTry that wants exit status 0.
func (r *runtime) uruncOK(args ...string) (string, error) {
	out, errs, code, err := r.uruncTry(args...)
	if err == nil && code != 0 {
		err = fmt.Errorf("urunc %s: exit %d: %s", strings.Join(args, " "), code, strings.TrimSpace(errs))
	}
	return out, err
}

func (r *runtime) stateTry(id string) (state, error) {
	var s state
	out, err := r.uruncOK("state", id)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return s, fmt.Errorf("state %s: %v: %q", id, err, out)
	}
	return s, nil
}

// waitStatusTry polls state until want, failing after d.
func (r *runtime) waitStatusTry(id, want string, d time.Duration) (state, error) {
	deadline := time.Now().Add(d)
	for {
		s, err := r.stateTry(id)
		if err != nil {
			return s, err
		}
		if s.Status == want {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("status %q after %v, want %q", s.Status, d, want)
		}
		time.Sleep(stressPoll)
	}
}

// waitLine polls a console file until it holds want.
func waitLine(path, want string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("console lacks %q after %v: %q", want, d, tailString(string(b), 400))
		}
		time.Sleep(stressPoll)
	}
}

// headTail keeps the start of s (where a Go crash says why) and its end.
func headTail(s string, head, tail int) string {
	if len(s) <= head+tail {
		return s
	}
	return s[:head] + fmt.Sprintf("\n[... %d bytes ...]\n", len(s)-head-tail) + s[len(s)-tail:]
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// stressSlot is one container position of the CLI test: its bundle (kept
// across rounds), its kind and, for some Linux guests, a network
// namespace of the test's with a veth, which outlives every container.
type stressSlot struct {
	linux bool
	dir   string
	tn    *testNet
}

// The plain container says it is ready, and what it got: a busybox shell
// as pid 1 ignores a SIGTERM it does not trap.
const stressPlainScript = `trap 'echo plain: got TERM; exit 143' TERM; echo plain ready; sleep 600 & wait`

// TestStressCLI runs N create/start/kill/delete cycles at once, R times:
// even slots Linux guests (every other one in a netns of the test's with a
// veth, so with a tap and a tc redirect; the rest in a new empty netns),
// odd slots plain busybox containers; SIGTERM and SIGKILL alternate. All
// containers of a round are running together before any is killed.
func TestStressCLI(t *testing.T) {
	n, rounds := stressCounts(t, "URUNC_STRESS_CLI", "10x2")
	e := setup(t, true)
	stressKernel(t, e)
	r := e.runtime(t)
	prefix := fmt.Sprintf("stress%d", os.Getpid())

	slots := make([]stressSlot, n)
	nets := 0
	for i := range slots {
		s := &slots[i]
		s.linux = i%2 == 0
		var b *bundle
		if s.linux {
			b = e.linuxBundle(t, "0", "600")
			if i%4 == 0 && nets < 100 {
				s.tn = newTestNet(t, 100+nets)
				nets++
				joinNetns(b, s.tn.ctr)
			}
		} else {
			b = busyboxBundle(t, "sh", "-c", stressPlainScript)
		}
		s.dir = b.write()
	}
	scratch := t.TempDir()
	netnsBefore := netnsNames()
	t.Logf("stress: %d containers (%d Linux guests, %d with a veth; %d plain) x %d rounds", n, (n+1)/2, nets, n/2, rounds)

	total, allFailures, allLeaks := time.Now(), 0, 0
	for round := 0; round < rounds; round++ {
		st := newStressRound()
		start := time.Now()
		var ready, done sync.WaitGroup
		ready.Add(n)
		done.Add(n)
		release := make(chan struct{})
		ids := make([]string, n)
		for i := range slots {
			ids[i] = fmt.Sprintf("%s-r%d-s%d", prefix, round, i)
			sig := "SIGTERM"
			if (i/2+round)%2 == 1 {
				sig = "SIGKILL"
			}
			console := filepath.Join(scratch, ids[i]+".console")
			go func(s stressSlot, id, sig, console string) {
				defer done.Done()
				readied := false
				defer func() {
					if !readied {
						ready.Done()
					}
				}()
				if err := r.stressCycle(st, s, id, sig, console, func() { readied = true; ready.Done(); <-release }); err != nil {
					st.fail(id, "%v", err)
					// Leave the next round a clean slate; a leak this hides is still reported.
					_, _ = r.uruncOK("delete", "--force", id)
				}
			}(slots[i], ids[i], sig, console)
		}
		ready.Wait()
		peak := time.Since(start)
		// Every container that got this far must be listed as running.
		running := 0
		if out, err := r.uruncOK("list", "--format", "json"); err != nil {
			st.fail("list", "%v", err)
		} else {
			var states []state
			if err := json.Unmarshal([]byte(out), &states); err != nil {
				st.fail("list", "%v: %q", err, out)
			}
			for _, s := range states {
				if s.Status == "running" {
					running++
				} else {
					st.fail(s.ID, "listed %q with all containers up, want running", s.Status)
				}
			}
		}
		mem := memAvailableMiB()
		r.stressBlindSpots(st, slots, prefix, running)
		close(release)
		done.Wait()
		wall := time.Since(start)
		leaks := r.stressLeaks(slots, netnsBefore, prefix, scratch)
		t.Logf("stress CLI round %d/%d: %d cycles, all up after %v (%d running at once, %d MiB available), wall %v, failures %d, leaks %d; median/max %s",
			round+1, rounds, n, peak.Round(time.Millisecond), running, mem, wall.Round(time.Millisecond), len(st.failures), len(leaks),
			st.summary("create", "start", "ready", "stop", "delete"))
		for _, f := range st.failures {
			t.Errorf("round %d: failure: %s", round+1, f)
		}
		for _, l := range leaks {
			t.Errorf("round %d: leak: %s", round+1, l)
		}
		allFailures += len(st.failures)
		allLeaks += len(leaks)
	}
	t.Logf("stress CLI total: %d cycles in %v, failures %d, leaks %d", n*rounds, time.Since(total).Round(time.Millisecond), allFailures, allLeaks)
}

// stressBlindSpots checks, with the round's containers up, that the leak
// checks see what the containers hold: a tap and a redirect in each veth
// namespace, cgroups named after the containers. A check that sees
// nothing while they run would see nothing left after them either.
func (r *runtime) stressBlindSpots(st *stressRound, slots []stressSlot, prefix string, running int) {
	if running < len(slots) {
		return // a failed cycle may have removed its own already
	}
	for _, s := range slots {
		if s.tn == nil {
			continue
		}
		if links := s.tn.in(s.tn.ctr, "ip", "-o", "link", "show"); !tapName.MatchString(links) {
			st.fail(s.tn.ctr, "no tap while its guest runs: the leak check would not see one left either")
		}
		if f := s.tn.in(s.tn.ctr, "tc", "filter", "show", "dev", "eth0", "ingress"); !strings.Contains(f, "mirred") {
			st.fail(s.tn.ctr, "no redirect while its guest runs: the leak check would not see one left either")
		}
	}
	if len(cgroupsNamed(prefix)) == 0 {
		st.fail("cgroups", "none named %s* while %d containers run: the leak check would not see one left either", prefix, running)
	}
}

// memAvailableMiB is the host's MemAvailable.
func memAvailableMiB() int {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, _ := strconv.Atoi(f[1])
			return kb / 1024
		}
	}
	return 0
}

// stressCycle is one container's create, start, wait until up, kill,
// wait until stopped and delete, each status checked; up is called when
// the container runs and has printed its line, and returns when it may be
// killed.
func (r *runtime) stressCycle(st *stressRound, s stressSlot, id, sig, console string, up func()) error {
	f, err := os.Create(console)
	if err != nil {
		return err
	}
	defer f.Close()
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), stressCommand)
	defer cancel()
	c := r.cmd(ctx, "create", "--bundle", s.dir, id)
	c.Stdout, c.Stderr = f, f // a file: the container keeps it
	if err := c.Run(); err != nil {
		b, _ := os.ReadFile(console)
		return fmt.Errorf("create: %v: %s", err, tailString(string(b), 400))
	}
	st.took("create", time.Since(t0))
	cs, err := r.stateTry(id)
	if err != nil {
		return err
	}
	if cs.Status != "created" || cs.Pid == 0 {
		return fmt.Errorf("after create: status %q pid %d, want created with a pid", cs.Status, cs.Pid)
	}
	t0 = time.Now()
	if _, err := r.uruncOK("start", id); err != nil {
		return err
	}
	st.took("start", time.Since(t0))
	line := "plain ready"
	if s.linux {
		line = "hello from guest"
	}
	if err := waitLine(console, line, stressReady); err != nil {
		return err
	}
	st.took("ready", time.Since(t0))
	rs, err := r.stateTry(id)
	if err != nil {
		return err
	}
	if rs.Status != "running" || rs.Pid != cs.Pid {
		return fmt.Errorf("up: status %q pid %d, want running with pid %d", rs.Status, rs.Pid, cs.Pid)
	}
	if exe := exeOf(strconv.Itoa(vmmPid(rs.Pid))); s.linux != strings.Contains(exe, "qemu-system") {
		return fmt.Errorf("pid %d runs %q (Linux guest: %v)", rs.Pid, exe, s.linux)
	}
	up()
	t0 = time.Now()
	if _, err := r.uruncOK("kill", id, sig); err != nil {
		return err
	}
	if _, err := r.waitStatusTry(id, "stopped", stressStop); err != nil {
		return fmt.Errorf("after %s: %v", sig, err)
	}
	st.took("stop", time.Since(t0))
	if sig == "SIGTERM" {
		want := "plain: got TERM"
		if s.linux {
			want = "hello: got SIGTERM"
		}
		if err := waitLine(console, want, 5*time.Second); err != nil {
			return fmt.Errorf("after SIGTERM: %v", err)
		}
	}
	t0 = time.Now()
	if _, err := r.uruncOK("delete", id); err != nil {
		return err
	}
	st.took("delete", time.Since(t0))
	if _, errs, code, err := r.uruncTry("state", id); err != nil || code == 0 {
		return fmt.Errorf("state after delete: exit %d, %v %s; want an error", code, err, errs)
	}
	return os.Remove(console)
}

// stressLeaks lists what the round left behind: containers, state and VM
// folders, mounts, loop devices, processes, taps, qdiscs and filters,
// network namespaces and cgroups.
func (r *runtime) stressLeaks(slots []stressSlot, netnsBefore map[string]bool, prefix, scratch string) []string {
	var leaks []string
	if out, err := r.uruncOK("list", "-q"); err != nil || strings.TrimSpace(out) != "" {
		leaks = append(leaks, fmt.Sprintf("urunc list: %q %v", out, err))
	}
	entries, _ := os.ReadDir(r.root)
	for _, en := range entries {
		sub, _ := os.ReadDir(filepath.Join(r.root, en.Name()))
		var names []string
		for _, s := range sub {
			names = append(names, s.Name())
		}
		leaks = append(leaks, fmt.Sprintf("state dir %s: %v", en.Name(), names))
	}
	dirs := []string{r.root, scratch}
	for _, s := range slots {
		dirs = append(dirs, s.dir)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	loops, _ := exec.Command("losetup", "-a").CombinedOutput()
	for _, d := range dirs {
		for _, l := range strings.Split(string(mi), "\n") {
			if strings.Contains(l, d) {
				leaks = append(leaks, "mount "+l)
			}
		}
		for _, l := range strings.Split(string(loops), "\n") {
			if strings.Contains(l, d) {
				leaks = append(leaks, "loop device "+l)
			}
		}
	}
	// Stop watchers leave within a poll of their container stopping.
	mine := func() []string {
		var out []string
		for _, p := range processesOf("qemu-system", filepath.Join(r.e.bin, "urunc")) {
			if !r.before[p] && r.owns(p) {
				out = append(out, p+" "+exeOf(p))
			}
		}
		return out
	}
	left := mine()
	for i := 0; i < 50 && len(left) > 0; i++ {
		time.Sleep(100 * time.Millisecond)
		left = mine()
	}
	for _, p := range left {
		leaks = append(leaks, "process "+p)
	}
	if links, _ := exec.Command("ip", "-o", "link", "show").CombinedOutput(); tapName.Match(links) {
		leaks = append(leaks, "tap in the host's namespace: "+strings.Join(tapName.FindAllString(string(links), -1), " "))
	}
	for _, s := range slots {
		if s.tn == nil {
			continue
		}
		tn := s.tn
		if links := tn.in(tn.ctr, "ip", "-o", "link", "show"); tapName.MatchString(links) {
			leaks = append(leaks, tn.ctr+": tap "+strings.Join(tapName.FindAllString(links, -1), " "))
		}
		if q := tn.in(tn.ctr, "tc", "qdisc", "show", "dev", "eth0", "ingress"); strings.Contains(q, "ingress") {
			leaks = append(leaks, tn.ctr+": ingress qdisc "+strings.TrimSpace(q))
		}
		if f := tn.in(tn.ctr, "tc", "filter", "show", "dev", "eth0", "ingress"); strings.TrimSpace(f) != "" {
			leaks = append(leaks, tn.ctr+": tc filter "+strings.TrimSpace(f))
		}
	}
	for name := range netnsNames() {
		if !netnsBefore[name] {
			leaks = append(leaks, "network namespace "+name)
		}
	}
	for _, cg := range cgroupsNamed(prefix) {
		leaks = append(leaks, "cgroup "+cg)
	}
	return leaks
}

// netnsNames are the named network namespaces (ip netns).
func netnsNames() map[string]bool {
	m := map[string]bool{}
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		m[e.Name()] = true
	}
	return m
}

// cgroupsNamed lists the cgroup folders, three levels deep at most under
// each hierarchy, whose name contains s.
func cgroupsNamed(s string) []string {
	var out []string
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if strings.Contains(e.Name(), s) {
				out = append(out, p)
			}
			if depth < 3 {
				walk(p, depth+1)
			}
		}
	}
	walk("/sys/fs/cgroup", 0)
	return out
}

// TestStressCtr runs N `ctr run --rm` at once through containerd and the
// urunc shim, R times: even ones a Linux guest of the hello app (exit 3),
// odd ones plain busybox (exit 5), each exit status and output checked,
// and containerd, the shims and the host checked for leftovers after each
// round.
func TestStressCtr(t *testing.T) {
	n, rounds := stressCounts(t, "URUNC_STRESS_CTR", "6x2")
	e, d := uruncCtrd(t)
	stressKernel(t, e)
	busybox := ctrdImportBusybox(t, d)
	hello := packHello(t, e, d, "urunc.local/hello:stress", "3")
	snapshotsBefore := d.ctrOK("snapshots", "ls")
	mountsBefore := mountsUnder(d.dir)
	t.Logf("stress: %d ctr run --rm at once (%d Linux guests, %d plain) x %d rounds", n, (n+1)/2, n/2, rounds)

	total, allFailures, allLeaks := time.Now(), 0, 0
	for round := 0; round < rounds; round++ {
		st := newStressRound()
		start := time.Now()
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				id := fmt.Sprintf("st-r%d-c%d", round, i)
				args := []string{"--address", d.sock, "--namespace", d.ns, "run", "--rm", "--runtime", ctrdUruncRuntime}
				wantCode, wantOut := 3, "hello from guest"
				if i%2 == 0 {
					args = append(args, hello, id)
				} else {
					args = append(args, busybox, id, "sh", "-c", "echo plain says hi; exit 5")
					wantCode, wantOut = 5, "plain says hi"
				}
				t0 := time.Now()
				out, errs, code, err := execTimeout(stressCommand, append(os.Environ(), "PATH="+d.path()), filepath.Join(d.tools, "ctr"), args...)
				st.took("run", time.Since(t0))
				if err != nil || code != wantCode || !strings.Contains(out, wantOut) {
					st.fail(id, "ctr run --rm: exit %d (%v); want exit %d and %q\nstdout:\n%s\nstderr:\n%s",
						code, err, wantCode, wantOut, headTail(out, 4000, 1500), headTail(errs, 2000, 1000))
				}
			}(i)
		}
		wg.Wait()
		wall := time.Since(start)
		leaks := d.stressLeaks(snapshotsBefore, mountsBefore)
		t.Logf("stress ctr round %d/%d: %d runs, wall %v, failures %d, leaks %d; median/max %s",
			round+1, rounds, n, wall.Round(time.Millisecond), len(st.failures), len(leaks), st.summary("run"))
		for _, f := range st.failures {
			t.Errorf("round %d: failure: %s", round+1, f)
		}
		for _, l := range leaks {
			t.Errorf("round %d: leak: %s", round+1, l)
		}
		if len(st.failures)+len(leaks) > 0 {
			d.logTail(40)
		}
		allFailures += len(st.failures)
		allLeaks += len(leaks)
	}
	t.Logf("stress ctr total: %d runs in %v, failures %d, leaks %d", n*rounds, time.Since(total).Round(time.Millisecond), allFailures, allLeaks)
}

// stressLeaks lists what a round of `ctr run --rm` left: tasks,
// containers, snapshots, VMMs, shims, runtime state, mounts, loop devices
// and cgroups of this daemon's namespace.
func (d *ctrdDaemon) stressLeaks(snapshotsBefore string, mountsBefore int) []string {
	var leaks []string
	ctr := func(args ...string) string {
		out, errs, code, err := d.exec("ctr", append([]string{"--address", d.sock, "--namespace", d.ns}, args...)...)
		if err != nil || code != 0 {
			leaks = append(leaks, fmt.Sprintf("ctr %v: exit %d %v: %s", args, code, err, errs))
		}
		return out
	}
	if out := strings.TrimSpace(ctr("tasks", "ls", "-q")); out != "" {
		leaks = append(leaks, "tasks: "+strings.Join(strings.Fields(out), " "))
	}
	if out := strings.TrimSpace(ctr("containers", "ls", "-q")); out != "" {
		leaks = append(leaks, "containers: "+strings.Join(strings.Fields(out), " "))
	}
	if out := ctr("snapshots", "ls"); out != snapshotsBefore {
		leaks = append(leaks, fmt.Sprintf("snapshots: %q, before the round %q", out, snapshotsBefore))
	}
	deadline := time.Now().Add(5 * time.Second)
	for (len(d.vmms()) > 0 || d.shimCount() > 0) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range d.vmms() {
		leaks = append(leaks, "VMM process "+p)
	}
	if c := d.shimCount(); c > 0 {
		leaks = append(leaks, fmt.Sprintf("%d urunc shims", c))
	}
	entries, _ := os.ReadDir(filepath.Join("/run/containerd/runc", d.ns))
	for _, en := range entries {
		leaks = append(leaks, "runtime state "+en.Name())
	}
	if m := mountsUnder(d.dir); m != mountsBefore {
		leaks = append(leaks, fmt.Sprintf("%d mounts under %s, %d before the round", m, d.dir, mountsBefore))
	}
	if loops, _ := exec.Command("losetup", "-a").CombinedOutput(); bytes.Contains(loops, []byte(d.dir)) {
		leaks = append(leaks, "loop device: "+string(loops))
	}
	for _, cg := range cgroupsNamed("st-r") {
		leaks = append(leaks, "cgroup "+cg)
	}
	return leaks
}

// mountsUnder counts the mounts whose mount point or source names dir.
func mountsUnder(dir string) int {
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	n := 0
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, dir) {
			n++
		}
	}
	return n
}
