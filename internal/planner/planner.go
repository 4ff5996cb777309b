// Package planner decides how a unikernel container's VM boots. Plan is a
// pure function of the image's metadata, the container's spec, the host
// configuration and the host facts gathered once before it (HostFacts):
// it reads nothing and creates nothing, so every choice it makes is
// covered by table and golden tests.
package planner

import (
	"fmt"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/config"
	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/launcher"
	"github.com/urunc-runtime/urunc/internal/unikernel"
	"github.com/urunc-runtime/urunc/internal/vmm"
	"github.com/urunc-runtime/urunc/internal/vmmseccomp"
)

// Paths inside the monitor root, as the launcher and the VMM see them.
const (
	MonitorDir    = "/urunc"
	MonitorSelf   = MonitorDir + "/urunc"
	MonitorShare  = MonitorDir + "/share" // read-only view of the VM folder's share/
	MonitorKernel = MonitorDir + "/kernel"
	MonitorInitrd = MonitorDir + "/initrd"
	MonitorBlock  = MonitorDir + "/block"
	MonitorRootfs = MonitorDir + "/rootfs" // the image rootfs, when shared with the guest
	MonitorTrace  = MonitorDir + "/trace"
	// MonitorTemplate is the VM template cache entry of the guest, when it
	// starts warm (launcher.Template).
	MonitorTemplate = MonitorDir + "/template"
	RunDir          = "run" // in the VM folder: sockets the VMM creates
	MonitorRun      = MonitorDir + "/" + RunDir
	ControlSocket   = "control.sock" // the supervisor's, for host tools (internal/control)
	AgentSocket     = "agent.sock"   // the VMM's end of the agent channel
	APISocket       = "api.sock"
)

// Input is what Plan decides from.
type Input struct {
	Meta   *unikernel.Config
	Spec   *specs.Spec
	Config *config.Config
	Host   HostFacts
}

// Result is Plan's decision.
type Result struct {
	Plan launcher.Plan
	// KVMDevice is the host KVM device the VMM gets as /dev/kvm, "" for
	// a VMM that runs without KVM.
	KVMDevice string
	// BlockRoot is the rootfs's block device when the guest boots from
	// it, nil otherwise.
	BlockRoot *BlockRoot
	// RootfsInitrd: the initrd is built from the container's rootfs with
	// the guest's init (guest.Initer); otherwise the image's initrd, if
	// any, is bound as it is.
	RootfsInitrd bool
	// AccelReason says why the accelerator was chosen, for the debug log.
	AccelReason string
	// Warnings are worth a line in the log; nothing failed.
	Warnings []string
}

// Plan validates the unikernel request and decides how the VM boots.
func Plan(in Input) (*Result, error) {
	g, v, err := pick(in.Meta)
	if err != nil {
		return nil, err
	}
	p := &planning{Input: in, g: g, v: v, desc: v.Describe(), needs: guest.NeedsOf(g)}
	if err := checkDevices(in.Spec, g.Type(), p.needs, v.Name(), p.desc); err != nil {
		return nil, err
	}
	if in.Host.NetnsErr != nil {
		return nil, in.Host.NetnsErr
	}
	res := &Result{RootfsInitrd: p.needs.RootfsInitrd}
	vs, err := p.machine(res)
	if err != nil {
		return nil, err
	}
	gs, err := p.guestSpec(&vs, res)
	if err != nil {
		return nil, err
	}
	if res.Plan, err = p.launchPlan(vs, gs); err != nil {
		return nil, err
	}
	if err := planBlockRoot(in.Meta, in.Host, p.needs, p.desc, res); err != nil {
		return nil, err
	}
	return res, nil
}

// planning is one Plan call: its input and the guest and VMM it picked,
// with what they declare.
type planning struct {
	Input
	g     guest.Guest
	v     vmm.VMM
	desc  vmm.Descriptor
	needs guest.Needs
}

// pick finds the image's guest type and VMM, and checks that the VMM runs
// that guest.
func pick(meta *unikernel.Config) (guest.Guest, vmm.VMM, error) {
	g, err := guest.Get(guest.Type(meta.Type))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", unikernel.KeyType, err)
	}
	v, err := vmm.Get(vmm.Name(meta.Hypervisor))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", unikernel.KeyHypervisor, err)
	}
	if err := vmm.ValidGuest(v.Name(), meta.Type); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", unikernel.KeyHypervisor, err)
	}
	return g, v, nil
}

