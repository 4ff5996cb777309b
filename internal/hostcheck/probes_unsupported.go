//go:build !linux

package hostcheck

// HostProbes returns probes that report every item as unavailable: urunc
// runs on Linux only.
func HostProbes() Host {
	return Host{
		Executable:    func(string) error { return ErrNotSupported },
		Version:       func(string) (string, error) { return "", ErrNotSupported },
		OpenRW:        func(string) error { return ErrNotSupported },
		HWVirt:        func() bool { return false },
		KVMUsable:     func(string) bool { return false },
		TC:            func() error { return ErrNotSupported },
		Static:        func(string) (bool, error) { return false, ErrNotSupported },
		OwnSandbox:    func(string) error { return ErrNotSupported },
		KernelSeccomp: func() bool { return false },
		SeccompBuilt:  func() bool { return false },
	}
}
