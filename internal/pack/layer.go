package pack

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// epoch is the modification time of every tar entry and the image's creation
// time, so equal inputs give equal digests.
var epoch = time.Unix(0, 0).UTC()

// entry is one file of a tar stream: a directory, a symbolic link, or a
// regular file read from src or held in data.
type entry struct {
	name string // slash-separated, relative, no trailing slash
	kind byte   // tar.TypeDir, tar.TypeSymlink or tar.TypeReg
	mode int64  // permission and setuid/setgid/sticky bits
	size int64  // regular files only
	src  string // host path of a regular file's contents
	data []byte // contents of a regular file when src is empty
	link string // symlink target
}

func dirEntry(name string) entry {
	return entry{name: name, kind: tar.TypeDir, mode: 0o755}
}

func dataEntry(name string, data []byte) entry {
	return entry{name: name, kind: tar.TypeReg, mode: 0o644, size: int64(len(data)), data: data}
}

// fileEntry stats a host file to be stored under name.
func fileEntry(name, src string, mode int64) (entry, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return entry{}, fmt.Errorf("stat %q: %w", src, err)
	}
	return entry{name: name, kind: tar.TypeReg, mode: mode, size: fi.Size(), src: src}, nil
}

// tree is a set of entries written in name order, owned by root, with
// fixed times.
type tree []entry

func (t tree) sorted() tree {
	out := append(tree(nil), t...)
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// normalized returns t with modes 0755 for directories and 0644 for files,
// so the host's umask does not reach the output.
func (t tree) normalized() tree {
	out := append(tree(nil), t...)
	for i := range out {
		out[i].mode = 0o644
		if out[i].kind == tar.TypeDir {
			out[i].mode = 0o755
		}
	}
	return out
}

// writeTar writes t to w as an uncompressed tar stream.
func (t tree) writeTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	for _, e := range t.sorted() {
		if err := writeEntry(tw, e); err != nil {
			return fmt.Errorf("write %q: %w", e.name, err)
		}
	}
	return tw.Close()
}

func writeEntry(tw *tar.Writer, e entry) error {
	h := &tar.Header{
		Typeflag: e.kind,
		Name:     e.name,
		Linkname: e.link,
		Mode:     e.mode,
		Size:     e.size,
		ModTime:  epoch,
	}
	if e.kind == tar.TypeDir {
		h.Name += "/"
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if e.kind != tar.TypeReg {
		return nil
	}
	return copyContents(tw, e)
}

// copyContents copies a regular file's contents, failing if a host file
// changed size since it was listed.
func copyContents(w io.Writer, e entry) error {
	if e.src == "" {
		_, err := w.Write(e.data)
		return err
	}
	f, err := os.Open(e.src)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, e.size+1))
	if err != nil {
		return err
	}
	if n != e.size {
		return fmt.Errorf("%q changed size while packing", e.src)
	}
	return nil
}

// layer turns t into a gzip-compressed OCI layer. The tar stream is
// produced again each time the layer is read, straight from the host files.
func (t tree) layer() (v1.Layer, error) {
	open := func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(t.writeTar(pw)) }()
		return pr, nil
	}
	l, err := tarball.LayerFromOpener(open, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("build layer: %w", err)
	}
	return l, nil
}

// withParents adds directory entries for every parent of the given names
// that is not itself in t.
func (t tree) withParents() tree {
	have := map[string]bool{}
	for _, e := range t {
		have[e.name] = true
	}
	out := append(tree(nil), t...)
	for _, e := range t {
		for dir := path.Dir(e.name); dir != "." && !have[dir]; dir = path.Dir(dir) {
			have[dir] = true
			out = append(out, dirEntry(dir))
		}
	}
	return out
}

// cleanName turns an absolute image path into a tar entry name.
func cleanName(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}