// machine decides the VM the VMM runs: its binary, kernel and initrd,
// accelerator, size, sockets and the image's block file.
func (p *planning) machine(res *Result) (vmm.Spec, error) {
	meta, cfg, host, n := p.Meta, p.Config, p.Host, p.v.Name()
	bin, err := binary(cfg, host, n, p.desc)
	if err != nil {
		return vmm.Spec{}, err
	}
	k := host.Kernel
	if k.FormatErr != nil {
		return vmm.Spec{}, fmt.Errorf("%s %q: %w", unikernel.KeyBinary, meta.Binary, k.FormatErr)
	}
	accel, reason, err := vmm.AccelFor(p.v, cfg.Accel(), host.HWVirt, len(p.desc.Accels) > 0 && host.KVM)
	if err != nil {
		return vmm.Spec{}, fmt.Errorf("accelerator: kvm device %s: %w ([host] kvm_device in %s)", cfg.Host.KVMDevice, err, cfg.Path)
	}
	res.AccelReason = reason
	mem, err := cfg.GuestMemoryMiB(n, memoryLimit(p.Spec))
	if err != nil {
		return vmm.Spec{}, err
	}
	vs := vmm.Spec{Binary: bin, Kernel: MonitorKernel, KernelFormat: k.Format, MemoryMiB: mem,
		VCPUs: vcpus(cfg, p.Spec), Accel: accel, Sandbox: cfg.VMMSandbox(n), RunDir: MonitorRun}
	if meta.InitrdPath != "" || p.needs.RootfsInitrd {
		vs.Initrd = MonitorInitrd
	}
	if accel == vmm.AccelKVM {
		res.KVMDevice = cfg.Host.KVMDevice
	}
	if cfg.API.Socket {
		switch p.desc.API {
		case vmm.APIQMP:
			vs.QMPSocket = MonitorRun + "/" + APISocket
		case vmm.APIHTTP:
			vs.APISocket = MonitorRun + "/" + APISocket
		}
	}
	if meta.BlockPath != "" {
		vs.Block = []vmm.BlockDevice{{Path: MonitorBlock}}
	}
	if p.desc.Solo5Manifest {
		if k.Solo5Err != nil {
			return vmm.Spec{}, fmt.Errorf("%s %q: %w", unikernel.KeyBinary, meta.Binary, k.Solo5Err)
		}
		m := k.Solo5
		vs.Solo5 = &m
	}
	return vs, nil
}

// guestSpec is what the guest learns of the container: its process, its
// machine, the folders shared and the devices given to it (which the VMM
// gets too, in vs).
func (p *planning) guestSpec(vs *vmm.Spec, res *Result) (guest.Spec, error) {
	gs := guestSpec(p.Meta, p.Spec)
	gs.Platform = guest.Platform(p.desc.Platform)
	warning, err := planShares(p.Meta, p.Spec, p.Host, p.needs, &gs, vs)
	if err != nil {
		return guest.Spec{}, err
	}
	if warning != "" {
		res.Warnings = append(res.Warnings, warning)
	}
	planDevices(p.Spec, &gs, vs)
	if f := vs.KernelFormat; p.desc.TCGClock && vs.Accel == vmm.AccelTCG && (f == vmm.FormatBzImage || f == vmm.FormatPVH) {
		gs.TSCkHz = p.Host.TSCkHz // microvm under TCG has no timer to calibrate against
	}
	return gs, nil
}

// launchPlan is the plan the launcher runs, checked by building the argv
// it would exec.
func (p *planning) launchPlan(vs vmm.Spec, gs guest.Spec) (launcher.Plan, error) {
	plan := launcher.Plan{VMM: p.v.Name(), Spec: vs, Guest: p.g.Type(), GuestSpec: gs}
	var err error
	if plan.Seccomp, err = seccompMode(p.Config, p.Host, p.v.Name()); err != nil {
		return launcher.Plan{}, err
	}
	if boot, err := p.g.Boot(plan.GuestSpec); err == nil && boot.Agent && p.v.Describe().Agent != "" {
		plan.AgentSocket = MonitorRun + "/" + AgentSocket
		plan.ControlSocket = MonitorRun + "/" + ControlSocket
		plan.StopGrace = p.Config.Linux.StopGraceSeconds
	}
	if p.needs.HostKernelArgs {
		plan.ExtraCmdline = p.Config.Linux.KernelArgs
	}
	// The launcher builds the final argv at start, once the network is
	// known; building it now with a stand-in network catches every other
	// error here (a VMM may require a NIC the unikernel declares).
	if _, err := launcher.Argv(plan, &placeholderNet); err != nil {
		return launcher.Plan{}, err
	}
	return plan, nil
}

// placeholderNet stands for the network start will find, for checking a
// plan at create.
var placeholderNet = launcher.Network{Interface: "eth0", Tap: "urunc00000000", MAC: "02:00:00:00:00:01",
	IP: "192.0.2.2", PrefixLen: 24, Gateway: "192.0.2.1", MTU: 1500}

