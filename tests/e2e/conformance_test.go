package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The OCI runtime-tools validation suite (tools/runtime-tools, built by
// scripts/install-tools.sh into $URUNC_TOOLS/runtime-tools) run against runc
// and against urunc on plain containers: urunc must pass every TAP test that
// runc passes. docs/conformance.md has what runs and the figures.

// conformanceExecEnv, when set, turns this test binary into the RUNTIME the
// validation programs call: a JSON argv (the runtime and its global flags,
// --root ...) that the verb and its arguments are appended to. runtime-tools
// runs RUNTIME with no way to pass flags, hence the indirection.
const conformanceExecEnv = "URUNC_CONFORMANCE_EXEC"

func init() {
	if v := os.Getenv(conformanceExecEnv); v != "" {
		conformanceWrap(v)
	}
}

// conformanceSyscalls are allowed in the seccomp profile of a bundle that
// create or run is given, when the profile lists none of them: runtime-tools
// v0.9.0's generator writes a 2018 default profile (SCMP_ACT_ERRNO for the
// rest) that predates statx, which runc 1.5's libcontainer init (urunc's too)
// calls after loading the profile (statx(STATX_MNT_ID) on its procfs handle),
// so every container with the default profile fails to start with
// "could not get mount id: function not implemented" under both runtimes.
var conformanceSyscalls = []string{"statx"}

// conformanceWrap runs the runtime argv in spec with the command line's verb
// and arguments, after conformancePatch on a create or run's bundle. It
// never returns.
func conformanceWrap(spec string) {
	var argv []string
	if err := json.Unmarshal([]byte(spec), &argv); err != nil || len(argv) == 0 {
		fmt.Fprintf(os.Stderr, "%s=%q: want a JSON argv: %v\n", conformanceExecEnv, spec, err)
		os.Exit(2)
	}
	args := os.Args[1:]
	if len(args) > 0 && (args[0] == "create" || args[0] == "run") {
		bundle := "."
		for i, a := range args {
			if (a == "--bundle" || a == "-b") && i+1 < len(args) {
				bundle = args[i+1]
			} else if v, ok := strings.CutPrefix(a, "--bundle="); ok {
				bundle = v
			}
		}
		if err := conformancePatch(filepath.Join(bundle, "config.json")); err != nil {
			fmt.Fprintf(os.Stderr, "conformance wrapper: %v\n", err)
			os.Exit(2)
		}
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, conformanceExecEnv+"=") })
	err := syscall.Exec(argv[0], append(argv, args...), env)
	fmt.Fprintf(os.Stderr, "conformance wrapper: exec %s: %v\n", argv[0], err)
	os.Exit(2)
}

// conformancePatch adds an allow rule for conformanceSyscalls to the
// seccomp profile of config, when it has one that does not allow by
// default and names none of them. Everything else is kept as written.
func conformancePatch(config string) error {
	data, err := os.ReadFile(config)
	if err != nil {
		return err
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("%s: %v", config, err)
	}
	linux, _ := spec["linux"].(map[string]any)
	sc, _ := linux["seccomp"].(map[string]any)
	if sc == nil || sc["defaultAction"] == "SCMP_ACT_ALLOW" {
		return nil
	}
	rules, _ := sc["syscalls"].([]any)
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		names, _ := rule["names"].([]any)
		for _, n := range names {
			if s, _ := n.(string); slices.Contains(conformanceSyscalls, s) {
				return nil
			}
		}
	}
	sc["syscalls"] = append(rules, map[string]any{"names": conformanceSyscalls, "action": "SCMP_ACT_ALLOW"})
	out, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(config, out, 0o644)
}

// tapStatus is one TAP test's outcome.
type tapStatus string

const (
	tapPass tapStatus = "pass"
	tapFail tapStatus = "fail"
	tapSkip tapStatus = "skip"
	tapTodo tapStatus = "todo" // not ok # TODO: a known gap, not a failure
)

// tapResult is one TAP test of one validation program.
type tapResult struct {
	desc   string
	status tapStatus
}

var tapLine = regexp.MustCompile(`^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*)$`)

// parseTAP reads the test lines of a TAP stream (YAML blocks, plans and
// diagnostics are skipped), numbered as printed or in order.
func parseTAP(out []byte) []tapResult {
	var res []tapResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		m := tapLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		r := tapResult{desc: m[3], status: tapPass}
		if m[1] == "not ok" {
			r.status = tapFail
		}
		if d, dir, ok := strings.Cut(r.desc, "# "); ok {
			switch {
			case strings.HasPrefix(strings.ToUpper(dir), "SKIP"):
				r.status = tapSkip
			case strings.HasPrefix(strings.ToUpper(dir), "TODO") && r.status == tapFail:
				r.status = tapTodo
			}
			if d = strings.TrimSpace(d); d != "" {
				r.desc = d
			} else {
				r.desc = strings.TrimSpace(dir)
			}
		}
		res = append(res, r)
	}
	return res
}

