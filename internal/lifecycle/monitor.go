package lifecycle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/fault"
	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/initrd"
	"github.com/urunc-runtime/urunc/internal/planner"
	"github.com/urunc-runtime/urunc/internal/unikernel"
	"github.com/urunc-runtime/urunc/internal/urunit"
)

// hostDirs are the host folders that hold the VMM, its libraries and its
// firmware. They reach the monitor root read-only; a host path that is a
// symlink (merged /usr) is recreated as the same symlink. Binding only the
// VMM's own files was measured and left out (docs/security.md, Known limits).
var hostDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"}

// prepareVM creates the container's VM folder: the monitor root that
// becomes the container's root, the plan and, for Linux guests, the initrd.
func (r *Runtime) prepareVM(id string, vs *vmSetup, s *specs.Spec) error {
	vs.dir = r.vmDir(id) // claimed by create, 0700
	// The VMM, maybe not root, walks these inside its container; nothing
	// in them is readable by others (the plan and initrd are its own).
	for _, d := range []string{"rootfs", shareDir, planner.RunDir} {
		if err := os.Mkdir(filepath.Join(vs.dir, d), 0o711); err != nil {
			return fmt.Errorf("create vm folder: %w", err)
		}
	}
	// The VMM runs as the container's user and creates its sockets here.
	uid, gid := int(vs.plan.GuestSpec.UID), int(vs.plan.GuestSpec.GID)
	if err := os.Chown(filepath.Join(vs.dir, planner.RunDir), uid, gid); err != nil {
		return fmt.Errorf("create vm folder: %w", err)
	}
	if err := mirrorHostLinks(filepath.Join(vs.dir, "rootfs")); err != nil {
		return err
	}
	if vs.block != nil {
		// Nothing may keep the block file system mounted on the host.
		k, err := copyOut(vs.files.kernel, vs.dir, "kernel", r.initrdBudget())
		if err != nil {
			return err
		}
		vs.kernel = k
	}
	why, err := r.templateWhyNot(vs, s)
	if err != nil {
		return err
	}
	if why != "" {
		r.Log.Debugf("no VM template: %s", why)
	}
	if err := r.prepareInitrd(vs, s, why == ""); err != nil {
		return err
	}
	if why == "" {
		if err := r.planTemplate(vs, s); err != nil {
			return err
		}
	}
	if r.TracePath != "" {
		// The launcher appends its record through a bind mount of the file.
		f, err := os.OpenFile(r.TracePath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("trace file: %w", err)
		}
		f.Close()
		vs.trace = r.TracePath
	}
	return writePlan(vs.dir, vs.plan)
}

// mirrorHostLinks recreates the host's top-level symlinks (e.g. lib ->
// usr/lib) so that the VMM's dynamic loader finds its libraries.
func mirrorHostLinks(root string) error {
	for _, d := range hostDirs {
		target, err := os.Readlink(d)
		if err != nil {
			continue // not a symlink, or absent: bound or skipped by monitorMounts
		}
		if err := os.Symlink(target, filepath.Join(root, d)); err != nil {
			return fmt.Errorf("create monitor root link %s: %w", d, err)
		}
	}
	return nil
}

// prepareInitrd writes the initrd the guest boots with: for Linux guests the
// image's own initrd (if any) followed by an archive of the container rootfs
// and urunit; for others the image's initrd is bound as it is.
//
// A guest that starts from a template gets its config in its orders,
// never in the initrd: the template's RAM holds the initrd, and must hold
// nothing of one container.
func (r *Runtime) prepareInitrd(vs *vmSetup, s *specs.Spec, ordered bool) error {
	meta := vs.meta
	if !vs.rootfsInitrd {
		vs.initrd = meta.InitrdPath
		return nil
	}
	g, err := guest.Get(vs.plan.Guest)
	if err != nil {
		return err
	}
	initer, ok := g.(guest.Initer)
	if !ok {
		return fmt.Errorf("guest %s: %w: it has no init to put in an initrd", vs.plan.Guest, guest.ErrNotSupported)
	}
	cfg, err := initer.Init(vs.plan.GuestSpec)
	if err != nil {
		return fmt.Errorf("guest %s: %w", vs.plan.Guest, err)
	}
	files, err := r.urunitFiles(cfg)
	if err != nil {
		return err
	}
	if ordered {
		files = files[:1] // urunit without its config
	}
	if vs.block != nil {
		mods, err := moduleFiles(vs.rootfs, r.initrdBudget())
		if err != nil {
			return err
		}
		files = append(files, mods...)
	}
	vs.initrd = filepath.Join(vs.dir, "initrd")
	// The initrd holds the rootfs, args and env: the VMM's user alone reads it.
	out, err := os.OpenFile(vs.initrd, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create initrd: %w", err)
	}
	defer out.Close()
	if err := out.Chown(int(vs.plan.GuestSpec.UID), int(vs.plan.GuestSpec.GID)); err != nil {
		return fmt.Errorf("create initrd: %w", err)
	}
	budget := r.initrdBudget()
	if meta.InitrdPath != "" {
		if err := initrd.CopyOpen(out, vs.files.initrd, meta.InitrdPath, budget); err != nil {
			return fmt.Errorf("copy image initrd: %w", err)
		}
	}
	rootfs := rootfsDir(vs, s)
	if err := initrd.BuildLimited(out, rootfs, files, imageFiles(rootfs, meta), budget); err != nil {
		return fmt.Errorf("build initrd from rootfs: %w", err)
	}
	return out.Close()
}

