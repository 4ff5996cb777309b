package network

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
)

func TestInNamespace(t *testing.T) {
	requireNetAdmin(t)
	name := "urunc-test-ns-" + t.Name()
	sh(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	path := "/run/netns/" + name

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	home := nsInode(t, "/proc/thread-self/ns/net")
	target := nsInode(t, path)

	errF := errors.New("from f")
	var inside uint64
	err := InNamespace(path, func() error {
		inside = nsInode(t, "/proc/thread-self/ns/net")
		return errF
	})
	if !errors.Is(err, errF) || inside != target {
		t.Errorf("InNamespace: err %v, ran in ns %d, want %v in %d", err, inside, errF, target)
	}
	func() {
		defer func() { _ = recover() }()
		_ = InNamespace(path, func() error { panic("boom") })
	}()
	if now := nsInode(t, "/proc/thread-self/ns/net"); now != home {
		t.Errorf("thread left in ns %d, want %d", now, home)
	}
	if err := InNamespace("/run/netns/urunc-test-missing", func() error { return nil }); err == nil {
		t.Error("InNamespace on a missing path: no error")
	}
}

func nsInode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}
