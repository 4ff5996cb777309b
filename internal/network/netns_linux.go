package network

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// InNamespace runs f on the calling goroutine's OS thread switched into the
// network namespace at path (e.g. /run/netns/NAME or /proc/PID/ns/net), and
// switches back afterwards, also when f panics.
//
// f must not start goroutines that expect to be in that namespace: only the
// locked thread is switched. Sockets and netlink handles opened by f stay in
// the namespace they were opened in. If switching back fails, the thread is
// left locked, so Go terminates it instead of reusing it in the wrong
// namespace.
func InNamespace(path string, f func() error) (err error) {
	return inNamespace(path, nil, f)
}

// InProcessNamespaceOf runs f in the network namespace of process pid,
// see InNamespace, once same has confirmed, after the namespace was
// opened, that pid is still the process meant: a pid alone may have been
// reused by the time its namespace is opened.
func InProcessNamespaceOf(pid int, same func() error, f func() error) error {
	return inNamespace(ProcessNamespacePath(pid), same, f)
}

func inNamespace(path string, opened func() error, f func() error) (err error) {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open netns %q: %w", path, err)
	}
	defer target.Close()
	if opened != nil {
		if err := opened(); err != nil {
			return fmt.Errorf("netns %q: %w", path, err)
		}
	}

	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open current netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %q: %w", path, err)
	}
	defer func() {
		if rerr := netns.Set(orig); rerr != nil {
			err = errors.Join(err, fmt.Errorf("restore netns after %q: %w", path, rerr))
			return
		}
		runtime.UnlockOSThread()
	}()
	return f()
}
