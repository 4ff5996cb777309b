package guest

import "errors"

// ErrInvalidSpec is wrapped when a Spec cannot be turned into a Boot: an
// empty process.args, an argument the guest's command-line syntax cannot
// carry, or a malformed version.
var ErrInvalidSpec = errors.New("invalid guest spec")