// binary is VMM n's executable as found on the host; the image never
// supplies it.
func binary(cfg *config.Config, host HostFacts, n vmm.Name, d vmm.Descriptor) (string, error) {
	want := cfg.VMMBinary(n)
	hint := d.InstallHint + ", or set " + cfg.BinaryKey(n)
	if want == "" {
		return "", fmt.Errorf("hypervisor %s: no binary configured: %s in %s", n, hint, cfg.Path)
	}
	path, ok := host.Binaries[n]
	if !ok || path == "" {
		return "", fmt.Errorf("hypervisor %s: binary %q not found: %s in %s", n, want, hint, cfg.Path)
	}
	return path, nil
}

// seccompMode is the filter the launcher installs for VMM n: one only for
// a VMM with no filter of its own (vmmseccomp.For), as configured. A build
// without seccomp support fails here, at create, rather than at start.
func seccompMode(cfg *config.Config, host HostFacts, n vmm.Name) (vmmseccomp.Mode, error) {
	if _, ok := vmmseccomp.For(string(n)); !ok {
		return "", nil
	}
	mode := cfg.VMMSeccomp(n)
	if mode != vmmseccomp.Off && !host.Seccomp {
		return "", fmt.Errorf("%s: %w; or set %s = \"off\" in %s to run it unconfined",
			n, vmmseccomp.ErrUnavailable, cfg.VMMKey(n, "seccomp"), cfg.Path)
	}
	return mode, nil
}

// planBlockRoot boots the guest from its rootfs's block device when a
// snapshotter gave a block-backed rootfs: the device becomes the guest's
// first disk (vda) and its root, instead of an initrd copy of the files.
func planBlockRoot(meta *unikernel.Config, host HostFacts, needs guest.Needs, d vmm.Descriptor, res *Result) error {
	if !needs.BlockRoot || !d.BlockRoot || meta.MountRootfs || meta.InitrdPath != "" {
		return nil
	}
	if host.BlockRootErr != nil {
		return host.BlockRootErr
	}
	br := host.BlockRoot
	if br == nil {
		return nil
	}
	if meta.BlockPath != "" {
		if host.BlockFileOnRootErr != nil {
			return fmt.Errorf("%s: %w", unikernel.KeyBlock, host.BlockFileOnRootErr)
		}
		if host.BlockFileOnRoot {
			return fmt.Errorf("%s %q: the file is on the container's rootfs, which the guest mounts read-write from %s; "+
				"the host would keep that file system mounted meanwhile: use a rootfs snapshotter that is not block-backed "+
				"(overlayfs) for this image", unikernel.KeyBlock, meta.BlockPath, br.Device)
		}
	}
	p := res.Plan
	p.RootDisk = br.Device
	if p.LoopGuard = host.Seccomp; !p.LoopGuard {
		res.Warnings = append(res.Warnings, fmt.Sprintf("this urunc has no seccomp support: the VMM could detach or reconfigure the root disk %s (build with 'make')", br.Device))
	}
	p.Spec.Block = append([]vmm.BlockDevice{{Path: br.Device, Root: true}}, p.Spec.Block...)
	p.GuestSpec.RootDevice, p.GuestSpec.RootFSType = "/dev/vda", br.FSType
	if _, err := launcher.Argv(p, &placeholderNet); err != nil {
		return err
	}
	res.Plan, res.BlockRoot = p, br
	return nil
}

func memoryLimit(s *specs.Spec) int64 {
	if s.Linux == nil || s.Linux.Resources == nil || s.Linux.Resources.Memory == nil || s.Linux.Resources.Memory.Limit == nil {
		return 0
	}
	return *s.Linux.Resources.Memory.Limit
}

func vcpus(cfg *config.Config, s *specs.Spec) int {
	var quota int64
	var period uint64
	var cpus string
	if s.Linux != nil && s.Linux.Resources != nil && s.Linux.Resources.CPU != nil {
		c := s.Linux.Resources.CPU
		if c.Quota != nil {
			quota = *c.Quota
		}
		if c.Period != nil {
			period = *c.Period
		}
		cpus = c.Cpus
	}
	return cfg.VCPUs(quota, period, cpus)
}

func guestSpec(meta *unikernel.Config, s *specs.Spec) guest.Spec {
	var block *guest.Block
	if meta.BlockPath != "" {
		block = &guest.Block{MountPoint: meta.BlkMntPoint}
	}
	return guest.Spec{
		Block:    block,
		Args:     s.Process.Args,
		Env:      s.Process.Env,
		Cwd:      s.Process.Cwd,
		Hostname: s.Hostname,
		UID:      s.Process.User.UID,
		GID:      s.Process.User.GID,
		Cmdline:  meta.Cmdline,
		Version:  meta.Version,
		Initrd:   meta.InitrdPath != "",
	}
}
