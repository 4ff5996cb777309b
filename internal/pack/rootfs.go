package pack

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// walkTree lists every file under the host directory root (root itself
// excluded) as entries named relative to root. Ownership and times are not
// kept; permissions, setuid/setgid/sticky bits and symlink targets are.
// Hard links become separate copies. Devices, sockets and FIFOs are errors.
func walkTree(root string) (tree, error) {
	var t tree
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		e, err := hostEntry(filepath.ToSlash(rel), p, d)
		if err != nil {
			return err
		}
		t = append(t, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %q: %w", root, err)
	}
	return t, nil
}

// hostEntry describes the host file p as the tar entry name.
func hostEntry(name, p string, d fs.DirEntry) (entry, error) {
	fi, err := d.Info()
	if err != nil {
		return entry{}, err
	}
	mode := tarMode(fi.Mode())
	switch {
	case fi.IsDir():
		return entry{name: name, kind: tar.TypeDir, mode: mode}, nil
	case fi.Mode().IsRegular():
		return entry{name: name, kind: tar.TypeReg, mode: mode, size: fi.Size(), src: p}, nil
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return entry{}, err
		}
		return entry{name: name, kind: tar.TypeSymlink, mode: 0o777, link: target}, nil
	}
	return entry{}, fmt.Errorf("%w: %q: unsupported file type %s", ErrInvalid, p, fi.Mode().Type())
}

// tarMode converts Go file mode bits to tar's (c_ISUID and friends).
func tarMode(m fs.FileMode) int64 {
	out := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		out |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		out |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		out |= 0o1000
	}
	return out
}

// checkReserved fails when the application rootfs holds an entry where
// the image's own files go, unless both are directories (like /boot).
func checkReserved(rootfs, own tree) error {
	kinds := map[string]byte{}
	for _, e := range own {
		kinds[e.name] = e.kind
	}
	for _, e := range rootfs {
		k, ok := kinds[e.name]
		if !ok || (k == tar.TypeDir && e.kind == tar.TypeDir) {
			continue
		}
		return fmt.Errorf("%w: --rootfs holds /%s, which urunc-pack writes itself", ErrInvalid, e.name)
	}
	return nil
}
