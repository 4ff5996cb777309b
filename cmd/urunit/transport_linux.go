package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/agent"
	"github.com/urunc-runtime/urunc/internal/urunit"
)

// Transports of the agent channel, as urunit.AgentParam names them.
const (
	transportVirtioSerial = "virtio-serial"
	transportVsock        = "vsock"
)

const (
	// openWait bounds how long urunit looks for the transport: the port's
	// device node, or vsock, may appear a little after their driver is
	// loaded. The application's exit waits for the look to end, so it is
	// short, and skipped when the kernel has no virtio_console at all.
	openWait = time.Second

	// hostPoll is the longest pause between looks for the host on the
	// virtio-serial port while no host is connected.
	hostPoll = 250 * time.Millisecond
)

// Where the virtio-serial ports are found.
const (
	virtioPortsDir = "/sys/class/virtio-ports"
	devDir         = "/dev"
)

var errNoPort = errors.New("no virtio-serial port named " + agent.PortName)

// agentParam returns the agent transport the kernel command line names,
// "" for none.
func agentParam(cmdline string) string {
	v, _ := urunit.ParseCmdline(cmdline).Last(urunit.AgentParam)
	return v
}

// startAgent serves the agent channel the kernel command line asks for,
// in the background: the application starts meanwhile.
func startAgent(r *reaper, app *appSignals) *agentServer {
	a := newAgentServer(r, app, os.Stderr)
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		fail("read kernel command line (no agent channel)", err, 0)
		return a
	}
	kind := agentParam(string(cmdline))
	switch kind {
	case "":
		return a
	case transportVirtioSerial, transportVsock:
	default:
		fail("agent channel", fmt.Errorf("unknown transport %s=%q", urunit.AgentParam, kind), 0)
		return a
	}
	a.enabled = true
	go func() {
		defer recoverGoroutine("agent transport")
		var err error
		if kind == transportVsock {
			err = a.serveVsock(agent.VsockPort)
		} else {
			err = a.serveVirtioPort(virtioPortsDir, devDir)
		}
		if err != nil {
			fail("agent channel", err, 0)
		}
	}()
	return a
}

// opened records whether the transport could be opened.
func (a *agentServer) opened(err error) {
	if err != nil {
		close(a.down)
	} else {
		close(a.up)
	}
}

// serveVirtioPort serves sessions on the virtio-serial port agent.PortName,
// one after the other, as the host connects and reconnects.
func (a *agentServer) serveVirtioPort(sysDir, devDir string) error {
	f, err := openVirtioPort(sysDir, devDir, time.Now().Add(openWait))
	a.opened(err)
	if err != nil {
		return err
	}
	return a.serveOnPort(f, nil)
}

// serveOnPort serves sessions on the open port f, the first on conn when
// it is not nil (the connection the orders came on).
func (a *agentServer) serveOnPort(f *os.File, conn io.ReadWriteCloser) error {
	for {
		if conn == nil {
			var err error
			if conn, err = waitHost(f); err != nil {
				return fmt.Errorf("read %s: %w", f.Name(), err)
			}
		}
		sess, err := agent.Server(conn)
		if err != nil {
			return err
		}
		a.serveSession(sess)
		_ = sess.Close()
		_ = f.SetDeadline(time.Time{}) // undo conn.Close, for the next session
		conn = nil
	}
}

