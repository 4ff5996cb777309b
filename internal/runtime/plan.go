package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-dev/urunc/internal/guest"
	"github.com/urunc-dev/urunc/internal/launcher"
	"github.com/urunc-dev/urunc/internal/sandbox"
	"github.com/urunc-dev/urunc/internal/unikernel"
	"github.com/urunc-dev/urunc/internal/vmm"
)

// Paths inside the monitor root, as the launcher and the VMM see them.
const (
	monitorDir    = "/urunc"
	monitorSelf   = monitorDir + "/urunc"
	monitorShare  = monitorDir + "/share" // read-only view of the VM folder's share/
	monitorKernel = monitorDir + "/kernel"
	monitorInitrd = monitorDir + "/initrd"
	monitorBlock  = monitorDir + "/block"
	shareDir      = "share" // in the VM folder: plan and network for the launcher
	runDir        = "run"   // in the VM folder: sockets the VMM creates
	monitorRun    = monitorDir + "/" + runDir
	controlSocket = "control.sock"
	apiSocket     = "api.sock"
)

// Annotations urunc adds to the container's state so users can see how the
// VM was set up.
const (
	annotationAccel   = "com.urunc.vm.accel"
	annotationMachine = "com.urunc.vm.kernelFormat"
	// annotationAPI is the VMM's management socket inside the container,
	// when [api] socket is on.
	annotationAPI = "com.urunc.vm.apiSocket"
)

// vmSetup is the host-side result of planning a unikernel container.
type vmSetup struct {
	meta   *unikernel.Config
	files  *vettedFiles // meta's files, opened where they were resolved
	plan   launcher.Plan
	initrd string     // host path bound at monitorInitrd, "" for none
	dir    string     // the container's VM folder
	rootfs string     // host path of the image rootfs
	trace  string     // host trace file bound into the container, "" for none
	block  *blockRoot // the rootfs's block device, when the guest boots from it
	kernel string     // host path of the kernel bound into the container
	// kvmDevice is the host KVM device node the VMM gets as /dev/kvm, ""
	// for a VMM that runs without KVM.
	kvmDevice string
}

// binds are the image files bound into the container as they are, by
// their path there, for verifyBinds.
func (vs *vmSetup) binds() map[string]*os.File {
	b := map[string]*os.File{monitorBlock: vs.files.block}
	if vs.kernel == "" {
		b[monitorKernel] = vs.files.kernel
	}
	if vs.initrd == vs.meta.InitrdPath {
		b[monitorInitrd] = vs.files.initrd
	}
	return b
}

// kernelPath is the host file bound as the guest kernel: the image's, or a
// copy taken out of a block-backed rootfs.
func (vs *vmSetup) kernelPath() string {
	if vs.kernel != "" {
		return vs.kernel
	}
	return vs.meta.KernelPath
}

