// Package control is the host's client of a Linux guest's agent
// (internal/agent): it connects to the supervisor's control socket
// (launcher.Plan.ControlSocket), which splices each connection to a new
// stream to urunit, and speaks the protocol on it.
package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/agent"
)

// Signal asks urunit to pass sig to the guest's application; timeout
// bounds the whole exchange. A nil error means urunit sent the signal.
func Signal(socketPath string, sig syscall.Signal, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	conn, err := Dial(socketPath, deadline)
	if err != nil {
		return fmt.Errorf("send signal %d: %w", int(sig), err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	if err := request(conn, agent.Request{Version: agent.Version, Op: agent.OpSignal, Signal: int(sig)}); err != nil {
		return fmt.Errorf("send signal %d: %w", int(sig), err)
	}
	return nil
}

// request sends q and reads urunit's answer; a Reply with an error is one.
func request(conn net.Conn, q agent.Request) error {
	if err := agent.WriteJSON(conn, agent.FrameRequest, q); err != nil {
		return err
	}
	var r agent.Reply
	if err := agent.ReadJSON(conn, agent.FrameReply, &r); err != nil {
		if gone(err) {
			return ErrNoGuest
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The supervisor holds a request until urunit serves the
			// channel: a guest that never does has no agent driver.
			return fmt.Errorf("%w: no answer in time (does the guest kernel have virtio_console or vsock?)", ErrNoGuest)
		}
		return err
	}
	if r.Error != "" {
		return &GuestError{Msg: r.Error, Status: r.Status}
	}
	return nil
}

// GuestError is urunit's refusal of a request. Status is the exit status
// a shell would give for it (126, 127) when a program could not start.
type GuestError struct {
	Msg    string
	Status int
}

func (e *GuestError) Error() string { return "guest: " + e.Msg }

// Dial connects to the UNIX socket at path without following a symlink
// there: the socket's folder is writable by the VMM's user, which could
// replace the socket by a link to any socket of the host. The socket inode
// itself is opened (O_PATH|O_NOFOLLOW), checked to be a socket, and
// connected to as /proc/self/fd/<fd>, which also lifts sun_path's length
// limit.
func Dial(path string, deadline time.Time) (*net.UnixConn, error) {
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
