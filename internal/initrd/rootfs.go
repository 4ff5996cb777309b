package initrd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/cavaliergopher/cpio"
)

// rootfsWriter copies a directory tree into a cpio archive.
type rootfsWriter struct {
	cw     *cpio.Writer
	budget *Budget
	root   *os.Root
	fsys   fs.FS
	plan   *extraPlan
	// links maps a hard-linked host file to the archive inode number of
	// its first stored name; later names are stored without contents.
	links map[inodeKey]int64
}

// firstLinkInode numbers hard-linked entries above the cpio writer's own
// count (one per entry), so the kernel, which matches links by inode
// number, joins only the names that share a host inode.
const firstLinkInode = 1 << 31

// writeRootfs writes every supported entry below rootfs, in lexical order,
// leaving out what the extra files replace.
func writeRootfs(cw *cpio.Writer, b *Budget, rootfs string, plan *extraPlan) error {
	root, err := openRoot(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	rw := &rootfsWriter{cw: cw, budget: b, root: root, fsys: root.FS(), plan: plan, links: map[inodeKey]int64{}}
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
		if key, nlink, ok := hardLink(fi); ok {
			return rw.writeLink(hdr, key, nlink)
		}
		return rw.writeFile(hdr)
	case fs.ModeDir:
		hdr.Links = 2
		return writeHeader(rw.cw, rw.budget, hdr)
	case fs.ModeSymlink:
		return rw.writeSymlink(hdr)
	case fs.ModeNamedPipe:
		return writeHeader(rw.cw, rw.budget, hdr)
	default:
		return nil // device nodes, sockets and irregular files are skipped
	}
}

// writeLink writes one name of a hard-linked file: the first with the
// contents, the others as empty entries with the same inode number, which
// the kernel's unpacker turns into links (GNU cpio puts the contents on the
// last name instead; the kernel takes either). The contents count once.
func (rw *rootfsWriter) writeLink(hdr *cpio.Header, key inodeKey, nlink int) error {
	hdr.Links = nlink
	if ino, seen := rw.links[key]; seen {
		hdr.Inode, hdr.Size = ino, 0
		return writeHeader(rw.cw, rw.budget, hdr)
	}
	hdr.Inode = firstLinkInode + int64(len(rw.links))
	if err := rw.writeFile(hdr); err != nil {
		return err
	}
	rw.links[key] = hdr.Inode
	return nil
}

// writeFile writes a regular file's header and exactly hdr.Size bytes of it.
func (rw *rootfsWriter) writeFile(hdr *cpio.Header) error {
	f, err := rw.root.Open(hdr.Name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := writeHeader(rw.cw, rw.budget, hdr); err != nil {
		return err
	}
	n, err := io.CopyN(rw.cw, f, hdr.Size)
	if errors.Is(err, io.EOF) {
		// CopyN's EOF is the file's: it shrank after it was stat'ed.
		return fmt.Errorf("copy %d bytes (file changed while read?): got %d: %w", hdr.Size, n, io.ErrUnexpectedEOF)
	}
	if err != nil {
		// A read error, or the initrd's write (a full disk): say only that.
		return fmt.Errorf("copy %d bytes: %w", hdr.Size, err)
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
	if err := writeHeader(rw.cw, rw.budget, hdr); err != nil {
		return err
	}
	_, err = io.WriteString(rw.cw, target)
	return err
}
