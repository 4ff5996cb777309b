package lifecycle

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/launcher"
	"github.com/urunc-runtime/urunc/internal/planner"
	"github.com/urunc-runtime/urunc/internal/unikernel"
)

// Paths inside the monitor root, as the launcher and the VMM see them.
// shareDir, in the VM folder, holds the plan and network for the launcher.
const shareDir = "share"

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
	initrd string     // host path bound at planner.MonitorInitrd, "" for none
	dir    string     // the container's VM folder
	rootfs string     // host path of the image rootfs
	trace  string     // host trace file bound into the container, "" for none
	block  *blockRoot // the rootfs's block device, when the guest boots from it
	kernel string     // host path of the kernel bound into the container
	// kvmDevice is the host KVM device node the VMM gets as /dev/kvm, ""
	// for a VMM that runs without KVM.
	kvmDevice string
	// rootfsInitrd: the initrd is built from the rootfs with the guest's
	// init (planner.Result).
	rootfsInitrd bool
	// template is the host folder of the guest's VM template cache entry,
	// "" when it boots cold (planTemplate).
	template string
}

// binds are the image files bound into the container as they are, by
// their path there, for verifyBinds.
func (vs *vmSetup) binds() map[string]*os.File {
	b := map[string]*os.File{planner.MonitorBlock: vs.files.block}
	if vs.kernel == "" {
		b[planner.MonitorKernel] = vs.files.kernel
	}
	if vs.initrd == vs.meta.InitrdPath {
		b[planner.MonitorInitrd] = vs.files.initrd
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

// plan gathers the host facts once and has the planner decide how the
// VM boots. It creates nothing.
func (r *Runtime) plan(meta *unikernel.Config, files *vettedFiles, s *specs.Spec, rootfs string) (*vmSetup, error) {
	in := planner.Input{Meta: meta, Spec: s, Config: r.Config, Host: r.hostFacts(meta, files, s, rootfs)}
	res, err := planner.Plan(in)
	if err != nil {
		return nil, err
	}
	r.Log.WithField("accel", res.Plan.Spec.Accel).Debugf("accelerator chosen: %s", res.AccelReason)
	for _, w := range res.Warnings {
		r.Log.Warn(w)
	}
	return &vmSetup{meta: meta, files: files, plan: res.Plan, kvmDevice: res.KVMDevice, block: res.BlockRoot,
		rootfs: rootfs, rootfsInitrd: res.RootfsInitrd}, nil
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
