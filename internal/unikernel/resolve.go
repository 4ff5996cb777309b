package unikernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxSymlinks is how many symbolic links ResolveInRootfs follows for one
// path, as Linux's MAXSYMLINKS.
const maxSymlinks = 40

// ResolveInRootfs resolves p, a path inside the container image (absolute or
// relative to its root), to a host path inside rootfs, the host directory of
// the container's root, and checks that it names a regular file. key names
// the metadata key p came from, for error messages.
//
// p is walked one component at a time with Lstat and Readlink: absolute
// symlink targets are taken relative to rootfs, as inside the container. Any
// ".." that would climb above the root, whether in p or in a symlink target,
// is an error (ErrPathEscape), never clamped. More than maxSymlinks links is
// ErrSymlinkLoop. The result contains no symbolic links, but the check is
// only as good as the rootfs is stable: it must not be modified concurrently.
func ResolveInRootfs(rootfs, key, p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("%s: empty path: %w", key, ErrBadValue)
	}
	if rootfs == "" {
		return "", fmt.Errorf("%s %q: no container rootfs given", key, p)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%s %q: contains a NUL byte: %w", key, p, ErrBadValue)
	}
	root, err := filepath.Abs(rootfs)
	if err != nil {
		return "", fmt.Errorf("%s %q: resolve rootfs %q: %w", key, p, rootfs, err)
	}
	w := &walker{root: root, key: key, p: p}
	rest := strings.Split(p, "/")
	for len(rest) > 0 {
		if rest, err = w.step(rest[0], rest[1:]); err != nil {
			return "", err
		}
	}
	return w.checkRegular()
}

// walker holds the state of one ResolveInRootfs call.
type walker struct {
	root string   // absolute host path of the rootfs
	key  string   // metadata key, for errors
	p    string   // path being resolved, for errors
	done []string // resolved components below root, free of links
	hops int      // symbolic links followed so far
	via  string   // last symbolic link followed, for errors
}

// step resolves one component and returns what is left to resolve.
func (w *walker) step(name string, rest []string) ([]string, error) {
	switch name {
	case "", ".":
		return rest, nil
	case "..":
		if len(w.done) == 0 {
			return nil, w.fail(ErrPathEscape)
		}
		w.done = w.done[:len(w.done)-1]
		return rest, nil
	}
	host := filepath.Join(w.host(), name)
	fi, err := os.Lstat(host)
	if err != nil {
		return nil, w.lstatError(name, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return w.follow(host, rest)
	}
	if !fi.IsDir() && len(rest) > 0 {
		return nil, fmt.Errorf("%s %q: %q is not a directory: %w", w.key, w.p, w.inside(name), ErrNotFound)
	}
	w.done = append(w.done, name)
	return rest, nil
}

// follow reads the link at host and returns its target's components
// followed by rest.
func (w *walker) follow(host string, rest []string) ([]string, error) {
	w.hops++
	if w.hops > maxSymlinks {
		return nil, w.fail(ErrSymlinkLoop)
	}
	target, err := os.Readlink(host)
	if err != nil {
		return nil, fmt.Errorf("%s %q: readlink %q: %w", w.key, w.p, host, err)
	}
	w.via = fmt.Sprintf("%q -> %q", w.inside(filepath.Base(host)), target)
	if target == "" {
		return nil, w.fail(ErrNotFound)
	}
	if filepath.IsAbs(target) {
		w.done = w.done[:0]
	}
	return append(strings.Split(target, "/"), rest...), nil
}

// checkRegular checks the fully resolved path and returns its host path.
func (w *walker) checkRegular() (string, error) {
	host := w.host()
	fi, err := os.Lstat(host)
	if err != nil {
		return "", fmt.Errorf("%s %q: stat %q: %w", w.key, w.p, host, err)
	}
	if len(w.done) == 0 || !fi.Mode().IsRegular() {
		return "", w.fail(ErrNotRegular)
	}
	return host, nil
}

func (w *walker) lstatError(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return w.fail(ErrNotFound)
	}
	if errors.Is(err, syscall.ENAMETOOLONG) {
		return fmt.Errorf("%s %q: %q: a name longer than the file system allows: %w", w.key, w.p, w.inside(name), ErrBadValue)
	}
	return fmt.Errorf("%s %q: lstat %q: %w", w.key, w.p, w.inside(name), err)
}

// fail names the key, the path and, if any, the last symbolic link
// followed.
func (w *walker) fail(sentinel error) error {
	if w.via != "" {
		return fmt.Errorf("%s %q (via symlink %s): %w", w.key, w.p, w.via, sentinel)
	}
	return fmt.Errorf("%s %q: %w", w.key, w.p, sentinel)
}

// host is the host path of the components resolved so far.
func (w *walker) host() string {
	return filepath.Join(append([]string{w.root}, w.done...)...)
}

// inside is the in-container path of the resolved components plus name.
func (w *walker) inside(name string) string {
	return filepath.Join("/", filepath.Join(w.done...), name)
}
