//go:build linux && cgo && seccomp

package vmmseccomp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The filtered side runs in a child: a seccomp filter cannot be removed
// from the test process. stageEnv tells the test binary, from its first
// line of main, which side it is:
//
//	apply:<mode>  install the hvt policy, then exec this binary as probe
//	probe         report what the filter does, one line per probe
const stageEnv = "URUNC_SANDBOX_TEST_STAGE"

func TestMain(m *testing.M) {
	switch stage := os.Getenv(stageEnv); {
	case strings.HasPrefix(stage, "apply:"):
		exe, _ := os.Executable()
		if err := Apply(hvtPolicy, Mode(strings.TrimPrefix(stage, "apply:"))); err != nil {
			fmt.Println("apply:", err)
			os.Exit(3)
		}
		os.Setenv(stageEnv, "probe")
		err := unix.Exec(exe, []string{exe}, os.Environ())
		fmt.Println("exec:", err)
		os.Exit(4)
	case stage == "probe":
		probe()
		os.Exit(0)
	case stage == "loopguard":
		if err := ApplyLoopGuard(); err != nil {
			fmt.Println("apply:", err)
			os.Exit(3)
		}
		probeLoop()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// probe runs under the filter: a Go program (like the stand-in VMM) must
// start and do a tender's work, and the calls no tender needs must fail.
func probe() {
	st, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(st), "\n") {
		if strings.HasPrefix(l, "Seccomp:") || strings.HasPrefix(l, "NoNewPrivs:") {
			k, v, _ := strings.Cut(l, ":")
			fmt.Printf("%s=%s\n", k, strings.TrimSpace(v))
		}
	}
	report := func(name string, err error) {
		switch {
		case err == nil:
			fmt.Printf("%s=ok\n", name)
		case errors.Is(err, unix.EPERM):
			fmt.Printf("%s=EPERM\n", name)
		case errors.Is(err, unix.ENOSYS):
			fmt.Printf("%s=ENOSYS\n", name)
		default:
			fmt.Printf("%s=other:%v\n", name, err)
		}
	}
	fd, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	report("open", err)
	_, err = unix.Write(fd, []byte("x"))
	report("write", err)
	_, err = unix.Pwrite(fd, []byte("x"), 0)
	report("pwrite", err)
	_, err = unix.IoctlGetInt(fd, unix.TUNGETIFF) // /dev/null: ENOTTY, not EPERM
	report("ioctl", err)
	var ts unix.Timespec
	report("clock_gettime", unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts))
	efd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	report("epoll_create1", err)
	unix.Close(efd)
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_CLOEXEC)
	report("timerfd_create", err)
	unix.Close(tfd)
	report("prctl_nnp", unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
	report("prctl_dumpable", unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0))
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	report("socket_inet", err)
	unix.Close(s)
	s, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	report("socket_unix", err)
	unix.Close(s)
	s, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	report("socket_inet_dgram", err)
	unix.Close(s)
	s, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT)
	report("socket_netlink_audit", err)
	unix.Close(s)
	_, err = net.Interfaces() // getifaddrs' way: a NETLINK_ROUTE dump
	report("interfaces", err)
	// The calls below would fail with EPERM for a non-root user anyway,
	// so each is made invalid in a way the kernel checks first: unfiltered
	// it fails with another error, and nothing happens even as root.
	report("unshare", unix.Unshare(unix.CLONE_NEWNET|0x1)) // unknown flag: EINVAL
	report("mount", unix.Mount("none", "/nonexistent/urunc-sandbox-probe", "tmpfs", 0, ""))
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, 0x7fffffff, 0, 0, 0, 0, 0) // no such request or pid
	report("ptrace", errnoErr(e))
	_, _, e = unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_FS, 0, 0, 0, 0, 0) // EINVAL
	report("clone_newuser", errnoErr(e))
	_, _, e = unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
	report("clone3", errnoErr(e))
	report("mkdir", unix.Mkdir("/nonexistent/urunc-sandbox-probe", 0o700)) // ENOENT
}

