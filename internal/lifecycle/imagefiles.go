package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/unikernel"
)

// vettedFiles are the image's kernel, initrd and block file, each opened
// once, right after unikernel.Load resolved its path inside the rootfs.
// urunc reads and copies them only through these descriptors, and checks
// that what the container's init bound at /urunc/kernel, /urunc/initrd and
// /urunc/block is these very files: a rootfs changed meanwhile (a file
// swapped for a link to a host file) cannot make urunc read or hand over
// anything else.
type vettedFiles struct {
	kernel, initrd, block *os.File // nil when the image has none
}

// openImageFiles opens the files meta names, below rootfs.
func openImageFiles(meta *unikernel.Config, rootfs string) (*vettedFiles, error) {
	f := &vettedFiles{}
	for _, x := range []struct {
		key, path string
		to        **os.File
	}{
		{unikernel.KeyBinary, meta.KernelPath, &f.kernel},
		{unikernel.KeyInitrd, meta.InitrdPath, &f.initrd},
		{unikernel.KeyBlock, meta.BlockPath, &f.block},
	} {
		if x.path == "" {
			continue
		}
		file, err := openBeneath(rootfs, x.path)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", x.key, err)
		}
		*x.to = file
	}
	return f, nil
}

// Close closes the files.
func (f *vettedFiles) Close() {
	for _, file := range []*os.File{f.kernel, f.initrd, f.block} {
		if file != nil {
			file.Close()
		}
	}
}

// path is how this process reaches an open file: its descriptor's link.
func fdPath(f *os.File) string {
	return "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
}

// openBeneath opens the regular file at host path p, below rootfs, refusing
// any symbolic link on the way (the path was resolved free of them) or a
// way out of rootfs. O_NONBLOCK: a FIFO put in its place must not hang
// urunc.
func openBeneath(rootfs, p string) (*os.File, error) {
	root, err := filepath.Abs(rootfs) // as unikernel.ResolveInRootfs made p
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return nil, err
	}
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("open %s: %w: it became a symbolic link after it was resolved", p, unikernel.ErrPathEscape)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	file := os.NewFile(uintptr(fd), p)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		file.Close()
		return nil, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		file.Close()
		return nil, fmt.Errorf("open %s: %w", p, unikernel.ErrNotRegular)
	}
	return file, nil
}

// verifyBinds checks, once the container's init has made its mounts, that
// each file bound from the image is the one opened at create.
func verifyBinds(initPid int, binds map[string]*os.File) error {
	for dst, want := range binds {
		if want == nil {
			continue
		}
		var got, vetted unix.Stat_t
		inside := filepath.Join("/proc", strconv.Itoa(initPid), "root", dst)
		if err := unix.Stat(inside, &got); err != nil {
			return fmt.Errorf("check %s in the container: %w", dst, err)
		}
		if err := unix.Fstat(int(want.Fd()), &vetted); err != nil {
			return fmt.Errorf("check %s: %w", dst, err)
		}
		if got.Dev != vetted.Dev || got.Ino != vetted.Ino {
			return fmt.Errorf("%s in the container is not %s as it was checked: the image's rootfs changed during create",
				dst, want.Name())
		}
	}
	return nil
}
