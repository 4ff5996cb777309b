package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// Bounds of the newc reader: the initrd is urunc's, but a test double must
// not hang or balloon on a bad one either.
const (
	newcHeaderLen   = 110
	maxNameLen      = 4096
	maxConfigLen    = 1 << 20
	maxEntries      = 1 << 20
	maxPaddingBytes = 1 << 20
)

// urunitConfig reads urunit's config (urunit.ConfigPath) from the newc
// initramfs at path, as the kernel would leave it unpacked: of several
// entries at that path, the last one wins. Concatenated archives (an
// image's initrd first, then urunc's, NUL padding between them) are
// followed; anything that is not a newc header (a compressed archive)
// ends the walk.
func urunitConfig(path string) (*urunit.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &offsetReader{r: bufio.NewReaderSize(f, 64<<10)}
	want := strings.TrimPrefix(urunit.ConfigPath, "/")
	var cfg *urunit.Config
	for n := 0; n < maxEntries; n++ {
		name, size, err := r.header()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if cfg != nil {
				break // a non-newc archive after urunc's: the kernel's business
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if strings.TrimPrefix(strings.TrimPrefix(name, "./"), "/") != want {
			if err := r.skip(size); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, name, err)
			}
			continue
		}
		if size > maxConfigLen {
			return nil, fmt.Errorf("%s: %s: %d bytes", path, name, size)
		}
		data := make([]byte, size)
		if err := r.full(data); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		var c urunit.Config
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		cfg = &c
		if err := r.align(); err != nil {
			return nil, err
		}
	}
	if cfg == nil {
		return nil, fmt.Errorf("%s: no %s", path, urunit.ConfigPath)
	}
	return cfg, nil
}

// offsetReader reads newc entries, keeping the archive offset that newc
// aligns headers and data to.
type offsetReader struct {
	r   *bufio.Reader
	off int64
}

func (o *offsetReader) full(p []byte) error {
	n, err := io.ReadFull(o.r, p)
	o.off += int64(n)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (o *offsetReader) discard(n int64) error {
	m, err := io.CopyN(io.Discard, o.r, n)
	o.off += m
	if err != nil && errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (o *offsetReader) align() error { return o.discard((4 - o.off%4) % 4) }

// skip passes over an entry's data and its padding.
func (o *offsetReader) skip(size int64) error {
	if err := o.discard(size); err != nil {
		return err
	}
	return o.align()
}

// header reads the next entry's header and name (a trailer's too), after
// any NUL padding between archives; io.EOF at the end of the file.
func (o *offsetReader) header() (string, int64, error) {
	for pad := 0; ; pad++ {
		b, err := o.r.Peek(1)
		if err != nil {
			return "", 0, io.EOF
		}
		if b[0] != 0 {
			break
		}
		if pad > maxPaddingBytes {
			return "", 0, errors.New("too much padding")
		}
		o.r.Discard(1)
		o.off++
	}
	var hdr [newcHeaderLen]byte
	if err := o.full(hdr[:]); err != nil {
		return "", 0, err
	}
	if m := string(hdr[:6]); m != "070701" && m != "070702" {
		return "", 0, fmt.Errorf("offset %d: not a newc header (magic %q)", o.off-newcHeaderLen, m)
	}
	field := func(i int) (int64, error) {
		return strconv.ParseInt(string(hdr[6+8*i:14+8*i]), 16, 64)
	}
	size, err := field(6)
	if err != nil {
		return "", 0, fmt.Errorf("offset %d: file size: %w", o.off, err)
	}
	nameLen, err := field(11)
	if err != nil || nameLen < 1 || nameLen > maxNameLen {
		return "", 0, fmt.Errorf("offset %d: name size %d: %v", o.off, nameLen, err)
	}
	name := make([]byte, nameLen)
	if err := o.full(name); err != nil {
		return "", 0, err
	}
	if err := o.align(); err != nil {
		return "", 0, err
	}
	return strings.TrimRight(string(name), "\x00"), size, nil
}
