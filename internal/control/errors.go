package control

import "errors"

// ErrNoGuest is returned when the stream ended before urunit answered:
// the VM stopped, or the supervisor has no session with the guest.
var ErrNoGuest = errors.New("the guest agent did not answer (the VM is not running)")

// ErrNotSocket is returned when the control socket's path holds something
// else than a socket, a symlink included.
var ErrNotSocket = errors.New("not a socket")
