//go:build !linux

package vmm

// HasHWVirt is false off Linux: there is no KVM to use.
func HasHWVirt() bool { return false }

// KVMUsable is false off Linux.
func KVMUsable(string) bool { return false }

// HostTSCkHz is unknown off Linux.
func HostTSCkHz() uint64 { return 0 }
