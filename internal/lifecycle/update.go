package lifecycle

import (
	"fmt"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Update changes the cgroup limits of a created or running container, as
// `runc update` does; containerd calls it for docker update and for
// Kubernetes' UpdateContainerResources (in-place pod resize). Fields left
// nil keep their value.
//
// For a unikernel the cgroup holds the VMM: CPU limits throttle the whole
// VM at once, but the guest's memory was fixed at create, so a memory
// limit below what the VM needs (guest memory plus the VMM's
// memory_overhead_mib) is refused rather than left for the OOM killer.
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if r.isUnikernel(id) {
		if err := r.checkVMMemory(id, res); err != nil {
			return fmt.Errorf("update container %q: %w", id, err)
		}
	}
	cfg := c.Config()
	ignored := applyResources(cfg.Cgroups.Resources, res)
	for _, f := range ignored {
		r.Log.Warnf("update container %q: %s is not supported by urunc update and is left as it was", id, f)
	}
	cfg.Cgroups.SkipDevices = true // devices are not resources to update
	if err := c.Set(cfg); err != nil {
		return fmt.Errorf("update container %q: %w", id, err)
	}
	return nil
}

// checkVMMemory refuses a memory limit the VM does not fit in.
func (r *Runtime) checkVMMemory(id string, res *specs.LinuxResources) error {
	if res.Memory == nil || res.Memory.Limit == nil || *res.Memory.Limit <= 0 {
		return nil
	}
	plan, err := r.readPlan(id)
	if err != nil {
		return err
	}
	const mib = 1 << 20
	overhead := r.Config.MemoryOverheadMiB(plan.VMM)
	need := (plan.Spec.MemoryMiB + overhead) * mib
	if uint64(*res.Memory.Limit) < need {
		return fmt.Errorf("memory.limit %d bytes is below what the VM needs: %d MiB of guest memory, fixed at create, "+
			"plus %d MiB for the VMM (%s); set at least %d bytes, or recreate the container",
			*res.Memory.Limit, plan.Spec.MemoryMiB, overhead, r.Config.VMMKey(plan.VMM, "memory_overhead_mib"), need)
	}
	return nil
}

// applyResources copies the set fields of res into to, and names the ones
// it cannot apply. The mapping follows the runtime spec's meaning of each
// field; an unset (nil or empty) field leaves the current value.
func applyResources(to *cgroups.Resources, res *specs.LinuxResources) (ignored []string) {
	if res == nil {
		return nil
	}
	ignored = append(ignored, applyMemory(to, res.Memory)...)
	applyCPU(to, res.CPU)
	if p := res.Pids; p != nil && p.Limit != nil {
		to.PidsLimit = p.Limit
	}
	ignored = append(ignored, applyBlockIO(to, res.BlockIO)...)
	for _, f := range []struct {
		name string
		set  bool
	}{{"hugepageLimits", len(res.HugepageLimits) > 0}, {"rdma", len(res.Rdma) > 0}, {"network", res.Network != nil}} {
		if f.set {
			ignored = append(ignored, f.name)
		}
	}
	if len(res.Unified) > 0 {
		if to.Unified == nil {
			to.Unified = map[string]string{}
		}
		for k, v := range res.Unified {
			to.Unified[k] = v
		}
	}
	if len(res.Devices) > 0 {
		ignored = append(ignored, "devices")
	}
	return ignored
}

func applyMemory(to *cgroups.Resources, m *specs.LinuxMemory) (ignored []string) {
	if m == nil {
		return nil
	}
	setInt(&to.Memory, m.Limit)
	setInt(&to.MemoryReservation, m.Reservation)
	setInt(&to.MemorySwap, m.Swap)
	if m.Limit != nil && *m.Limit == -1 && m.Swap == nil {
		to.MemorySwap = -1 // no limit: swap cannot stay below it
	}
	if m.CheckBeforeUpdate != nil {
		to.MemoryCheckBeforeUpdate = *m.CheckBeforeUpdate
	}
	//lint:ignore SA1019 deprecated fields, still sent by old clients: named as ignored, never applied
	if m.Kernel != nil || m.KernelTCP != nil {
		ignored = append(ignored, "memory.kernel")
	}
	if m.Swappiness != nil {
		ignored = append(ignored, "memory.swappiness")
	}
	return ignored
}

func applyCPU(to *cgroups.Resources, cpu *specs.LinuxCPU) {
	if cpu == nil {
		return
	}
	if cpu.Shares != nil {
		to.CpuShares = *cpu.Shares
		to.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(*cpu.Shares)
	}
	setInt(&to.CpuQuota, cpu.Quota)
	setUint(&to.CpuPeriod, cpu.Period)
	setInt(&to.CpuRtRuntime, cpu.RealtimeRuntime)
	setUint(&to.CpuRtPeriod, cpu.RealtimePeriod)
	if cpu.Burst != nil {
		to.CpuBurst = cpu.Burst
	}
	if cpu.Idle != nil {
		to.CPUIdle = cpu.Idle
	}
	if cpu.Cpus != "" {
		to.CpusetCpus = cpu.Cpus
	}
	if cpu.Mems != "" {
		to.CpusetMems = cpu.Mems
	}
}

func applyBlockIO(to *cgroups.Resources, b *specs.LinuxBlockIO) (ignored []string) {
	if b == nil {
		return nil
	}
	if b.Weight != nil {
		to.BlkioWeight = *b.Weight
	}
	if b.LeafWeight != nil || len(b.WeightDevice)+len(b.ThrottleReadBpsDevice)+len(b.ThrottleWriteBpsDevice)+
		len(b.ThrottleReadIOPSDevice)+len(b.ThrottleWriteIOPSDevice) > 0 {
		ignored = append(ignored, "blockIO per-device limits")
	}
	return ignored
}

func setInt(to *int64, v *int64) {
	if v != nil {
		*to = *v
	}
}

func setUint(to *uint64, v *uint64) {
	if v != nil {
		*to = *v
	}
}
