package hostcheck

import "errors"

var (
	// ErrCannotProbe is returned by a probe that could not run here (for
	// example without the privileges it needs); the item is a warning,
	// not a failure.
	ErrCannotProbe = errors.New("cannot probe")
	// ErrNotSupported is returned by the probes on platforms urunc does
	// not run on.
	ErrNotSupported = errors.New("not supported on this platform")
)
