package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urunc-runtime/urunc/internal/vmm"
	"github.com/urunc-runtime/urunc/internal/vmmseccomp"
)

const mib = 1 << 20

// GuestMemoryMiB sizes the memory of a guest of VMM n from the container's
// memory limit in bytes (linux.resources.memory.limit). Without a limit (≤ 0)
// it is [vm] default_memory_mib. With one, the VMM's own overhead ([<n>]
// memory_overhead_mib) is subtracted so that VMM and guest fit in the
// container's cgroup; what is left must be at least [vm] min_memory_mib. The
// limit is rounded down to whole MiB.
func (c *Config) GuestMemoryMiB(n vmm.Name, limitBytes int64) (uint64, error) {
	v := c.VM
	if limitBytes <= 0 {
		return v.DefaultMemoryMiB, nil
	}
	overhead := c.MemoryOverheadMiB(n)
	limitMiB := uint64(limitBytes) / mib
	need := overhead + v.MinMemoryMiB
	if limitMiB < need {
		return 0, fmt.Errorf("%w: linux.resources.memory.limit %d bytes (%d MiB) is below the minimum %d MiB "+
			"(%s %d for the guest + %s %d for %s)",
			ErrMemoryTooSmall, limitBytes, limitMiB, need, bracket(c.key("vm.min_memory_mib")), v.MinMemoryMiB,
			c.VMMKey(n, "memory_overhead_mib"), overhead, n)
	}
	return limitMiB - overhead, nil
}

// MemoryOverheadMiB is what VMM n takes of a container's memory limit
// besides guest RAM ([<n>] memory_overhead_mib); 0 for an unknown VMM,
// which nothing can plan for anyway.
func (c *Config) MemoryOverheadMiB(n vmm.Name) uint64 {
	if s := c.VMMs[n]; s != nil {
		return s.MemoryOverheadMiB
	}
	return 0
}

// VCPUs sizes the guest's vcpus: ceil(quota/period) when the container has a
// CPU quota, else the number of CPUs in its cpuset (e.g. "0-2,5" is 4), else
// [vm] default_vcpus. An unparsable cpuset is ignored like an absent one (the
// container's cgroup set-up rejects it anyway).
func (c *Config) VCPUs(quota int64, period uint64, cpus string) int {
	if quota > 0 && period > 0 {
		q := uint64(quota)
		return int((q + period - 1) / period)
	}
	if n, err := CountCPUs(cpus); err == nil && n > 0 {
		return n
	}
	return c.VM.DefaultVCPUs
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

// VMMBinary is the executable configured for VMM n ([<n>] binary, which
// defaults to the VMM's Descriptor.DefaultBinary); "" for an unknown VMM.
func (c *Config) VMMBinary(n vmm.Name) string {
	if s := c.VMMs[n]; s != nil {
		return s.Binary
	}
	return ""
}

// BinaryKey names the setting that overrides VMM n's binary, for hints.
func (c *Config) BinaryKey(n vmm.Name) string { return c.VMMKey(n, "binary") }

// VMMKey names key of VMM n's section as the file writes it, for hints:
// "[<n>] <key>".
func (c *Config) VMMKey(n vmm.Name, key string) string { return bracket(string(n) + "." + key) }

// Accel is the configured accelerator ([vm] accel), for the VMMs that can
// choose one.
func (c *Config) Accel() vmm.Accel { return c.VM.Accel }

// VMMSandbox reports whether VMM n's own syscall sandbox is to be on.
func (c *Config) VMMSandbox(n vmm.Name) bool {
	d, err := vmm.Describe(n)
	s := c.VMMs[n]
	return err == nil && d.OwnSandbox && s != nil && s.Sandbox
}

// VMMSeccomp is the mode of the seccomp filter urunc installs for VMM n
// ([<n>] seccomp); "" for a VMM urunc installs none for (vmmseccomp.For).
func (c *Config) VMMSeccomp(n vmm.Name) vmmseccomp.Mode {
	if s := c.VMMs[n]; s != nil && confined(n) {
		return s.Seccomp
	}
	return ""
}
