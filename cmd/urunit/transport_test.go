package main

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urunc-runtime/urunc/internal/agent"
)

func TestAgentParam(t *testing.T) {
	tests := []struct {
		cmdline, want string
	}{
		{"console=ttyS0 urunit.agent=virtio-serial", "virtio-serial"},
		{"urunit.agent=vsock quiet", "vsock"},
		{"urunit.agent=vsock urunit.agent=virtio-serial", "virtio-serial"}, // the last wins
		{`urunit.agent="vsock"`, "vsock"},
		{"console=ttyS0", ""},
		{"-- urunit.agent=vsock", ""}, // init's arguments, not parameters
	}
	for _, tc := range tests {
		if got := agentParam(tc.cmdline); got != tc.want {
			t.Errorf("agentParam(%q) = %q, want %q", tc.cmdline, got, tc.want)
		}
	}
}

// fakePorts makes a /sys/class/virtio-ports and a /dev holding the given
// ports (vportNpM → name).
func fakePorts(sys, dev string, ports map[string]string) error {
	for port, name := range ports {
		if err := os.MkdirAll(filepath.Join(sys, port), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(sys, port, "name"), []byte(name+"\n"), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dev, port), nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func TestFindVirtioPort(t *testing.T) {
	tests := []struct {
		name  string
		ports map[string]string
		want  string // "": errNoPort
	}{
		{"one", map[string]string{"vport0p1": agent.PortName}, "vport0p1"},
		{"among others", map[string]string{"vport0p0": "org.qemu.guest_agent.0", "vport1p1": agent.PortName, "vport1p2": "x"}, "vport1p1"},
		{"prefix only", map[string]string{"vport0p1": agent.PortName + "x"}, ""},
		{"none", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sys, dev := t.TempDir(), t.TempDir()
			if err := fakePorts(sys, dev, tc.ports); err != nil {
				t.Fatal(err)
			}
			got, err := findVirtioPort(sys)
			if tc.want == "" {
				if !errors.Is(err, errNoPort) {
					t.Errorf("findVirtioPort = %q, %v; want errNoPort", got, err)
				}
				return
			}
			if got != tc.want || err != nil {
				t.Errorf("findVirtioPort = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := findVirtioPort("/nonexistent"); !errors.Is(err, errNoPort) {
		t.Errorf("no sysfs class: %v, want errNoPort", err)
	}
}

// TestOpenVirtioPort: the port may appear after urunit starts looking
// (once the driver's class is there); a port that never does is an error
// once the deadline has passed, and a kernel without the driver at once.
func TestOpenVirtioPort(t *testing.T) {
	sys, dev := filepath.Join(t.TempDir(), "virtio-ports"), t.TempDir()
	if err := os.Mkdir(sys, 0o755); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = fakePorts(sys, dev, map[string]string{"vport2p1": agent.PortName})
	}()
	f, err := openVirtioPort(sys, dev, time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if f.Name() != filepath.Join(dev, "vport2p1") {
		t.Errorf("opened %s", f.Name())
	}
	start := time.Now()
	if _, err := openVirtioPort(t.TempDir(), dev, time.Now().Add(100*time.Millisecond)); !errors.Is(err, errNoPort) {
		t.Errorf("no port: %v, want errNoPort", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("gave up after %v", d)
	}
	start = time.Now()
	_, err = openVirtioPort(filepath.Join(t.TempDir(), "none"), dev, time.Now().Add(5*time.Second))
	if !errors.Is(err, errNoPort) || time.Since(start) > 100*time.Millisecond {
		t.Errorf("no virtio_console: %v after %v, want errNoPort at once", err, time.Since(start))
	}
}

// TestWaitHost: a FIFO without a writer reads as a virtio-serial port
// without a host does (EOF at once); waitHost waits for the host's bytes
// and hands them to the session first.
func TestWaitHost(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "port")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	go func() {
		time.Sleep(100 * time.Millisecond)
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		_, _ = w.Write([]byte("hello"))
		w.Close()
	}()
	conn, err := waitHost(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.LimitReader(conn, 5))
	if string(got) != "hello" || err != nil {
		t.Errorf("read %q, %v", got, err)
	}
	// Close ends the session's reads but leaves the port open.
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read after Close: %v, want a deadline error", err)
	}
	if err := f.SetDeadline(time.Time{}); err != nil {
		t.Errorf("port unusable after the session: %v", err)
	}
}

// TestServeConns: each connection is a session; a new one replaces the
// one before, whose streams end.
func TestServeConns(t *testing.T) {
	g := newTestGuest(t)
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "agent.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		served <- g.a.serveConns(func() (io.ReadWriteCloser, error) { return ln.Accept() })
	}()
	first := dialSession(t, ln.Addr().String())
	st1 := openStream(t, first, agent.Request{Version: agent.Version, Op: agent.OpWait})
	second := dialSession(t, ln.Addr().String())
	openStream(t, second, agent.Request{Version: agent.Version, Op: agent.OpSignal, Signal: 1})
	if _, _, err := agent.ReadFrame(st1, nil); err == nil {
		t.Error("the first session's wait stream lived on after a reconnect")
	}
	ln.Close()
	if err := <-served; err == nil {
		t.Error("serveConns returned no error when accept failed")
	}
}

func dialSession(t *testing.T, addr string) interface {
	Open() (net.Conn, error)
} {
	t.Helper()
	c, err := net.Dial("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := agent.Client(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

// openStream opens a stream, sends req and checks for a successful Reply.
func openStream(t *testing.T, sess interface{ Open() (net.Conn, error) }, req agent.Request) net.Conn {
	t.Helper()
	st, err := sess.Open()
	if err != nil {
		t.Fatal(err)
	}
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := agent.WriteJSON(st, agent.FrameRequest, req); err != nil {
		t.Fatal(err)
	}
	var r agent.Reply
	if err := agent.ReadJSON(st, agent.FrameReply, &r); err != nil || r.Error != "" {
		t.Fatalf("reply %+v, %v", r, err)
	}
	return st
}

// TestListenVsock: where the kernel has vsock, urunit can listen on a port
// for any CID; where it has none, listenVsock gives up at its deadline
// with an error naming vsock and the port, instead of waiting for ever.
func TestListenVsock(t *testing.T) {
	fd, sockErr := syscall.Socket(40 /* AF_VSOCK */, syscall.SOCK_STREAM, 0)
	if sockErr == nil {
		syscall.Close(fd)
	}
	start := time.Now()
	lfd, err := listenVsock(agent.VsockPort+40000, time.Now().Add(200*time.Millisecond))
	switch {
	case sockErr == nil && err != nil:
		t.Fatalf("vsock is here, but: %v", err)
	case sockErr == nil:
		syscall.Close(lfd)
	case err == nil:
		t.Fatal("listenVsock succeeded where no vsock socket can be made")
	case !strings.Contains(err.Error(), "vsock port") || time.Since(start) > 5*time.Second:
		t.Errorf("without vsock: %v after %v, want an error naming the vsock port at the deadline", err, time.Since(start))
	}
}