// openVirtioPort opens the device of the virtio-serial port named
// agent.PortName: the vportNpM under sysDir whose name file says so, as
// devDir/vportNpM (devtmpfs has no /dev/virtio-ports links). It retries
// until deadline for the port and its node to appear.
func openVirtioPort(sysDir, devDir string, deadline time.Time) (*os.File, error) {
	if _, err := os.Stat(sysDir); errors.Is(err, os.ErrNotExist) {
		// The driver registers the class as it loads (urunit loaded the
		// modules before): without it, no port will ever appear.
		return nil, fmt.Errorf("%w: the guest kernel has no virtio_console driver (built in, or as a module in the image)", errNoPort)
	}
	for {
		dev, err := findVirtioPort(sysDir)
		if err == nil {
			var f *os.File
			f, err = os.OpenFile(filepath.Join(devDir, dev), os.O_RDWR|unix.O_NOCTTY, 0)
			if err == nil {
				return f, nil
			}
		}
		if !time.Now().Before(deadline) {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// findVirtioPort returns the name (vportNpM) of the port called
// agent.PortName under sysDir.
func findVirtioPort(sysDir string) (string, error) {
	entries, err := os.ReadDir(sysDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	for _, e := range entries {
		name, err := os.ReadFile(filepath.Join(sysDir, e.Name(), "name"))
		if err == nil && string(bytes.TrimSuffix(name, []byte("\n"))) == agent.PortName {
			return e.Name(), nil
		}
	}
	return "", errNoPort
}

// waitHost returns a connection on the port once the host has written to
// it. While no host is connected, a read of a virtio-serial port returns
// at once with nothing (EOF) and poll says the same, so urunit looks again
// now and then; the bytes that end the wait begin the connection.
//
// The port carries no sign of where one host's bytes end and the next
// one's begin: a host that reconnects before the guest has read the
// disconnect (its EOF) has its first bytes read by the old session, and
// waits for ever. The supervisor connects once per VM; a host that
// reconnects must leave the guest a moment (the boot test waits 1 s).
func waitHost(f *os.File) (io.ReadWriteCloser, error) {
	buf := make([]byte, 4096)
	pause := 5 * time.Millisecond
	for {
		n, err := f.Read(buf)
		if n > 0 {
			return &portConn{f: f, pre: buf[:n]}, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		time.Sleep(pause)
		pause = min(2*pause, hostPoll)
	}
}

// portConn is one session's connection over the port: the bytes waitHost
// read first, then the port. Its Close ends the session's reads and writes
// without closing the port, which serves the next session.
type portConn struct {
	f   *os.File
	pre []byte
}

func (c *portConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.f.Read(p)
}

func (c *portConn) Write(p []byte) (int, error) { return c.f.Write(p) }

func (c *portConn) Close() error { return c.f.SetDeadline(time.Unix(1, 0)) }

// serveVsock listens on the guest's vsock port and serves each connection
// as a session. The host may reconnect: a new connection replaces the
// session before it, which the host has left.
func (a *agentServer) serveVsock(port uint32) error {
	lfd, err := listenVsock(port, time.Now().Add(openWait))
	a.opened(err)
	if err != nil {
		return err
	}
	return a.serveConns(func() (io.ReadWriteCloser, error) { return acceptVsock(lfd) })
}

// serveConns serves the connections accept returns, one session at a time.
func (a *agentServer) serveConns(accept func() (io.ReadWriteCloser, error)) error {
	var current interface{ Close() error }
	for {
		conn, err := accept()
		if err != nil {
			return err
		}
		if current != nil {
			_ = current.Close()
		}
		sess, err := agent.Server(conn)
		if err != nil {
			_ = conn.Close()
			continue
		}
		current = sess
		go func() {
			defer recoverGoroutine("agent session")
			a.serveSession(sess)
		}()
	}
}

// listenVsock listens on port for any CID, retrying until deadline while
// vsock is not ready.
func listenVsock(port uint32, deadline time.Time) (int, error) {
	for {
		fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: port})
			if err == nil {
				err = unix.Listen(fd, 1)
			}
			if err == nil {
				return fd, nil
			}
			_ = unix.Close(fd)
		}
		if !time.Now().Before(deadline) {
			return -1, fmt.Errorf("listen on vsock port %d: %w", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// acceptVsock waits for the next connection on lfd. Errors that concern
// one connection only are skipped.
func acceptVsock(lfd int) (io.ReadWriteCloser, error) {
	for {
		fd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
		switch {
		case err == nil:
			// Non-blocking: the os.File goes through the poller, so its
			// Close ends a session's pending reads and writes.
			return os.NewFile(uintptr(fd), "vsock"), nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED), errors.Is(err, unix.EPROTO):
			continue
		case errors.Is(err, unix.EMFILE), errors.Is(err, unix.ENFILE), errors.Is(err, unix.ENOMEM), errors.Is(err, unix.ENOBUFS):
			time.Sleep(100 * time.Millisecond) // out of something for now
			continue
		default:
			return nil, fmt.Errorf("accept on vsock: %w", err)
		}
	}
}
