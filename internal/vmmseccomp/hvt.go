package vmmseccomp

import "golang.org/x/sys/unix"

// solo5-hvt has no seccomp filter on Linux in the Solo5 releases
// (OpenBSD's pledge and FreeBSD's capsicum are not Linux). Its whole life,
// from tenders/hvt/hvt_main.c, hvt_kvm*.c, hvt_module_{net,blk}.c and the
// dynamic loader of a glibc build, is: load and map the unikernel ELF,
// open /dev/kvm and drive it with ioctls, mmap guest memory, open the tap
// (TUNSETIFF ioctl) and the block image, start the network thread, then
// loop on KVM_RUN, serving hypercalls with read/write on the tap,
// pread/pwrite on the image, epoll + timerfd for polls and clock_gettime
// for time. Newer Solo5 sources install their own run-loop filter with
// memfd_create + prctl(PR_SET_NO_NEW_PRIVS) + seccomp, which is allowed
// here so that it can stack on top.
//
// Sockets: the tap is a file, but tenders/common/tap_attach.c first checks
// that the interface exists and is up with getifaddrs(3), which glibc
// answers over a NETLINK_ROUTE socket (socket, bind, getsockname, sendto,
// recvmsg); reading a tap's MTU takes an ioctl on some socket, AF_INET
// datagram by convention. Those two kinds are allowed; stream sockets, raw
// and packet sockets, and every other family and netlink protocol are not.
// (The tap already gives the tender the guest's whole L2 network, so a
// datagram socket in the same namespace adds kernel surface, not reach.)
//
// Denied, among everything else: mount and pivot_root, namespaces
// (unshare, setns, clone with CLONE_NEW*), ptrace and process_vm_*, bpf,
// perf_event_open, keyctl, kexec, kernel modules, userfaultfd, io_uring,
// file creation, removal and permission changes beyond open(2).
//
// execve stays allowed: the filter is in place before the launcher execs
// the tender, and a filter cannot be relaxed afterwards. The few harmless
// calls a statically linked Go program needs as well (sigaltstack,
// eventfd2, sched_getaffinity) are allowed so that a tender built in Go,
// like the tests' stand-in, runs under the same policy.
var hvtPolicy = Policy{
	Name: "solo5-hvt",
	Allow: []string{
		// exec and the dynamic loader / C library start-up
		"execve", "brk", "arch_prctl", "set_tid_address", "set_robust_list", "rseq",
		"access", "faccessat", "faccessat2", "open", "openat", "close", "lseek",
		"read", "pread64", "readlink", "readlinkat",
		"fstat", "newfstatat", "stat", "lstat", "statx",
		"mmap", "mprotect", "munmap", "mremap", "madvise",
		"prlimit64", "getrlimit", "getrandom", "uname",
		"getpid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
		// KVM, tap and block set-up; hypercalls
		"ioctl", "fcntl", "write", "writev", "pwrite64", "fdatasync", "fsync",
		"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "poll", "ppoll",
		"timerfd_create", "timerfd_settime", "eventfd2",
		"clock_gettime", "clock_getres", "gettimeofday", "nanosleep", "clock_nanosleep",
		// signals, the network thread, exit
		"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "tgkill",
		"futex", "sched_yield", "sched_getaffinity", "exit", "exit_group",
		// the tender's own filter (newer Solo5): can only narrow this one
		"memfd_create", "seccomp",
		// on the sockets below (getifaddrs over netlink)
		"bind", "getsockname", "sendto", "recvmsg", "recvfrom",
	},
	AllowIf: []Conditional{
		{Name: "clone", Args: []Arg{{Index: 0, Mask: unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
			unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP |
			unix.CLONE_NEWTIME, Value: 0}},
			Why: "threads, never new namespaces"},
		{Name: "prctl", Args: []Arg{{Index: 0, Mask: all, Value: unix.PR_SET_NO_NEW_PRIVS}},
			Why: "only the no-new-privileges bit that precedes the tender's own filter"},
		{Name: "socket", Args: []Arg{{Index: 0, Mask: all, Value: unix.AF_NETLINK}, {Index: 2, Mask: all, Value: unix.NETLINK_ROUTE}},
			Why: "getifaddrs(3) in tap_attach"},
		{Name: "socket", Args: []Arg{{Index: 0, Mask: all, Value: unix.AF_INET}, {Index: 1, Mask: sockTypeMask, Value: unix.SOCK_DGRAM}},
			Why: "an ioctl handle for the tap's MTU"},
	},
	NoSys: []string{"clone3"}, // its flags are behind a pointer; glibc falls back to clone
}

const (
	all          = ^uint64(0)
	sockTypeMask = 0xf // socket(2)'s type without SOCK_NONBLOCK / SOCK_CLOEXEC
)

func init() { register("hvt", hvtPolicy) }