// conformanceRuntime is one runtime under test.
type conformanceRuntime struct {
	name string
	argv []string // the runtime and its global flags
	tmp  string   // TMPDIR of the validation programs: their bundles
}

// conformanceRun is one validation program's outcome under one runtime,
// its exit as the pseudo-test "exit".
type conformanceRun struct {
	results  map[string]tapResult // by "program/number"
	stdout   []byte
	stderr   []byte
	exitErr  error
	duration time.Duration
}

// run runs the validation program prog in work with rt as RUNTIME, then
// deletes whatever containers it left.
func (rt *conformanceRuntime) run(t *testing.T, work, prog string) conformanceRun {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argv, _ := json.Marshal(rt.argv)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, prog)
	c.Dir = work
	c.Env = append(os.Environ(), "RUNTIME="+self, conformanceExecEnv+"="+string(argv), "TMPDIR="+rt.tmp)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	c.WaitDelay = 5 * time.Second
	start := time.Now()
	err = c.Run()
	run := conformanceRun{results: map[string]tapResult{}, stdout: out.Bytes(), stderr: errb.Bytes(),
		exitErr: err, duration: time.Since(start)}
	name := filepath.Base(prog)
	for i, r := range parseTAP(out.Bytes()) {
		run.results[fmt.Sprintf("%s/%d", name, i+1)] = r
	}
	exit := tapResult{desc: "exits 0 (no error outside TAP)", status: tapPass}
	if err != nil {
		exit.status = tapFail
		if ctx.Err() != nil {
			exit.desc += ": timed out"
		}
	}
	run.results[name+"/exit"] = exit
	rt.cleanup(t)
	return run
}

// cleanup force-deletes the containers a validation program left behind,
// and detaches the mounts left under its bundles: with rootfsPropagation
// shared (linux_rootfs_propagation), the container's /proc, /dev, ...
// propagate back to the host, under runc as under urunc.
func (rt *conformanceRuntime) cleanup(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(rt.argv[0], append(slices.Clone(rt.argv[1:]), "list", "-q")...).Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			args := append(slices.Clone(rt.argv[1:]), "delete", "--force", id)
			if b, err := exec.Command(rt.argv[0], args...).CombinedOutput(); err != nil {
				t.Logf("%s: delete --force %s: %v: %s", rt.name, id, err, b)
			}
		}
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var mounts []string
	for _, line := range strings.Split(string(info), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], rt.tmp+"/") {
			mounts = append(mounts, f[4])
		}
	}
	slices.Sort(mounts) // deepest last, detached first
	for _, m := range slices.Backward(mounts) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && err != syscall.EINVAL {
			t.Logf("%s: umount %s: %v", rt.name, m, err)
		}
	}
}

