package control

import "errors"

// ErrNotDelivered is returned when the VMM did not read the whole command
// before the timeout: the guest may not have the control port open yet.
var ErrNotDelivered = errors.New("command not taken by the guest")

// ErrNotSocket is returned when the control socket's path holds something
// else than a socket, a symlink included.
var ErrNotSocket = errors.New("not a socket")
