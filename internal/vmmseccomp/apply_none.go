//go:build !(linux && cgo && seccomp)

package vmmseccomp

// Available reports whether Apply can install filters.
func Available() bool { return false }

// ApplyLoopGuard fails: this build has no libseccomp.
func ApplyLoopGuard() error { return ErrUnavailable }

// Apply fails unless m is Off: this build has no libseccomp.
func Apply(p Policy, m Mode) error {
	if m == Off {
		return nil
	}
	return ErrUnavailable
}
