package pack

import "errors"

// ErrInvalid is the class of every error caused by the caller's inputs
// (flags, declarative file, rootfs contents), as opposed to I/O failures.
var ErrInvalid = errors.New("invalid input")
