package initrd

import (
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/cavaliergopher/cpio"
)

// rootfsWriter copies a directory tree into a cpio archive.
type rootfsWriter struct {
	cw   *cpio.Writer
	root *os.Root
	fsys fs.FS
	plan *extraPlan
}

// writeRootfs writes every supported entry below rootfs, in lexical order,
// leaving out what the extra files replace.
func writeRootfs(cw *cpio.Writer, rootfs string, plan *extraPlan) error {
	root, err := openRoot(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	rw := &rootfsWriter{cw: cw, root: root, fsys: root.FS(), plan: plan}
	if err := fs.WalkDir(rw.fsys, ".", rw.visit); err != nil {
		return fmt.Errorf("copy rootfs %q: %w", rootfs, err)
	}
	return nil
}

// visit is the fs.WalkDirFunc that writes one entry.
func (rw *rootfsWriter) visit(name string, d fs.DirEntry, err error) error {
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the guest's root directory already exists
	}
	if rw.plan.omit[name] {
		if d.IsDir() {
			return fs.SkipDir
		}
		return nil
	}
	if replaced, skipDir := rw.replaced(name, d); replaced {
		if skipDir {
			return fs.SkipDir
		}
		return nil
	}
	fi, err := fs.Lstat(rw.fsys, name)
	if err != nil {
		return err
	}
	if err := rw.write(name, fi); err != nil {
		return fmt.Errorf("write %q: %w", name, err)
	}
	if fi.IsDir() {
		rw.plan.written[name] = true
	}
	return nil
}

// replaced reports whether an extra file takes the place of name, and
// whether the walk should then skip name's contents.
func (rw *rootfsWriter) replaced(name string, d fs.DirEntry) (replaced, skipDir bool) {
	_, isExtra := rw.plan.byPath[name]
	needDir := rw.plan.parents[name]
	switch {
	case isExtra:
		return true, d.IsDir()
	case needDir && !d.IsDir():
		return true, false
	}
	return false, false
}

// write writes the header, and for regular files the contents, of name.
func (rw *rootfsWriter) write(name string, fi fs.FileInfo) error {
	hdr := &cpio.Header{Name: name, Mode: cpioMode(fi.Mode()), ModTime: fi.ModTime(), Links: 1}
	hdr.Uid, hdr.Guid = owner(fi)
	switch t := fi.Mode().Type(); t {
	case 0:
		hdr.Size = fi.Size()
		return rw.writeFile(hdr)
	case fs.ModeDir:
		hdr.Links = 2
		return rw.cw.WriteHeader(hdr)
	case fs.ModeSymlink:
		return rw.writeSymlink(hdr)
	case fs.ModeNamedPipe:
		return rw.cw.WriteHeader(hdr)
	default:
		return nil // device nodes, sockets and irregular files are skipped
	}
}

// writeFile writes a regular file's header and exactly hdr.Size bytes of it.
func (rw *rootfsWriter) writeFile(hdr *cpio.Header) error {
	f, err := rw.root.Open(hdr.Name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := rw.cw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.CopyN(rw.cw, f, hdr.Size)
	if err != nil {
		return fmt.Errorf("copy %d bytes (file changed while read?): got %d: %w", hdr.Size, n, err)
	}
	return nil
}

// writeSymlink writes a symbolic link with its target as data.
func (rw *rootfsWriter) writeSymlink(hdr *cpio.Header) error {
	target, err := fs.ReadLink(rw.fsys, hdr.Name)
	if err != nil {
		return err
	}
	hdr.Linkname = target
	hdr.Size = int64(len(target))
	if err := rw.cw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.WriteString(rw.cw, target)
	return err
}
