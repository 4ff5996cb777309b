package control

import "errors"

// ErrNotDelivered is returned when the VMM did not read the whole command
// before the timeout: the guest may not have the control port open yet.
var ErrNotDelivered = errors.New("command not taken by the guest")
