//go:build !linux

package network

// Discover is not supported off Linux.
func Discover(name string) (*Interface, error) { return nil, ErrNotSupported }

// Setup is not supported off Linux.
func Setup(ifc *Interface, tap string, uid, gid int) (Wiring, error) {
	return Wiring{}, ErrNotSupported
}

// Teardown is not supported off Linux.
func Teardown(w Wiring) error { return ErrNotSupported }

// InNamespace is not supported off Linux.
func InNamespace(path string, f func() error) error { return ErrNotSupported }

// InProcessNamespaceOf is not supported off Linux.
func InProcessNamespaceOf(pid int, same func() error, f func() error) error { return ErrNotSupported }

// HasIngress is not supported off Linux.
func HasIngress(name string) (bool, error) { return false, ErrNotSupported }
