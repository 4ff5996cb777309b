package control

import (
	"errors"
	"io"
	"syscall"
)

// ErrNoGuest is returned when the stream ended before urunit answered:
// the VM stopped, or the supervisor has no session with the guest.
var ErrNoGuest = errors.New("the guest agent did not answer (the VM is not running)")

// ErrNotSocket is returned when the control socket's path holds something
// else than a socket, a symlink included.
var ErrNotSocket = errors.New("not a socket")

// gone tells whether err says the supervisor's end went away: the stream
// ended, or was reset because the supervisor closed it with our bytes
// still unread (it does when the VM stops under a running exec).
func gone(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