// conformanceRootfs writes rootfs-<arch>.tar.gz as runtime-tools' own
// (a busybox with every applet in /bin, /etc/passwd and /etc/group, empty
// /dev, /proc and /sys) from the host's static busybox.
func conformanceRootfs(t *testing.T, busybox, path string) {
	t.Helper()
	bb, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		t.Fatalf("%s --list: %v", busybox, err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	mtime := time.Unix(0, 0)
	add := func(h *tar.Header, body []byte) {
		h.ModTime, h.Format = mtime, tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"./", "bin/", "dev/", "etc/", "proc/", "sys/", "tmp/"} {
		add(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}, nil)
	}
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb))}, bb)
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" {
			add(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + applet, Linkname: "busybox", Mode: 0o777}, nil)
		}
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\nbin:x:1:1:bin:/bin:/bin/false\ndaemon:x:2:2:daemon:/sbin:/bin/false\nnobody:x:65534:65534:nobody:/var/empty:/bin/false\n"
	group := "root:x:0:root\nbin:x:1:root,bin,daemon\ndaemon:x:2:root,bin,daemon\nsys:x:3:root,bin\nadm:x:4:root,daemon\ntty:x:5:\ndisk:x:6:root\nwheel:x:10:root\nusers:x:100:\nnogroup:x:65533:\nnobody:x:65534:\n"
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644, Size: int64(len(passwd))}, []byte(passwd))
	add(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/group", Mode: 0o644, Size: int64(len(group))}, []byte(group))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConformance runs every runtime-tools validation program against runc
// and then urunc (one at a time: some use fixed cgroup paths) and fails on
// any TAP test that passes under runc and not under urunc.
func TestConformance(t *testing.T) {
	e := setup(t, false)
	tools := os.Getenv("URUNC_TOOLS")
	if tools == "" {
		t.Skip("URUNC_TOOLS not set: run through `make conformance` or `make test` (scripts/install-tools.sh builds the suite)")
	}
	suite := filepath.Join(tools, "runtime-tools")
	runc := filepath.Join(tools, "runc")
	for _, f := range []string{runc, filepath.Join(suite, "runtimetest")} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%s missing: run scripts/install-tools.sh %s (or set URUNC_TOOLS)", f, tools)
		}
	}
	busybox := "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("busybox not installed: run `make deps` (busybox-static)")
	}
	entries, err := os.ReadDir(suite)
	if err != nil {
		t.Fatal(err)
	}
	// URUNC_CONFORMANCE_PROGRAMS, a regexp, narrows the programs run.
	only, err := regexp.Compile(os.Getenv("URUNC_CONFORMANCE_PROGRAMS"))
	if err != nil {
		t.Fatalf("URUNC_CONFORMANCE_PROGRAMS: %v", err)
	}
	var progs []string
	for _, en := range entries {
		if en.Type().IsRegular() && en.Name() != "runtimetest" && !strings.HasPrefix(en.Name(), ".") && only.MatchString(en.Name()) {
			progs = append(progs, filepath.Join(suite, en.Name()))
		}
	}
	if len(progs) == 0 {
		t.Skipf("no validation programs in %s (matching URUNC_CONFORMANCE_PROGRAMS): run scripts/install-tools.sh", suite)
	}

	// The validation programs read runtimetest and rootfs-<arch>.tar.gz
	// from their working folder.
	work := t.TempDir()
	copyFile(t, filepath.Join(suite, "runtimetest"), filepath.Join(work, "runtimetest"), 0o755)
	conformanceRootfs(t, busybox, filepath.Join(work, "rootfs-amd64.tar.gz"))

	r := e.runtime(t) // urunc's root, checked for leaks at the end
	runtimes := []*conformanceRuntime{
		{name: "runc", argv: []string{runc, "--root", filepath.Join(t.TempDir(), "runc")}, tmp: t.TempDir()},
		{name: "urunc", argv: []string{filepath.Join(e.bin, "urunc"), "--root", r.root, "--config", e.config}, tmp: t.TempDir()},
	}
	runs := map[string]map[string]conformanceRun{} // runtime, program
	for _, rt := range runtimes {
		runs[rt.name] = map[string]conformanceRun{}
	}
	start := time.Now()
	for _, prog := range progs {
		for _, rt := range runtimes {
			run := rt.run(t, work, prog)
			runs[rt.name][filepath.Base(prog)] = run
			if os.Getenv("URUNC_CONFORMANCE_VERBOSE") != "" {
				t.Logf("== %s %s (%v, %v)\n%s\n%s", rt.name, filepath.Base(prog), run.duration.Round(time.Millisecond), run.exitErr, run.stdout, run.stderr)
			}
		}
	}

	// Totals, and the tests runc passes that urunc does not.
	type key struct{ prog, test string }
	results := map[string]map[key]tapResult{}
	for _, rt := range runtimes {
		results[rt.name] = map[key]tapResult{}
		counts := map[tapStatus]int{}
		for prog, run := range runs[rt.name] {
			for test, res := range run.results {
				results[rt.name][key{prog, test}] = res
				counts[res.status]++
			}
		}
		t.Logf("%s: %d TAP tests in %d programs: %d passed, %d failed, %d skipped, %d todo",
			rt.name, len(results[rt.name]), len(progs), counts[tapPass], counts[tapFail], counts[tapSkip], counts[tapTodo])
	}
	var keys []key
	for k := range results["runc"] {
		keys = append(keys, k)
	}
	for k := range results["urunc"] {
		if _, ok := results["runc"][k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(a.test, b.test) })
	var both []string
	for _, k := range keys {
		rc, rcOK := results["runc"][k]
		ur, urOK := results["urunc"][k]
		switch {
		case rcOK && rc.status == tapPass && (!urOK || ur.status != tapPass):
			got := "missing"
			if urOK {
				got = string(ur.status)
			}
			run := runs["urunc"][k.prog]
			t.Errorf("%s (%s): passes under runc, %s under urunc\n--- urunc TAP:\n%s\n--- urunc stderr:\n%s",
				k.test, rc.desc, got, run.stdout, run.stderr)
		case rcOK && rc.status == tapFail && urOK && ur.status == tapFail:
			both = append(both, fmt.Sprintf("%s (%s)", k.test, rc.desc))
		case rcOK && rc.status != tapPass && urOK && ur.status == tapPass:
			t.Logf("%s (%s): %s under runc, passes under urunc", k.test, rc.desc, rc.status)
		}
	}
	t.Logf("failing under both runtimes (%d):\n  %s", len(both), strings.Join(both, "\n  "))
	t.Logf("suite run in %v", time.Since(start).Round(time.Second))
}

// parseTAP reads tap-go's output as the validation programs print it.
func TestParseTAP(t *testing.T) {
	out := "TAP version 13\nok 1 - has expected hostname\n  ---\n  {\n    \"actual\": \"not ok 9\"\n  }\n  ...\n" +
		"not ok 2 - create MUST create a new container\nok 3 # SKIP no cgroup v1\nnot ok 4 # TODO later\n# a diagnostic\n1..4\n"
	want := []tapResult{
		{"has expected hostname", tapPass},
		{"create MUST create a new container", tapFail},
		{"SKIP no cgroup v1", tapSkip},
		{"TODO later", tapTodo},
	}
	if got := parseTAP([]byte(out)); !slices.Equal(got, want) {
		t.Errorf("parseTAP:\n got %+v\nwant %+v", got, want)
	}
}
