// Package initrd writes initramfs images: newc ("SVR4 without CRC") cpio
// archives that the Linux kernel unpacks into its root file system.
//
// Build writes one archive from a host directory (the container's rootfs)
// plus extra files such as the urunit binary and its config. Callers that
// also have an image-supplied initrd rely on the kernel accepting several
// concatenated cpio archives (compressed or not) as one initramfs: write the
// image's initrd first, then Build's archive, so that later entries win. No
// helper is needed for that.
package initrd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/cavaliergopher/cpio"
)

// File is an extra entry added to the archive after the rootfs.
//
// Path is a slash-separated path inside the guest, absolute or relative to
// the root ("/.urunit/urunit" and ".urunit/urunit" are the same). Mode holds
// the permission bits and the type: a regular file (no type bits) with Data
// as its contents, a directory (fs.ModeDir, Data empty) or a symbolic link
// (fs.ModeSymlink) with Data as its target. Missing parent directories are
// created with mode 0755. Extra entries are owned by root.
type File struct {
	Path string
	Mode fs.FileMode
	Data []byte
}

var (
	// ErrBadPath is returned for an extra File whose path is empty, the root,
	// or contains "..".
	ErrBadPath = errors.New("invalid path")
	// ErrConflict is returned when two extra Files claim the same path or one
	// is placed beneath another that is not a directory.
	ErrConflict = errors.New("conflicting extra files")
	// ErrUnsupportedType is returned for an extra File whose mode is neither
	// a regular file, a directory nor a symbolic link.
	ErrUnsupportedType = errors.New("unsupported file type")
)

// Build writes a newc cpio archive to w holding the tree at rootfs (none when
// rootfs is "") followed by extra.
//
// The rootfs is read through an os.Root, so nothing outside it is ever read:
// symbolic links are stored as links, never followed. Regular files,
// directories, symbolic links and FIFOs are stored with their permissions,
// owner and modification time; device nodes and sockets are skipped without
// error (the guest's /dev is a devtmpfs). Hard links are stored as newc
// hard links: the contents once, with the first name. Entries are written in
// lexical order, so equal inputs give equal archives.
//
// The archive is at most DefaultMaxBytes (BuildLimited takes another
// limit); a file of 4 GiB or more, which newc cannot hold, is refused.
//
// An extra File replaces any rootfs entry at its path (a replaced directory
// is dropped with its contents), and a rootfs entry that is not a directory
// where an extra File needs a parent directory is replaced by a directory.
func Build(w io.Writer, rootfs string, extra []File) error {
	return BuildOmitting(w, rootfs, extra, nil)
}

// BuildOmitting is Build leaving out the rootfs entries at the paths in omit
// (slash-separated, relative to rootfs, as "boot/vmlinuz"): the guest kernel
// need not be copied into its own initramfs.
func BuildOmitting(w io.Writer, rootfs string, extra []File, omit []string) error {
	return BuildLimited(w, rootfs, extra, omit, &Budget{})
}

// BuildLimited is BuildOmitting charging every byte it writes to b, which
// may already hold what the caller wrote before (an image's initrd). An
// entry that does not fit is refused, naming it and the limit, before its
// contents are read.
func BuildLimited(w io.Writer, rootfs string, extra []File, omit []string, b *Budget) error {
	plan, err := planExtras(extra)
	if err != nil {
		return err
	}
	for _, o := range omit {
		plan.omit[path.Clean(strings.TrimPrefix(o, "/"))] = true
	}
	cw := cpio.NewWriter(budgetWriter{w, b})
	if rootfs != "" {
		if err := writeRootfs(cw, b, rootfs, plan); err != nil {
			return err
		}
	}
	if err := writeExtras(cw, b, plan); err != nil {
		return err
	}
	if err := cw.Close(); err != nil {
		return fmt.Errorf("close archive: %w", err)
	}
	return nil
}

// extraPlan is the validated set of extra Files.
type extraPlan struct {
	files   []File          // sorted by cleaned, relative path
	byPath  map[string]File // cleaned path -> file
	parents map[string]bool // directories that extra files need
	written map[string]bool // directories already in the archive
	omit    map[string]bool // rootfs entries left out
}

