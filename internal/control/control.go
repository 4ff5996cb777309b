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
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urunc-dev/urunc/internal/urunit"
)

// maxSocketPath is the longest path connect(2) takes directly (sizeof
// sun_path less the terminating NUL).
const maxSocketPath = 107

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

// dial connects to the UNIX socket at path. A path too long for sun_path is
// reached through its directory, opened with O_PATH, as
// /proc/self/fd/<fd>/<name>.
func dial(path string, deadline time.Time) (*net.UnixConn, error) {
	d := net.Dialer{Deadline: deadline}
	if len(path) <= maxSocketPath {
		conn, err := d.Dial("unix", path)
		if err != nil {
			return nil, err
		}
		return conn.(*net.UnixConn), nil
	}
	dirfd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Dir(path), Err: err}
	}
	defer unix.Close(dirfd)
	conn, err := d.Dial("unix", "/proc/self/fd/"+strconv.Itoa(dirfd)+"/"+filepath.Base(path))
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
	line, err := bufio.NewReader(conn).ReadString('\n')
	if line == urunit.ControlAck {
		return nil
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, io.EOF) {
		return err
	}
	return fmt.Errorf("%w: no answer from the guest", ErrNotDelivered)
}
