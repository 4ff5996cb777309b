//go:build linux && cgo && seccomp

package vmmseccomp

import (
	"fmt"
	"runtime"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Available reports whether Apply can install filters.
func Available() bool { return true }

// Apply installs p on every thread of the calling process (TSYNC) with
// no_new_privs set, so that an execve that follows carries it into the
// VMM. The caller should exec right after; Apply locks the goroutine to its
// thread so that the exec happens on a filtered thread either way.
func Apply(p Policy, m Mode) error {
	if m == Off {
		return nil
	}
	f, err := build(p, m)
	if err != nil {
		return err
	}
	defer f.Release()
	runtime.LockOSThread()
	if err := f.Load(); err != nil {
		return fmt.Errorf("seccomp %s: load filter: %w", p.Name, err)
	}
	return nil
}

// ApplyLoopGuard installs, on top of whatever filter is there, one that
// allows everything but the loop-device ioctls (LoopIoctlMask): the VMM of
// a block-backed rootfs reads and writes its loop device and must not
// detach or reconfigure it.
func ApplyLoopGuard() error {
	f, err := seccomp.NewFilter(seccomp.ActAllow)
	if err != nil {
		return fmt.Errorf("seccomp loop guard: %w", err)
	}
	defer f.Release()
	_ = f.SetRawRC(true)
	if err := f.SetNoNewPrivsBit(true); err != nil {
		return fmt.Errorf("seccomp loop guard: no_new_privs: %w", err)
	}
	call, err := seccomp.GetSyscallFromName("ioctl")
	if err != nil {
		return fmt.Errorf("seccomp loop guard: %w", err)
	}
	cond, err := seccomp.MakeCondition(1, seccomp.CompareMaskedEqual, LoopIoctlMask, LoopIoctlValue)
	if err != nil {
		return fmt.Errorf("seccomp loop guard: %w", err)
	}
	if err := f.AddRuleConditional(call, seccomp.ActErrno.SetReturnCode(int16(unix.EPERM)), []seccomp.ScmpCondition{cond}); err != nil {
		return fmt.Errorf("seccomp loop guard: %w", err)
	}
	runtime.LockOSThread()
	if err := f.Load(); err != nil {
		return fmt.Errorf("seccomp loop guard: load filter: %w", err)
	}
	return nil
}

func build(p Policy, m Mode) (*seccomp.ScmpFilter, error) {
	deflt := seccomp.ActErrno.SetReturnCode(int16(unix.EPERM))
	if m == Log {
		deflt = seccomp.ActLog
	}
	f, err := seccomp.NewFilter(deflt)
	if err != nil {
		return nil, fmt.Errorf("seccomp %s: %w", p.Name, err)
	}
	_ = f.SetRawRC(true) // the kernel's errno instead of ECANCELED; older libseccomp lacks it
	if err := f.SetNoNewPrivsBit(true); err != nil {
		f.Release()
		return nil, fmt.Errorf("seccomp %s: no_new_privs: %w", p.Name, err)
	}
	add := func(name string, act seccomp.ScmpAction, conds []seccomp.ScmpCondition) error {
		call, err := seccomp.GetSyscallFromName(name)
		if err != nil {
			return nil // not a system call on this architecture
		}
		if len(conds) == 0 {
			err = f.AddRule(call, act)
		} else {
			err = f.AddRuleConditional(call, act, conds)
		}
		if err != nil {
			return fmt.Errorf("seccomp %s: rule for %s: %w", p.Name, name, err)
		}
		return nil
	}
	err = func() error {
		for _, name := range p.Allow {
			if err := add(name, seccomp.ActAllow, nil); err != nil {
				return err
			}
		}
		for _, c := range p.AllowIf {
			conds := make([]seccomp.ScmpCondition, 0, len(c.Args))
			for _, a := range c.Args {
				cond, err := seccomp.MakeCondition(a.Index, seccomp.CompareMaskedEqual, a.Mask, a.Value)
				if err != nil {
					return fmt.Errorf("seccomp %s: condition for %s: %w", p.Name, c.Name, err)
				}
				conds = append(conds, cond)
			}
			if err := add(c.Name, seccomp.ActAllow, conds); err != nil {
				return err
			}
		}
		if m == Enforce {
			for _, name := range p.NoSys {
				if err := add(name, seccomp.ActErrno.SetReturnCode(int16(unix.ENOSYS)), nil); err != nil {
					return err
				}
			}
		}
		return nil
	}()
	if err != nil {
		f.Release()
		return nil, err
	}
	return f, nil
}
