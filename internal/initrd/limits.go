package initrd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/cavaliergopher/cpio"
)

// DefaultMaxBytes caps an initrd when the Budget does not say otherwise.
const DefaultMaxBytes = 2 << 30

// Limits of the newc format (and of the kernel's initramfs unpacker).
const (
	newcMaxFileSize = 1<<32 - 1 // c_filesize is 8 hex digits
	newcMaxName     = 4095      // c_namesize, with the NUL, is at most PATH_MAX
	newcHeaderSize  = 110
)

var (
	// ErrTooLarge is returned when writing a file would take the initrd
	// over its Budget.
	ErrTooLarge = errors.New("initrd size limit exceeded")
	// ErrNewcLimit is returned for an entry newc cannot represent: a file
	// of 4 GiB or more (the size field has 32 bits, and a larger value
	// would be cut, not refused), or a name or link target longer than
	// PATH_MAX.
	ErrNewcLimit = errors.New("newc cpio limit exceeded")
)

// Budget is the byte allowance of one initrd, shared by everything written
// into it (Build's archive and the image files a caller puts before it).
// The zero Budget allows DefaultMaxBytes.
type Budget struct {
	Max     int64  // bytes in all; <= 0 means DefaultMaxBytes
	Setting string // what raises Max, named in errors (e.g. a config key)
	used    int64
}

// Used reports the bytes charged so far.
func (b *Budget) Used() int64 { return b.used }

func (b *Budget) max() int64 {
	if b.Max <= 0 {
		return DefaultMaxBytes
	}
	return b.Max
}

// fits checks that n more bytes for name stay within the budget.
func (b *Budget) fits(name string, n int64) error {
	if n < 0 || n > b.max()-b.used {
		setting := ""
		if b.Setting != "" {
			setting = " (" + b.Setting + ")"
		}
		return fmt.Errorf("%q: %d bytes on top of %d would exceed the limit of %d bytes%s: %w",
			name, n, b.used, b.max(), setting, ErrTooLarge)
	}
	return nil
}

// take charges n bytes for name.
func (b *Budget) take(name string, n int64) error {
	if err := b.fits(name, n); err != nil {
		return err
	}
	b.used += n
	return nil
}

// budgetWriter charges every byte written through it: whatever the entry
// checks miss (padding, the trailer), the archive cannot outgrow Max.
type budgetWriter struct {
	w io.Writer
	b *Budget
}

func (bw budgetWriter) Write(p []byte) (int, error) {
	if err := bw.b.take("archive", int64(len(p))); err != nil {
		return 0, err
	}
	return bw.w.Write(p)
}

// CopyFile appends the regular file at path to w, charged to b. The size
// is checked before anything is read, and no more than the size first
// seen is copied, so a file that grows meanwhile cannot overrun b.
func CopyFile(w io.Writer, path string, b *Budget) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return CopyOpen(w, f, path, b)
}

// CopyOpen is CopyFile on a file already open, read from its start
// whatever its offset; name is what errors call it.
func CopyOpen(w io.Writer, f *os.File, name string, b *Budget) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%q: not a regular file (%v)", name, fi.Mode().Type())
	}
	if err := b.take(name, fi.Size()); err != nil {
		return err
	}
	n, err := io.Copy(w, io.NewSectionReader(f, 0, fi.Size()))
	if err == nil && n < fi.Size() {
		err = io.ErrUnexpectedEOF // the file shrank meanwhile
	}
	if err != nil {
		return fmt.Errorf("copy %q: %d of %d bytes: %w", name, n, fi.Size(), err)
	}
	return nil
}

// ReadFile reads the regular file name of fsys, charged to b, checking
// its size before reading it into memory.
func ReadFile(fsys fs.FS, name string, b *Budget) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%q: not a regular file (%v)", name, fi.Mode().Type())
	}
	if err := b.take(name, fi.Size()); err != nil {
		return nil, err
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("read %q: %w", name, err)
	}
	return data, nil
}

// writeHeader writes hdr after checking that newc can hold it and that
// the whole entry (header, name, data, padding) fits the budget, so an
// entry is refused before any of its data is read.
func writeHeader(cw *cpio.Writer, b *Budget, hdr *cpio.Header) error {
	switch {
	case hdr.Size > newcMaxFileSize:
		return fmt.Errorf("%q: %d bytes, newc holds at most %d per file: %w", hdr.Name, hdr.Size, int64(newcMaxFileSize), ErrNewcLimit)
	case len(hdr.Name) > newcMaxName:
		return fmt.Errorf("%q: name of %d bytes, at most %d: %w", hdr.Name, len(hdr.Name), newcMaxName, ErrNewcLimit)
	case len(hdr.Linkname) > newcMaxName:
		return fmt.Errorf("%q: link target of %d bytes, at most %d: %w", hdr.Name, len(hdr.Linkname), newcMaxName, ErrNewcLimit)
	}
	if err := b.fits(hdr.Name, entrySize(hdr)); err != nil {
		return err
	}
	return cw.WriteHeader(hdr)
}

// entrySize is the archive bytes of an entry: header and name padded to
// 4, data padded to 4.
func entrySize(hdr *cpio.Header) int64 {
	return align4(newcHeaderSize+int64(len(hdr.Name))+1) + align4(hdr.Size)
}

func align4(n int64) int64 { return (n + 3) &^ 3 }
