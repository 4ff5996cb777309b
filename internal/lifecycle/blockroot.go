package lifecycle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/initrd"
	"github.com/urunc-runtime/urunc/internal/planner"
)

// blockRoot is the planner's, found here in the mount table.
type blockRoot = planner.BlockRoot

// blockFSTypes are the file systems a Linux guest mounts from the device.
var blockFSTypes = map[string]bool{"ext4": true, "ext3": true, "ext2": true, "xfs": true}

// findBlockRoot tells whether rootfs is a mount of a block device, from
// the mount table in r (the format of /proc/self/mountinfo).
func findBlockRoot(mounts []*mountinfo.Info, rootfs string) *blockRoot {
	for i := len(mounts) - 1; i >= 0; i-- { // the last mount on a path is the visible one
		m := mounts[i]
		if m.Mountpoint != rootfs {
			continue
		}
		if isBlockDevice(m.Source) && blockFSTypes[m.FSType] {
			return &blockRoot{Device: m.Source, FSType: m.FSType}
		}
		return nil
	}
	return nil
}

func isBlockDevice(src string) bool {
	return strings.HasPrefix(src, "/dev/loop") || strings.HasPrefix(src, "/dev/mapper/") ||
		strings.HasPrefix(src, "/dev/dm-")
}

// detectBlockRoot looks rootfs up in this process's mount table.
func detectBlockRoot(rootfs string) (*blockRoot, error) {
	abs, err := filepath.Abs(rootfs)
	if err != nil {
		return nil, err
	}
	mounts, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(abs))
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return findBlockRoot(mounts, abs), nil
}

// copyOut copies a file of the rootfs into dir, so that nothing of the
// container keeps the block file system mounted on the host while the
// guest writes to it.
func copyOut(src *os.File, dir, name string, b *initrd.Budget) (string, error) {
	dst := filepath.Join(dir, name)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return "", fmt.Errorf("copy %s out of the rootfs: %w", src.Name(), err)
	}
	defer out.Close()
	if err := initrd.CopyOpen(out, src, src.Name(), b); err != nil {
		return "", fmt.Errorf("copy %s out of the rootfs: %w", src.Name(), err)
	}
	return dst, out.Close()
}

// moduleFiles returns the kernel modules of the rootfs (lib/modules) as
// initrd entries: a guest whose root is on a block device needs its block
// driver before it can mount that root. Read through an os.Root, so links
// in the image cannot reach out of it.
func moduleFiles(rootfs string, b *initrd.Budget) ([]initrd.File, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	defer root.Close()
	var files []initrd.File
	err = fs.WalkDir(root.FS(), "lib/modules", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(p, ".ko") {
			return err
		}
		data, err := initrd.ReadFile(root.FS(), p, b)
		if err != nil {
			return err
		}
		files = append(files, initrd.File{Path: p, Mode: 0o644, Data: data})
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read kernel modules of the rootfs: %w", err)
	}
	return files, nil
}

// releaseBlockRoot unmounts the rootfs from the host once the container
// exists: the guest mounts the device read-write, and two mounts of one
// file system would corrupt it. The client's own unmount at delete then
// finds nothing mounted, which it accepts. A loop device set up to clear
// itself when its last user goes (as containerd's are) would go with the
// unmount, before the VMM opens it: its autoclear is turned off here, once
// recorded, and back on by restoreLoop at delete.
func (r *Runtime) releaseBlockRoot(id string, br *blockRoot, rootfs string) error {
	if strings.HasPrefix(br.Device, "/dev/loop") {
		l, err := loopIdentity(br.Device)
		if err != nil {
			return err
		}
		if err := r.updateRecord(id, func(h *hostRecord) { h.RootDisk = &l }); err != nil {
			return err
		}
		if err := setAutoclear(br.Device, false); err != nil {
			return err
		}
	}
	if err := unix.Unmount(rootfs, unix.MNT_DETACH); err != nil && err != unix.EINVAL {
		return fmt.Errorf("unmount block rootfs %s from the host: %w", rootfs, err)
	}
	return nil
}

// loopIdentity reads which file loop device dev is bound to.
func loopIdentity(dev string) (loopID, error) {
	f, err := os.OpenFile(dev, os.O_RDONLY, 0)
	if err != nil {
		return loopID{}, fmt.Errorf("loop device %s: %w", dev, err)
	}
	defer f.Close()
	st, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
	if err != nil {
		return loopID{}, fmt.Errorf("loop device %s: get status: %w", dev, err)
	}
	return loopID{Device: dev, Dev: st.Device, Inode: st.Inode}, nil
}

// restoreLoop gives a loop device back its autoclear: with the VMM gone,
// closing it here releases it. A device no longer bound, or bound to
// another file since, is not ours any more and is left alone.
func restoreLoop(l loopID) error {
	cur, err := loopIdentity(l.Device)
	if errors.Is(err, unix.ENXIO) || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.Dev != l.Dev || cur.Inode != l.Inode {
		return nil
	}
	return setAutoclear(l.Device, true)
}

func setAutoclear(dev string, on bool) error {
	f, err := os.OpenFile(dev, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("loop device %s: %w", dev, err)
	}
	defer f.Close()
	st, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
	if err != nil {
		return fmt.Errorf("loop device %s: get status: %w", dev, err)
	}
	if on {
		st.Flags |= unix.LO_FLAGS_AUTOCLEAR
	} else {
		st.Flags &^= unix.LO_FLAGS_AUTOCLEAR
	}
	if err := unix.IoctlLoopSetStatus64(int(f.Fd()), st); err != nil {
		return fmt.Errorf("loop device %s: set autoclear %v: %w", dev, on, err)
	}
	return nil
}

// sameDevice reports whether two paths are on one file system.
func sameDevice(a, b string) (bool, error) {
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		return false, fmt.Errorf("stat %s: %w", a, err)
	}
	if err := unix.Stat(b, &sb); err != nil {
		return false, fmt.Errorf("stat %s: %w", b, err)
	}
	return sa.Dev == sb.Dev, nil
}