// planExtras cleans and validates extra and finds the directories they need.
func planExtras(extra []File) (*extraPlan, error) {
	p := &extraPlan{byPath: map[string]File{}, parents: map[string]bool{}, written: map[string]bool{}, omit: map[string]bool{}}
	for _, f := range extra {
		name, err := cleanPath(f.Path)
		if err != nil {
			return nil, err
		}
		if t := f.Mode.Type(); t != 0 && t != fs.ModeDir && t != fs.ModeSymlink {
			return nil, fmt.Errorf("extra file %q: %w %v", f.Path, ErrUnsupportedType, t)
		}
		// Linux has no link to "" and no NUL in a target; cpio readers
		// lose their place on an empty one (found by FuzzBuildExtras).
		if f.Mode.Type() == fs.ModeSymlink && (len(f.Data) == 0 || bytes.IndexByte(f.Data, 0) >= 0) {
			return nil, fmt.Errorf("extra symlink %q: %w: target %q", f.Path, ErrBadPath, f.Data)
		}
		if _, dup := p.byPath[name]; dup {
			return nil, fmt.Errorf("%w: %q given twice", ErrConflict, name)
		}
		f.Path = name
		p.byPath[name] = f
		p.files = append(p.files, f)
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			p.parents[dir] = true
		}
	}
	for dir := range p.parents {
		if f, ok := p.byPath[dir]; ok && !f.Mode.IsDir() {
			return nil, fmt.Errorf("%w: %q is not a directory but has entries beneath it", ErrConflict, dir)
		}
	}
	sort.Slice(p.files, func(i, j int) bool { return p.files[i].Path < p.files[j].Path })
	return p, nil
}

// cleanPath turns a guest path into the relative form used in the archive.
func cleanPath(p string) (string, error) {
	name := strings.TrimLeft(path.Clean("/"+p), "/")
	if name == "" || slices.Contains(strings.Split(p, "/"), "..") {
		return "", fmt.Errorf("extra file %q: %w", p, ErrBadPath)
	}
	return name, nil
}

// writeExtras writes the extra files, each after any parent directory that
// the archive does not hold yet.
func writeExtras(cw *cpio.Writer, b *Budget, p *extraPlan) error {
	for _, f := range p.files {
		if err := writeParents(cw, b, p, f.Path); err != nil {
			return err
		}
		if f.Mode.IsDir() && p.written[f.Path] {
			continue
		}
		if err := writeExtra(cw, b, f); err != nil {
			return fmt.Errorf("write %q: %w", f.Path, err)
		}
		if f.Mode.IsDir() {
			p.written[f.Path] = true
		}
	}
	return nil
}

// writeParents writes the missing directories above name, outermost first.
func writeParents(cw *cpio.Writer, b *Budget, p *extraPlan, name string) error {
	var missing []string
	for dir := path.Dir(name); dir != "." && !p.written[dir]; dir = path.Dir(dir) {
		missing = append(missing, dir)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		dir := missing[i]
		mode := fs.ModeDir | 0o755
		if f, ok := p.byPath[dir]; ok {
			mode = f.Mode
		}
		if err := writeHeader(cw, b, &cpio.Header{Name: dir, Mode: cpioMode(mode), Links: 2}); err != nil {
			return fmt.Errorf("write directory %q: %w", dir, err)
		}
		p.written[dir] = true
	}
	return nil
}

// writeExtra writes one extra file, directory or symbolic link.
func writeExtra(cw *cpio.Writer, b *Budget, f File) error {
	hdr := &cpio.Header{Name: f.Path, Mode: cpioMode(f.Mode), Links: 1}
	if f.Mode.IsDir() {
		hdr.Links = 2
	} else {
		hdr.Size = int64(len(f.Data))
	}
	if f.Mode.Type() == fs.ModeSymlink {
		hdr.Linkname = string(f.Data)
	}
	if err := writeHeader(cw, b, hdr); err != nil {
		return err
	}
	_, err := cw.Write(f.Data)
	return err
}

// cpioMode converts an fs.FileMode to cpio mode bits.
func cpioMode(m fs.FileMode) cpio.FileMode {
	mode := cpio.FileMode(m.Perm())
	switch m.Type() {
	case 0:
		mode |= cpio.TypeReg
	case fs.ModeDir:
		mode |= cpio.TypeDir
	case fs.ModeSymlink:
		mode |= cpio.TypeSymlink
	case fs.ModeNamedPipe:
		mode |= cpio.TypeFifo
	}
	if m&fs.ModeSetuid != 0 {
		mode |= cpio.ModeSetuid
	}
	if m&fs.ModeSetgid != 0 {
		mode |= cpio.ModeSetgid
	}
	if m&fs.ModeSticky != 0 {
		mode |= cpio.ModeSticky
	}
	return mode
}

// owner returns the uid and gid recorded in fi, or 0 and 0.
func owner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return 0, 0
}

// inodeKey identifies a file on the host, to find its other hard links.
type inodeKey struct{ dev, ino uint64 }

// hardLink returns the identity and link count of a regular file with
// more than one link; ok is false for anything else.
func hardLink(fi fs.FileInfo) (key inodeKey, nlink int, ok bool) {
	st, isStat := fi.Sys().(*syscall.Stat_t)
	if !isStat || !fi.Mode().IsRegular() || st.Nlink < 2 {
		return inodeKey{}, 0, false
	}
	return inodeKey{uint64(st.Dev), uint64(st.Ino)}, int(min(uint64(st.Nlink), 1<<31)), true
}

// openRoot opens rootfs as an os.Root.
func openRoot(rootfs string) (*os.Root, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, fmt.Errorf("open rootfs %q: %w", rootfs, err)
	}
	return root, nil
}
