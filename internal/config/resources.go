package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urunc-dev/urunc/internal/vmm"
)

const mib = 1 << 20

// GuestMemoryMiB sizes guest memory from the container's memory limit in
// bytes (linux.resources.memory.limit). Without a limit (≤ 0) it is
// qemu.default_memory_mib. With one, QEMU's own overhead
// (qemu.memory_overhead_mib) is subtracted so that QEMU and the guest fit in
// the container's cgroup; what is left must be at least qemu.min_memory_mib.
// The limit is rounded down to whole MiB.
func (c *Config) GuestMemoryMiB(limitBytes int64) (uint64, error) {
	q := c.QEMU
	if limitBytes <= 0 {
		return q.DefaultMemoryMiB, nil
	}
	limitMiB := uint64(limitBytes) / mib
	need := q.MemoryOverheadMiB + q.MinMemoryMiB
	if limitMiB < need {
		return 0, fmt.Errorf("%w: linux.resources.memory.limit %d bytes (%d MiB) is below the minimum %d MiB "+
			"(qemu.min_memory_mib %d for the guest + qemu.memory_overhead_mib %d for the vmm)",
			ErrMemoryTooSmall, limitBytes, limitMiB, need, q.MinMemoryMiB, q.MemoryOverheadMiB)
	}
	return limitMiB - q.MemoryOverheadMiB, nil
}

// VCPUs sizes the guest's vcpus: ceil(quota/period) when the container has a
// CPU quota, else the number of CPUs in its cpuset (e.g. "0-2,5" is 4), else
// qemu.default_vcpus. An unparsable cpuset is ignored like an absent one (the
// container's cgroup set-up rejects it anyway).
func (c *Config) VCPUs(quota int64, period uint64, cpus string) int {
	if quota > 0 && period > 0 {
		q := uint64(quota)
		return int((q + period - 1) / period)
	}
	if n, err := CountCPUs(cpus); err == nil && n > 0 {
		return n
	}
	return c.QEMU.DefaultVCPUs
}

// maxCPU bounds cpuset entries (the kernel's NR_CPUS limit is 8192).
const maxCPU = 8191

// CountCPUs counts the distinct CPUs in a cpuset list such as "0-2,5". An
// empty string has none.
func CountCPUs(cpus string) (int, error) {
	cpus = strings.TrimSpace(cpus)
	if cpus == "" {
		return 0, nil
	}
	set := map[uint64]bool{}
	for _, part := range strings.Split(cpus, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		first, err := strconv.ParseUint(lo, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("parse cpuset %q: %w", cpus, err)
		}
		last := first
		if isRange {
			if last, err = strconv.ParseUint(hi, 10, 32); err != nil {
				return 0, fmt.Errorf("parse cpuset %q: %w", cpus, err)
			}
		}
		if last < first || last > maxCPU {
			return 0, fmt.Errorf("parse cpuset %q: bad range %q", cpus, part)
		}
		for cpu := first; cpu <= last; cpu++ {
			set[cpu] = true
		}
	}
	return len(set), nil
}

// VMMBinary is the executable configured for VMM n: [qemu] binary for
// QEMU, [binaries] n for the others, else the VMM's default.
func (c *Config) VMMBinary(n vmm.Name) string {
	if n == vmm.QEMU {
		return c.QEMU.Binary
	}
	if b, ok := c.Binaries[string(n)]; ok {
		return b
	}
	d, err := vmm.Describe(n)
	if err != nil {
		return ""
	}
	return d.DefaultBinary
}

// BinaryKey names the setting that overrides VMM n's binary, for hints.
func (c *Config) BinaryKey(n vmm.Name) string {
	if n == vmm.QEMU {
		return "[qemu] binary"
	}
	return "[binaries] " + string(n)
}

// Accel is the configured accelerator, for the VMMs that can choose one.
func (c *Config) Accel() vmm.Accel { return c.QEMU.Accel }

// VMMSandbox reports whether VMM n's own syscall sandbox is to be on.
func (c *Config) VMMSandbox(n vmm.Name) bool {
	d, err := vmm.Describe(n)
	return err == nil && d.OwnSandbox && c.QEMU.Sandbox
}
