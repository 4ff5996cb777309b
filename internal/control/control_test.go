package control

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// fakeVMM listens on path and returns what each client wrote, one string per
// connection, on the channel.
func fakeVMM(t *testing.T, path string) <-chan string {
	t.Helper()
	ln := listen(t, path)
	got := make(chan string, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			data, _ := bufio.NewReader(conn).ReadString('\n')
			io.WriteString(conn, urunit.ControlAck)
			conn.Close()
			got <- string(data)
		}
	}()
	return got
}

// listen listens on path, binding through the directory's file descriptor
// as QEMU would have to when path is longer than sun_path.
func listen(t *testing.T, path string) net.Listener {
	t.Helper()
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	short := fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path))
	ln, err := net.Listen("unix", short)
	if err != nil {
		t.Fatalf("listen on %q: %v", path, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// longDir returns a directory under t.TempDir whose path is longer than
// sun_path can hold.
func longDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSignal(t *testing.T) {
	tests := []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"short path", func(t *testing.T) string { return t.TempDir() }},
		{"path longer than sun_path", longDir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(tc.dir(t), "control.sock")
			got := fakeVMM(t, path)
			for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGTERM} {
				if err := Signal(path, sig, 5*time.Second); err != nil {
					t.Fatalf("Signal: %v", err)
				}
				want, _ := urunit.SignalLine(sig)
				if line := <-got; line != want {
					t.Errorf("VMM read %q, want %q", line, want)
				}
			}
		})
	}
}

func TestSignalErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.sock")
	if err := Signal(missing, syscall.SIGTERM, time.Second); err == nil || !strings.Contains(err.Error(), `"`+missing+`"`) {
		t.Errorf("Signal(no listener) = %v, want an error naming the path", err)
	}
	longMissing := filepath.Join(longDir(t), "missing.sock")
	if err := Signal(longMissing, syscall.SIGTERM, time.Second); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Signal(long path, no listener) = %v, want ENOENT", err)
	}
	sock := filepath.Join(dir, "control.sock")
	fakeVMM(t, sock)
	if err := Signal(sock, 0, time.Second); !errors.Is(err, urunit.ErrBadCommand) {
		t.Errorf("Signal(0) = %v, want ErrBadCommand", err)
	}
}

// TestSignalNotRead checks that Signal reports a command the VMM never read
// instead of returning as if it had been delivered.
func TestSignalNotRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	listen(t, path) // never accepts, never reads
	start := time.Now()
	err := Signal(path, syscall.SIGTERM, 100*time.Millisecond)
	if !errors.Is(err, ErrNotDelivered) {
		t.Errorf("Signal = %v, want ErrNotDelivered", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Signal took %v with a 100ms timeout", d)
	}
}

// The VMM can write in the socket's folder: a symlink put there in place of
// the socket must not lead urunc to another socket of the host.
func TestSignalRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "host.sock")
	got := fakeVMM(t, host)
	link := filepath.Join(dir, "control.sock")
	if err := os.Symlink(host, link); err != nil {
		t.Fatal(err)
	}
	err := Signal(link, syscall.SIGTERM, time.Second)
	if !errors.Is(err, ErrNotSocket) {
		t.Errorf("Signal through a symlink: %v, want %v", err, ErrNotSocket)
	}
	select {
	case line := <-got:
		t.Errorf("the host socket behind the symlink got %q", line)
	case <-time.After(200 * time.Millisecond):
	}
	if err := Signal(filepath.Join(dir, "regular"), syscall.SIGTERM, time.Second); err == nil {
		t.Error("Signal to a missing path succeeded")
	}
}

// A guest that answers without end is read no further than an answer.
func TestSignalBoundedAnswer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "control.sock")
	ln := listen(t, path)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		junk := []byte(strings.Repeat("x", 1<<16))
		for {
			if _, err := conn.Write(junk); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	err := Signal(path, syscall.SIGTERM, 2*time.Second)
	if !errors.Is(err, ErrNotDelivered) {
		t.Errorf("endless answer: %v, want %v", err, ErrNotDelivered)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v: the answer was read to the deadline", d)
	}
}
