package lifecycle

import (
	"os"
	"os/exec"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/planner"
	"github.com/urunc-runtime/urunc/internal/unikernel"
	"github.com/urunc-runtime/urunc/internal/vmm"
	"github.com/urunc-runtime/urunc/internal/vmmseccomp"
)

// hostFacts probes, once, what the planner needs of this host and of the
// image's opened files. Probes whose answer cannot matter for this image
// (a Solo5 manifest for another VMM, 9p without shares) are skipped.
func (r *Runtime) hostFacts(meta *unikernel.Config, files *vettedFiles, s *specs.Spec, rootfs string) planner.HostFacts {
	cfg := r.Config
	h := planner.HostFacts{
		Binaries: map[vmm.Name]string{},
		HWVirt:   vmm.HasHWVirt(),
		TSCkHz:   vmm.HostTSCkHz(),
		Seccomp:  vmmseccomp.Available(),
		NetnsErr: checkOwnNetns(s),
		Folders:  map[string]bool{},
	}
	for _, n := range vmm.Supported() {
		if p, ok := lookVMM(cfg.VMMBinary(n)); ok {
			h.Binaries[n] = p
		}
	}
	d, err := vmm.Describe(vmm.Name(meta.Hypervisor))
	if err == nil && len(d.Accels) > 0 {
		h.KVM = vmm.KVMUsable(cfg.Host.KVMDevice) // never probed for a VMM that takes none
	}
	k := &h.Kernel
	k.Format, k.FormatErr = vmm.InspectKernelAt(files.kernel)
	if err == nil && d.Solo5Manifest {
		k.Solo5, k.Solo5Err = vmm.ReadSolo5ManifestAt(files.kernel)
	}
	shares := meta.MountRootfs
	for _, m := range s.Mounts {
		if !planner.IsBindMount(m) {
			continue
		}
		if fi, err := os.Stat(m.Source); err == nil && fi.IsDir() {
			h.Folders[m.Source], shares = true, true
		}
	}
	if shares {
		k.NineP, k.NinePErr = fileContains(fdPath(files.kernel), nineP)
	}
	h.BlockRoot, h.BlockRootErr = detectBlockRoot(rootfs)
	if h.BlockRoot != nil && meta.BlockPath != "" {
		h.BlockFileOnRoot, h.BlockFileOnRootErr = sameDevice(meta.BlockPath, rootfs)
	}
	return h
}

// lookVMM finds a VMM's executable; the image never supplies it.
func lookVMM(want string) (string, bool) {
	if want == "" {
		return "", false
	}
	path, err := exec.LookPath(want)
	if err != nil {
		return "", false
	}
	abs, err := filepath.Abs(path)
	return abs, err == nil
}
