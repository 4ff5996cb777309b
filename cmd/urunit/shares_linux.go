package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// newRoot is where the application's 9p root is mounted before urunit
// moves it to /.
const newRoot = "/.urunit/root"

// nineP are the mount options of every share: virtio transport, the Linux
// dialect (ownership, modes, symlinks), and large messages for throughput.
const nineP = "trans=virtio,version=9p2000.L,msize=512000"

// setupShares mounts the 9p shares of cfg: the application's root (then
// made the root of the guest, with /proc, /sys and /dev moved into it) and
// its volumes.
func setupShares(cfg urunit.Config) error {
	root := "/"
	switch {
	case cfg.RootTag != "":
		root = newRoot
		if err := mount9p(cfg.RootTag, root, false); err != nil {
			return err
		}
	case cfg.RootDevice != "":
		root = newRoot
		if err := mountDevice(cfg.RootDevice, cfg.RootFSType, root); err != nil {
			return err
		}
	}
	for _, m := range cfg.Mounts {
		if err := mount9p(m.Tag, filepath.Join(root, m.Target), m.ReadOnly); err != nil {
			return err
		}
	}
	if root == "/" {
		return nil
	}
	return switchRoot(root)
}

// deviceWait is how long a block device may take to appear once its
// driver is loaded.
const deviceWait = 5 * time.Second

// mountDevice mounts the root block device, waiting for its driver.
func mountDevice(dev, fstype, target string) error {
	deadline := time.Now().Add(deviceWait)
	for {
		if _, err := os.Stat(dev); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("root device %s did not appear within %v: the guest kernel needs virtio-blk (built in, or its module under /lib/modules/<release> in the image)", dev, deviceWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("mount root device %s: %w", dev, err)
	}
	if err := unix.Mount(dev, target, fstype, 0, ""); err != nil {
		return fmt.Errorf("mount root device %s (%s): %w", dev, fstype, err)
	}
	return nil
}

func mount9p(tag, target string, readOnly bool) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("mount share %q: %w", tag, err)
	}
	var flags uintptr = unix.MS_NOSUID | unix.MS_NODEV
	if readOnly {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount(tag, target, "9p", flags, nineP); err != nil {
		return fmt.Errorf("mount share %q on %s: %w (the guest kernel needs 9p over virtio)", tag, target, err)
	}
	return nil
}

// switchRoot makes root the guest's root: the initramfs cannot be
// pivot_root'ed away, so the new root is moved over / and chroot'ed into,
// as switch_root does. The kernel file systems move along.
func switchRoot(root string) error {
	for _, fs := range []string{"/proc", "/sys", "/dev"} {
		target := filepath.Join(root, fs)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("switch root: %w", err)
		}
		if err := unix.Mount(fs, target, "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("switch root: move %s: %w", fs, err)
		}
	}
	steps := []struct {
		what string
		do   func() error
	}{
		{"chdir", func() error { return unix.Chdir(root) }},
		{"move to /", func() error { return unix.Mount(".", "/", "", unix.MS_MOVE, "") }},
		{"chroot", func() error { return unix.Chroot(".") }},
		{"chdir /", func() error { return unix.Chdir("/") }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("switch root: %s: %w", s.what, err)
		}
	}
	return nil
}