// planVM validates the unikernel request and decides how the VM boots. It
// creates nothing.
func (r *Runtime) planVM(meta *unikernel.Config, files *vettedFiles, s *specs.Spec) (*vmSetup, error) {
	g, err := guest.Get(guest.Type(meta.Type))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", unikernel.KeyType, err)
	}
	v, err := vmm.Get(vmm.Name(meta.Hypervisor))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", unikernel.KeyHypervisor, err)
	}
	if err := vmm.ValidGuest(v.Name(), meta.Type); err != nil {
		return nil, fmt.Errorf("%s: %w", unikernel.KeyHypervisor, err)
	}
	if err := checkDevices(s, g.Type(), v.Name()); err != nil {
		return nil, err
	}
	if err := checkOwnNetns(s); err != nil {
		return nil, err
	}
	bin, err := r.vmmBinary(v.Name())
	if err != nil {
		return nil, err
	}
	kernel := fdPath(files.kernel)
	format, err := vmm.InspectKernelAt(files.kernel)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", unikernel.KeyBinary, meta.Binary, err)
	}
	accel, err := r.accel(v)
	if err != nil {
		return nil, err
	}
	mem, err := r.Config.GuestMemoryMiB(memoryLimit(s))
	if err != nil {
		return nil, err
	}
	vs := vmm.Spec{
		Binary:       bin,
		Kernel:       monitorKernel,
		KernelFormat: format,
		MemoryMiB:    mem,
		VCPUs:        vcpus(r, s),
		Accel:        accel,
		Sandbox:      r.Config.QEMU.Sandbox && v.Name() == vmm.QEMU,
		RunDir:       monitorRun,
	}
	if meta.InitrdPath != "" || meta.Type == string(guest.Linux) {
		vs.Initrd = monitorInitrd
	}
	var kvmDevice string
	if accel == vmm.AccelKVM {
		kvmDevice = r.Config.Host.KVMDevice
	}
	if r.Config.API.Socket {
		switch v.Name() {
		case vmm.QEMU:
			vs.QMPSocket = monitorRun + "/" + apiSocket
		case vmm.Firecracker, vmm.CloudHypervisor:
			vs.APISocket = monitorRun + "/" + apiSocket
		}
	}
	if meta.BlockPath != "" {
		vs.Block = []vmm.BlockDevice{{Path: monitorBlock}}
	}
	if v.Name() == vmm.HVT || v.Name() == vmm.SPT {
		m, err := vmm.ReadSolo5ManifestAt(files.kernel)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", unikernel.KeyBinary, meta.Binary, err)
		}
		vs.Solo5 = &m
	}
	gs := guestSpec(meta, s)
	gs.Platform = platforms[v.Name()]
	if err := planShares(meta, kernel, s, &gs, &vs); err != nil {
		return nil, err
	}
	if err := planDevices(s, g.Type(), v.Name(), &gs, &vs); err != nil {
		return nil, err
	}
	if v.Name() == vmm.QEMU && accel == vmm.AccelTCG && (format == vmm.FormatBzImage || format == vmm.FormatPVH) {
		gs.TSCkHz = vmm.HostTSCkHz() // microvm under TCG has no timer to calibrate against
	}
	plan := launcher.Plan{VMM: v.Name(), Spec: vs, Guest: g.Type(), GuestSpec: gs}
	if plan.Seccomp, err = r.seccompMode(v.Name()); err != nil {
		return nil, err
	}
	if boot, err := g.Boot(plan.GuestSpec); err == nil && boot.Control {
		plan.ControlSocket = monitorRun + "/" + controlSocket
	}
	if g.Type() == guest.Linux {
		plan.ExtraCmdline = r.Config.Linux.KernelArgs
	}
	// The launcher builds the final argv at start, once the network is
	// known; building it now with a stand-in network catches every other
	// error here (a VMM may require a NIC the unikernel declares).
	if _, err := launcher.Argv(plan, &placeholderNet); err != nil {
		return nil, err
	}
	return &vmSetup{meta: meta, files: files, plan: plan, kvmDevice: kvmDevice}, nil
}

// placeholderNet stands for the network start will find, for checking a
// plan at create.
var placeholderNet = launcher.Network{Interface: "eth0", Tap: "urunc00000000", MAC: "02:00:00:00:00:01",
	IP: "192.0.2.2", PrefixLen: 24, Gateway: "192.0.2.1", MTU: 1500}

// platforms tells each guest which machine it boots on.
var platforms = map[vmm.Name]guest.Platform{
	vmm.QEMU: guest.PlatformQEMU, vmm.Firecracker: guest.PlatformFirecracker,
	vmm.HVT: guest.PlatformSolo5, vmm.SPT: guest.PlatformSolo5, vmm.CloudHypervisor: guest.PlatformCloudHypervisor,
}

// installHints say how to get each VMM.
var installHints = map[vmm.Name]string{
	vmm.QEMU:            "apt-get install qemu-system-x86, or set [qemu] binary",
	vmm.Firecracker:     "install Firecracker's release binary, or set [binaries] firecracker",
	vmm.HVT:             "install Solo5's solo5-hvt, or set [binaries] hvt",
	vmm.SPT:             "install Solo5's solo5-spt, or set [binaries] spt",
	vmm.CloudHypervisor: "install Cloud Hypervisor's release binary, or set [binaries] cloud-hypervisor",
}

