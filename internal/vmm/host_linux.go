//go:build linux

package vmm

import (
	"os"
)

// Host probe paths.
const (
	cpuInfoPath = "/proc/cpuinfo"
	// tscFreqPath is exposed by some kernels (not mainline); it is the exact
	// TSC frequency the kernel calibrated, so it wins over "cpu MHz".
	tscFreqPath = "/sys/devices/system/cpu/cpu0/tsc_freq_khz"
)

// HasHWVirt reports whether the CPU advertises hardware virtualisation
// (vmx or svm in /proc/cpuinfo).
func HasHWVirt() bool {
	f, err := os.Open(cpuInfoPath)
	if err != nil {
		return false
	}
	defer f.Close()
	return cpuInfoHasHWVirt(f)
}

// KVMUsable reports whether the KVM device at path (KVMDevice unless
// configured otherwise) can be opened read-write by this process.
func KVMUsable(path string) bool {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// HostTSCkHz returns the host TSC frequency in kHz: the kernel's tsc_freq_khz
// when exposed, else the first cpu's "cpu MHz" from /proc/cpuinfo (the TSC
// rate on constant_tsc hosts and in VMs), else 0.
func HostTSCkHz() uint64 {
	if b, err := os.ReadFile(tscFreqPath); err == nil {
		if khz := parseKHz(string(b)); khz > 0 {
			return khz
		}
	}
	f, err := os.Open(cpuInfoPath)
	if err != nil {
		return 0
	}
	defer f.Close()
	return cpuInfoMHzkHz(f)
}
