package sandbox

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
// Denied, among everything else: sockets of any kind (the tap fd is read
// and written, never a socket), mount and pivot_root, namespaces (unshare,
// setns, clone with CLONE_NEW*), ptrace and process_vm_*, bpf,
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
	},
	AllowIf: []Conditional{
		{Name: "clone", Arg: 0, Mask: unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
			unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP |
			unix.CLONE_NEWTIME, Value: 0,
			Why: "threads, never new namespaces"},
		{Name: "prctl", Arg: 0, Mask: ^uint64(0), Value: unix.PR_SET_NO_NEW_PRIVS,
			Why: "only the no-new-privileges bit that precedes the tender's own filter"},
	},
	NoSys: []string{"clone3"}, // its flags are behind a pointer; glibc falls back to clone
}

func init() { register("hvt", hvtPolicy) }