// imageFiles are the rootfs paths the guest's initrd leaves out: the
// kernel, initrd and block image, which the guest boots from, and
// dev/console, which Docker's init layer leaves as an empty regular file:
// in the initramfs it would replace the kernel's console device, and the
// guest's output would go into that file.
func imageFiles(rootfs string, meta *unikernel.Config) []string {
	out := []string{"dev/console"}
	for _, p := range []string{meta.KernelPath, meta.InitrdPath, meta.BlockPath} {
		if rel, err := filepath.Rel(rootfs, p); err == nil && p != "" && !strings.HasPrefix(rel, "..") {
			out = append(out, rel)
		}
	}
	return out
}

func rootfsDir(vs *vmSetup, s *specs.Spec) string {
	if vs.meta.InitrdPath != "" || vs.meta.MountRootfs || vs.block != nil {
		return "" // the image brought its own root filesystem, or it is shared or a disk
	}
	return vs.rootfs
}

// initrdBudget is a fresh allowance of [limits] initrd_max_bytes.
func (r *Runtime) initrdBudget() *initrd.Budget {
	return &initrd.Budget{Max: r.Config.Limits.InitrdMaxBytes, Setting: "[limits] initrd_max_bytes in " + r.Config.Path}
}

// urunitFiles returns urunit and its config as initrd entries.
func (r *Runtime) urunitFiles(cfg urunit.Config) ([]initrd.File, error) {
	bin, err := os.ReadFile(r.Config.Linux.Urunit)
	if err != nil {
		return nil, fmt.Errorf("read urunit %q: %w: run 'make install' or set [linux] urunit in %s", r.Config.Linux.Urunit, err, r.Config.Path)
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(cfg); err != nil {
		return nil, fmt.Errorf("encode urunit config: %w", err)
	}
	return []initrd.File{
		{Path: urunit.BinaryPath, Mode: 0o755, Data: bin},
		{Path: urunit.ConfigPath, Mode: 0o644, Data: buf.Bytes()},
	}, nil
}

// monitorSpec turns the client's spec into the spec of the VMM container:
// its root is the monitor root, its process the launcher.
func monitorSpec(s *specs.Spec, vs *vmSetup, self string) (*specs.Spec, error) {
	out := *s
	out.Root = &specs.Root{Path: filepath.Join(vs.dir, "rootfs"), Readonly: true}
	proc := *s.Process
	proc.Args = []string{planner.MonitorSelf, "launch", planner.MonitorShare}
	proc.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin"}
	if v, ok := os.LookupEnv(fault.Env); ok && fault.Enabled {
		proc.Env = append(proc.Env, fault.Env+"="+v) // the launcher's phase, in test builds
	}
	proc.Cwd = "/"
	// The VMM never gains privileges, and keeps of the client's
	// capabilities only those it uses (vmmCapabilities).
	proc.NoNewPrivileges = true
	proc.Capabilities = vmmCapabilities(s.Process.Capabilities, len(vs.plan.Spec.Shares) > 0)
	out.Process = &proc
	out.Mounts = append(append([]specs.Mount{}, s.Mounts...), monitorMounts(vs, self)...)
	linux := *s.Linux
	out.Linux = &linux
	// host path → path in the container
	devices := [][2]string{{"/dev/net/tun", "/dev/net/tun"}} // the VMM attaches to the tap start creates
	if vs.kvmDevice != "" {
		devices = append(devices, [2]string{vs.kvmDevice, "/dev/kvm"})
	}
	if vs.block != nil {
		devices = append(devices, [2]string{vs.block.Device, vs.block.Device})
	}
	for _, d := range devices {
		if err := addDevice(&out, d[0], d[1]); err != nil {
			return nil, err
		}
	}
	out.Annotations = map[string]string{}
	for k, v := range s.Annotations {
		out.Annotations[k] = v
	}
	out.Annotations[annotationAccel] = string(vs.plan.Spec.Accel)
	out.Annotations[annotationMachine] = string(vs.plan.Spec.KernelFormat)
	if sock := vs.plan.Spec.APISocket + vs.plan.Spec.QMPSocket; sock != "" {
		out.Annotations[annotationAPI] = sock
	}
	return &out, nil
}

// shareCapabilities are what QEMU's 9p server (security_model=none) uses
// to reach the shared files whatever their owner and mode, as the guest's
// root expects. Nothing else a VMM does needs a capability: the tap and the
// files of the VM folder are its user's, /dev/kvm is 0666 in the container.
var shareCapabilities = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID"}

// vmmCapabilities narrows the client's capability sets to what the VMM
// uses: shareCapabilities when it serves 9p shares, none otherwise. It only
// ever removes: a capability the client did not grant stays out.
func vmmCapabilities(c *specs.LinuxCapabilities, shares bool) *specs.LinuxCapabilities {
	keep := func(set []string) []string {
		out := []string{}
		for _, cap := range set {
			if shares && slices.Contains(shareCapabilities, cap) {
				out = append(out, cap)
			}
		}
		return out
	}
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	return &specs.LinuxCapabilities{Bounding: keep(c.Bounding), Effective: keep(c.Effective),
		Inheritable: keep(c.Inheritable), Permitted: keep(c.Permitted), Ambient: keep(c.Ambient)}
}

func roBind(src, dst string) specs.Mount {
	return specs.Mount{Source: src, Destination: dst, Type: "bind", Options: []string{"bind", "ro", "nosuid", "nodev"}}
}

func monitorMounts(vs *vmSetup, self string) []specs.Mount {
	var ms []specs.Mount
	for _, d := range hostDirs {
		if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
			// "ro" alone covers the top mount only: a host mount below it
			// (a tmpfs, a disk under /usr/local) would stay writable.
			ms = append(ms, specs.Mount{Source: d, Destination: d, Type: "bind",
				Options: []string{"rbind", "ro", "nosuid", "nodev", "rro", "rnosuid", "rnodev"}})
		}
	}
	bin := vs.plan.Spec.Binary
	if !underAny(bin, hostDirs) {
		ms = append(ms, roBind(bin, bin))
	}
	ms = append(ms,
		roBind(self, planner.MonitorSelf),
		roBind(filepath.Join(vs.dir, shareDir), planner.MonitorShare),
		specs.Mount{Source: filepath.Join(vs.dir, planner.RunDir), Destination: planner.MonitorRun, Type: "bind",
			Options: []string{"bind", "rw", "nosuid", "nodev", "noexec"}},
		roBind(vs.kernelPath(), planner.MonitorKernel),
	)
	if vs.initrd != "" {
		ms = append(ms, roBind(vs.initrd, planner.MonitorInitrd))
	}
	if vs.meta.MountRootfs {
		ms = append(ms, specs.Mount{Source: vs.rootfs, Destination: planner.MonitorRootfs, Type: "bind",
			Options: []string{"rbind", "rw", "nosuid", "nodev"}})
	}
	if vs.meta.BlockPath != "" {
		// The guest may write to its block image, as it would to a disk.
		ms = append(ms, specs.Mount{Source: vs.meta.BlockPath, Destination: planner.MonitorBlock, Type: "bind",
			Options: []string{"bind", "rw", "nosuid", "nodev", "noexec"}})
	}
	if vs.template != "" {
		ms = append(ms, specs.Mount{Source: vs.template, Destination: planner.MonitorTemplate, Type: "bind",
			Options: []string{"bind", "rw", "nosuid", "nodev", "noexec"}})
	}
	if vs.trace != "" {
		ms = append(ms, specs.Mount{Source: vs.trace, Destination: planner.MonitorTrace, Type: "bind",
			Options: []string{"bind", "rw", "nosuid", "nodev", "noexec"}})
	}
	return ms
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// addDevice gives the container the host device node host at path, with a
// cgroup rule.
func addDevice(s *specs.Spec, host, path string) error {
	var st unix.Stat_t
	if err := unix.Stat(host, &st); err != nil {
		return fmt.Errorf("device %s: %w", host, err)
	}
	major, minor := int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	var typ string
	var mode os.FileMode
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ, mode = "c", 0o666
	case unix.S_IFBLK:
		typ, mode = "b", 0o660 // a disk: only the VMM's user, not everyone
	default:
		return fmt.Errorf("device %s: not a character or block device", host)
	}
	s.Linux.Devices = append(append([]specs.LinuxDevice{}, s.Linux.Devices...), specs.LinuxDevice{
		Path: path, Type: typ, Major: major, Minor: minor, FileMode: &mode, UID: &s.Process.User.UID, GID: &s.Process.User.GID,
	})
	res := specs.LinuxResources{}
	if s.Linux.Resources != nil {
		res = *s.Linux.Resources
	}
	res.Devices = append(append([]specs.LinuxDeviceCgroup{}, res.Devices...), specs.LinuxDeviceCgroup{
		Allow: true, Type: typ, Major: &major, Minor: &minor, Access: "rwm",
	})
	s.Linux.Resources = &res
	return nil
}
