package lifecycle

import (
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"
)

// TestRecvFile: the pty master's hand-off as libcontainer's init makes it
// (one SCM_RIGHTS descriptor, its name as the payload), and the malformed
// messages recvFile refuses without leaking what it received.
func TestRecvFile(t *testing.T) {
	pipe := func(t *testing.T) (*os.File, *os.File) {
		t.Helper()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		return r, w
	}
	pair := func(t *testing.T) (*os.File, *os.File) {
		t.Helper()
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { parent.Close(); child.Close() })
		return parent, child
	}
	send := func(t *testing.T, sock *os.File, name string, fds ...int) {
		t.Helper()
		if err := unix.Sendmsg(int(sock.Fd()), []byte(name), unix.UnixRights(fds...), nil, 0); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("one descriptor", func(t *testing.T) {
		parent, child := pair(t)
		r, w := pipe(t)
		send(t, child, "/dev/pts/ptmx", int(w.Fd()))
		f, err := recvFile(parent)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Name() != "/dev/pts/ptmx" {
			t.Errorf("name %q, want the sent one", f.Name())
		}
		flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("received descriptor flags %#x (%v), want close-on-exec", flags, err)
		}
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatalf("write through the received descriptor: %v", err)
		}
		buf := make([]byte, 1)
		if _, err := r.Read(buf); err != nil || buf[0] != 'x' {
			t.Errorf("read %q, %v; want what was written through the received descriptor", buf, err)
		}
	})

	t.Run("two descriptors", func(t *testing.T) {
		parent, child := pair(t)
		_, w := pipe(t)
		send(t, child, "two", int(w.Fd()), int(w.Fd()))
		before := openFDs(t)
		if f, err := recvFile(parent); err == nil {
			f.Close()
			t.Fatal("two descriptors accepted, want an error")
		}
		if after := openFDs(t); after != before {
			t.Errorf("%d descriptors open after the refusal, %d before: the received ones leaked", after, before)
		}
	})

	t.Run("no descriptor", func(t *testing.T) {
		parent, child := pair(t)
		if _, err := child.Write([]byte("none")); err != nil {
			t.Fatal(err)
		}
		_, err := recvFile(parent)
		if err == nil || !strings.Contains(err.Error(), "recvmsg") {
			t.Fatalf("message without a descriptor: %v, want a recvmsg error", err)
		}
	})

	t.Run("closed peer", func(t *testing.T) {
		parent, child := pair(t)
		child.Close()
		if _, err := recvFile(parent); err == nil {
			t.Fatal("closed peer: no error")
		}
	})
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
