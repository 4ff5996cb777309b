// Package vmmseccomp confines a VMM that has no syscall filter of its own
// with a seccomp filter that the launcher installs just before it execs
// the VMM. The filter must therefore allow everything the VMM does in its
// whole life, from the dynamic loader on: it is an outer bound that keeps
// a compromised VMM away from the kernel interfaces it never needs
// (sockets, mounts, namespaces, ptrace, bpf, keys, modules, ...), not a
// run-loop filter. A VMM that installs its own, tighter filter later
// stacks it on top; seccomp filters only ever narrow.
package vmmseccomp

import (
	"errors"
	"fmt"
	"sort"
)

// Mode says what happens to a system call the policy does not allow.
type Mode string

const (
	// Enforce fails it with EPERM (clone3 with ENOSYS, so that the C
	// library falls back to clone, whose flags the filter can check).
	Enforce Mode = "enforce"
	// Log lets it through and has the kernel log it (SECCOMP_RET_LOG,
	// visible in the audit log or dmesg): for finding what a VMM build
	// needs on a real host before enforcing.
	Log Mode = "log"
	// Off installs nothing.
	Off Mode = "off"
)

// Modes lists the valid modes, for error messages.
var Modes = []Mode{Enforce, Log, Off}

// ParseMode checks a configured mode.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("%q is not one of %v", s, Modes)
}

// Policy is a seccomp allowlist for one VMM.
type Policy struct {
	Name string
	// Allow are system calls allowed with any arguments. Names unknown on
	// the running architecture (open on arm64) are skipped.
	Allow []string
	// AllowIf are system calls allowed only when their arguments match
	// (each rule's conditions all hold; any rule of a call may match).
	AllowIf []Conditional
	// NoSys are system calls failed with ENOSYS in Enforce mode: newer
	// calls whose older form the C library falls back to.
	NoSys []string
}

// Conditional allows a system call when all of Args hold.
type Conditional struct {
	Name string
	Args []Arg
	Why  string
}

// Arg holds when (argument Index & Mask) == Value.
type Arg struct {
	Index uint
	Mask  uint64
	Value uint64
}

// The loop-device ioctls (LOOP_SET_FD 0x4C00 to LOOP_CONFIGURE 0x4C0A,
// and loop-control's 0x4C80-0x4C82) are plain numbers of type 'L' with no
// size or direction bits. The kernel takes the command as an unsigned int,
// so the upper 32 bits of the register are masked out: a command with
// junk above bit 31 must not slip past.
const (
	LoopIoctlMask  = 0xFFFFFF00
	LoopIoctlValue = 0x4C00
)

// ErrUnavailable is returned by Apply when this urunc binary was built
// without seccomp support.
var ErrUnavailable = errors.New("urunc was built without seccomp support (build it with 'make', which sets -tags seccomp)")

// policies holds the policy of every VMM urunc confines itself, by the
// VMM's hypervisor name. VMMs that filter themselves are not here.
var policies = map[string]Policy{}

func register(vmm string, p Policy) { policies[vmm] = p }

// For returns the policy urunc installs for a VMM, if it installs one.
func For(vmm string) (Policy, bool) {
	p, ok := policies[vmm]
	return p, ok
}

// Confined lists the VMMs urunc installs a filter for.
func Confined() []string {
	out := make([]string, 0, len(policies))
	for n := range policies {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
