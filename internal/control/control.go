// Package control sends commands to urunit inside a running Linux guest over
// the VM's control socket (vmm.Spec.ControlSocket), using the protocol
// documented in internal/urunit.
package control

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// Signal asks urunit to pass sig to the guest's application. It connects to
// the control socket at socketPath, writes the command, waits until the VMM
// has read it and closes; timeout bounds the whole exchange. A nil error
// means the command reached the guest's serial port, not that the
// application has handled the signal.
func Signal(socketPath string, sig syscall.Signal, timeout time.Duration) error {
	if err := signal(socketPath, sig, time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("send signal %d to %q: %w", int(sig), socketPath, err)
	}
	return nil
}

func signal(socketPath string, sig syscall.Signal, deadline time.Time) error {
	line, err := urunit.SignalLine(sig)
	if err != nil {
		return err
	}
	conn, err := dial(socketPath, deadline)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	if _, err := conn.Write([]byte(line)); err != nil {
		return err
	}
	return waitAck(conn, deadline)
}

// dial connects to the UNIX socket at path without following a symlink
// there: the socket's folder is writable by the VMM, which could replace
// the socket by a link to any socket of the host. The socket inode itself
// is opened (O_PATH|O_NOFOLLOW), checked to be a socket, and connected to
// as /proc/self/fd/<fd>, which also lifts sun_path's length limit.
func dial(path string, deadline time.Time) (*net.UnixConn, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return nil, fmt.Errorf("%s: %w", path, ErrNotSocket)
	}
	d := net.Dialer{Deadline: deadline}
	conn, err := d.Dial("unix", "/proc/self/fd/"+strconv.Itoa(fd))
	if err != nil {
		return nil, err
	}
	return conn.(*net.UnixConn), nil
}

// waitAck waits for urunit's answer to the command.
func waitAck(conn *net.UnixConn, deadline time.Time) error {
	if err := conn.SetReadDeadline(deadline); err != nil {
		return err
	}
	return readAck(conn)
}

// readAck reads the guest's answer from r. The guest is not trusted: at
// most one control line is read, so that a guest that never sends a line
// end cannot make the host buffer without bound until the deadline.
func readAck(r io.Reader) error {
	line, err := bufio.NewReader(io.LimitReader(r, urunit.MaxControlLine)).ReadString('\n')
	if line == urunit.ControlAck {
		return nil
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, io.EOF) {
		return err
	}
	return fmt.Errorf("%w: no answer from the guest", ErrNotDelivered)
}
