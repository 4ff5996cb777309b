package control

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// FuzzReadAck feeds readAck what a hostile guest may write on the control
// port: the answer is taken exactly when the guest's first line is
// urunit.ControlAck, any other answer is ErrNotDelivered, and no more than
// one control line is read.
func FuzzReadAck(f *testing.F) {
	for _, s := range []string{"ok\n", "ok", "ok\r\n", "", "\n", "ok\nok\n", "no\n", strings.Repeat("x", 1000), "OK\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &countingReader{r: strings.NewReader(string(data))}
		err := readAck(r)
		want := strings.HasPrefix(string(data), urunit.ControlAck)
		if (err == nil) != want {
			t.Fatalf("readAck(%q) = %v, want accepted=%v", data, err, want)
		}
		if err != nil && !errors.Is(err, ErrNotDelivered) {
			t.Fatalf("readAck(%q) = %v, want ErrNotDelivered", data, err)
		}
		if r.n > urunit.MaxControlLine {
			t.Fatalf("readAck read %d bytes, more than one control line (%d)", r.n, urunit.MaxControlLine)
		}
	})
}