// vmmBinary finds the host's VMM executable; the image never supplies it.
// seccompMode is the filter the launcher installs for VMM n: one only for
// a VMM with no filter of its own (sandbox.For), as configured. A build
// without seccomp support fails here, at create, rather than at start.
func (r *Runtime) seccompMode(n vmm.Name) (sandbox.Mode, error) {
	if _, ok := sandbox.For(string(n)); !ok {
		return "", nil
	}
	mode := r.Config.Solo5.HVTSeccomp
	if mode != sandbox.Off && !sandbox.Available() {
		return "", fmt.Errorf("%s: %w; or set [solo5] hvt_seccomp = \"off\" in %s to run it unconfined",
			n, sandbox.ErrUnavailable, r.Config.Path)
	}
	return mode, nil
}

func (r *Runtime) vmmBinary(n vmm.Name) (string, error) {
	want := r.Config.Binaries[string(n)]
	if n == vmm.QEMU {
		want = r.Config.QEMU.Binary
	}
	if want == "" {
		return "", fmt.Errorf("hypervisor %s: no binary configured: %s in %s", n, installHints[n], r.Config.Path)
	}
	path, err := exec.LookPath(want)
	if err != nil {
		return "", fmt.Errorf("hypervisor %s: binary %q not found: %s in %s", n, want, installHints[n], r.Config.Path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("hypervisor %s: %w", n, err)
	}
	return abs, nil
}

// accel resolves the accelerator VMM v runs with on this host. A VMM that
// takes none (solo5-spt) never probes the KVM device.
func (r *Runtime) accel(v vmm.VMM) (vmm.Accel, error) {
	dev := r.Config.Host.KVMDevice
	kvm := len(v.Accels()) > 0 && vmm.KVMUsable(dev)
	a, reason, err := vmm.AccelFor(v, r.Config.QEMU.Accel, vmm.HasHWVirt(), kvm)
	if err != nil {
		return "", fmt.Errorf("accelerator: kvm device %s: %w ([host] kvm_device in %s)", dev, err, r.Config.Path)
	}
	r.Log.WithField("accel", a).Debugf("accelerator chosen: %s", reason)
	return a, nil
}

func memoryLimit(s *specs.Spec) int64 {
	if s.Linux == nil || s.Linux.Resources == nil || s.Linux.Resources.Memory == nil || s.Linux.Resources.Memory.Limit == nil {
		return 0
	}
	return *s.Linux.Resources.Memory.Limit
}

func vcpus(r *Runtime, s *specs.Spec) int {
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
	return r.Config.VCPUs(quota, period, cpus)
}

func guestSpec(meta *unikernel.Config, s *specs.Spec) guest.Spec {
	var block *guest.Block
	if meta.BlockPath != "" {
		block = &guest.Block{MountPoint: meta.BlkMntPoint}
	}
	return guest.Spec{
		Block:   block,
		Args:    s.Process.Args,
		Env:     s.Process.Env,
		Cwd:     s.Process.Cwd,
		UID:     s.Process.User.UID,
		GID:     s.Process.User.GID,
		Cmdline: meta.Cmdline,
		Version: meta.Version,
		Initrd:  meta.InitrdPath != "",
	}
}

// writePlan stores the plan atomically in the VM folder.
func writePlan(dir string, p launcher.Plan) error {
	return writeVMFile(filepath.Join(dir, shareDir, launcher.PlanFile), p, p.GuestSpec)
}

// writeVMFile writes a file of the VM folder that holds the application's
// args, env or network: readable by the VMM's user alone, who reads it
// inside the container, and by root.
func writeVMFile(path string, v any, owner guest.Spec) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	return writeFileAtomic(path, data, 0o600, int(owner.UID), int(owner.GID))
}

// writeFileAtomic writes path through a temporary file renamed over it,
// owned by uid:gid (-1 keeps urunc's).
func writeFileAtomic(path string, data []byte, mode os.FileMode, uid, gid int) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chown(uid, gid); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
