package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// sysBlock lists the guest's block devices.
const sysBlock = "/sys/block"

// createDevices gives each of the container's block devices a node at its
// path in the application's root, for the guest disk that carries its
// serial: disks are found by serial, not by order, since the transport
// decides the order of vda, vdb, ...
func createDevices(devs []urunit.Device) error {
	for _, d := range devs {
		disk, err := waitSerial(sysBlock, d.Serial, deviceWait)
		if err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
		dev, err := os.ReadFile(filepath.Join(sysBlock, disk, "dev"))
		if err != nil {
			return fmt.Errorf("device %s: %w", d.Path, err)
		}
		major, minor, err := parseDevNumber(string(dev))
		if err != nil {
			return fmt.Errorf("device %s: %s/dev: %w", d.Path, disk, err)
		}
		if err := makeNode(d, unix.Mkdev(major, minor)); err != nil {
			return fmt.Errorf("device %s (guest disk %s): %w", d.Path, disk, err)
		}
	}
	return nil
}

// waitSerial returns the name of the disk under dir whose serial is serial,
// waiting for its driver to bring it up.
func waitSerial(dir, serial string, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	for {
		if name, ok := findSerial(dir, serial); ok {
			return name, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no disk with serial %q appeared within %v: the guest kernel needs virtio-blk (built in, or its module under /lib/modules/<release> in the image)", serial, wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func findSerial(dir, serial string) (string, bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", false
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "serial"))
		if err == nil && strings.TrimSpace(string(b)) == serial {
			return e.Name(), true
		}
	}
	return "", false
}

// parseDevNumber reads "major:minor" as in /sys/block/<disk>/dev.
func parseDevNumber(s string) (uint32, uint32, error) {
	maj, min, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not major:minor", s)
	}
	major, err1 := strconv.ParseUint(maj, 10, 32)
	minor, err2 := strconv.ParseUint(min, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%q is not major:minor", s)
	}
	return uint32(major), uint32(minor), nil
}

// makeNode creates the block device node for d, replacing a file or node
// of the image at that path, as a container runtime does.
func makeNode(d urunit.Device, dev uint64) error {
	if err := os.MkdirAll(filepath.Dir(d.Path), 0o755); err != nil {
		return err
	}
	if fi, err := os.Lstat(d.Path); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("a folder is in the way")
		}
		if err := os.Remove(d.Path); err != nil {
			return err
		}
	}
	mode := d.FileMode & 0o7777
	if mode == 0 {
		mode = 0o660
	}
	if err := unix.Mknod(d.Path, unix.S_IFBLK|mode, int(dev)); err != nil {
		return fmt.Errorf("mknod: %w", err)
	}
	if err := unix.Chmod(d.Path, mode); err != nil { // past the umask
		return err
	}
	return os.Lchown(d.Path, int(d.UID), int(d.GID))
}