// probeLoop tries the loop ioctls on /dev/null (ENOTTY when let through)
// and ioctls of other kinds.
func probeLoop() {
	fd, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Println("open:", err)
		return
	}
	for name, cmd := range map[string]uint64{
		"LOOP_CLR_FD": 0x4C01, "LOOP_SET_STATUS64": 0x4C04, "LOOP_CONFIGURE": 0x4C0A,
		"LOOP_CTL_REMOVE": 0x4C81, "LOOP_CLR_FD_high_bits": 0xdead_0000_0000_4C01,
		"TCGETS": unix.TCGETS, "BLKGETSIZE64": unix.BLKGETSIZE64,
	} {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(cmd), 0)
		switch e {
		case unix.EPERM:
			fmt.Printf("%s=EPERM\n", name)
		default:
			fmt.Printf("%s=%v\n", name, errnoErr(e))
		}
	}
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func runStage(t *testing.T, mode Mode) map[string]string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), stageEnv+"=apply:"+string(mode))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("filtered child (%s): %v\n%s", mode, err, out)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			got[k] = v
		}
	}
	return got
}

func TestApplyHVTEnforce(t *testing.T) {
	got := runStage(t, Enforce)
	want := map[string]string{
		"Seccomp": "2", "NoNewPrivs": "1",
		// a tender's work, and a Go runtime's start, go through
		"open": "ok", "write": "ok", "pwrite": "ok", "clock_gettime": "ok",
		"epoll_create1": "ok", "timerfd_create": "ok", "prctl_nnp": "ok",
		"ioctl": "other:inappropriate ioctl for device",
		// what no tender needs fails
		"socket_inet_dgram": "ok", "interfaces": "ok",
		"prctl_dumpable": "EPERM", "socket_inet": "EPERM", "socket_unix": "EPERM", "socket_netlink_audit": "EPERM",
		"unshare": "EPERM", "mount": "EPERM", "ptrace": "EPERM",
		"clone_newuser": "EPERM", "clone3": "ENOSYS", "mkdir": "EPERM",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s under the hvt filter: %q, want %q", k, got[k], w)
		}
	}
}

// The loop guard denies the loop ioctls, whatever the upper bits say, and
// lets every other ioctl through.
func TestApplyLoopGuard(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), stageEnv+"=loopguard")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("guarded child: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			got[k] = v
		}
	}
	for k, w := range map[string]string{"LOOP_CLR_FD": "EPERM", "LOOP_SET_STATUS64": "EPERM", "LOOP_CONFIGURE": "EPERM",
		"LOOP_CTL_REMOVE": "EPERM", "LOOP_CLR_FD_high_bits": "EPERM",
		"TCGETS": "inappropriate ioctl for device", "BLKGETSIZE64": "inappropriate ioctl for device"} {
		if got[k] != w {
			t.Errorf("%s under the loop guard: %q, want %q\n%s", k, got[k], w, out)
		}
	}
}

// TestApplyHVTLog: log mode installs a filter that denies nothing.
func TestApplyHVTLog(t *testing.T) {
	got := runStage(t, Log)
	if got["Seccomp"] != "2" {
		t.Errorf("Seccomp %q, want 2", got["Seccomp"])
	}
	for k, w := range map[string]string{"socket_inet": "ok", "socket_unix": "ok", "prctl_dumpable": "ok",
		"unshare": "other:invalid argument", "mount": "other:no such file or directory",
		"clone_newuser": "other:invalid argument", "mkdir": "other:no such file or directory"} {
		if got[k] != w {
			t.Errorf("%s in log mode: %q, want %q", k, got[k], w)
		}
	}
}

// TestApplyOffInstallsNothing: Off leaves the process as it was.
func TestApplyOffInstallsNothing(t *testing.T) {
	before := filters(t)
	if err := Apply(hvtPolicy, Off); err != nil {
		t.Fatal(err)
	}
	if after := filters(t); after != before {
		t.Errorf("Seccomp_filters %q after Apply(Off), was %q", after, before)
	}
}

func filters(t *testing.T) string {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(st), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == "Seccomp_filters" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestPolicyNamesResolve: every name in a policy is a system call on
// some architecture libseccomp knows, so a typo cannot be skipped as
// "not on this architecture".
func TestPolicyNamesResolve(t *testing.T) {
	for _, vmm := range Confined() {
		p, _ := For(vmm)
		names := append(append([]string{}, p.Allow...), p.NoSys...)
		for _, c := range p.AllowIf {
			names = append(names, c.Name)
		}
		for _, n := range names {
			if !knownAnywhere(n) {
				t.Errorf("%s policy: %q is not a system call on x86_64 or aarch64", vmm, n)
			}
		}
		if _, err := build(p, Enforce); err != nil {
			t.Errorf("%s policy: %v", vmm, err)
		}
	}
}

func knownAnywhere(name string) bool {
	for _, a := range []seccomp.ScmpArch{seccomp.ArchAMD64, seccomp.ArchARM64} {
		if _, err := seccomp.GetSyscallFromNameByArch(name, a); err == nil {
			return true
		}
	}
	return false
}
