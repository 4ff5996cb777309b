package planner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/unikernel"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// rootShareTag is the 9p tag of the application's root filesystem.
const rootShareTag = "rootfs"

// planShares decides which folders the guest mounts over 9p: the image
// rootfs when the image asks for it (mountRootfs), and every volume, a
// bind mount of a folder outside /dev, /proc and /sys. Bind mounts of files
// (resolv.conf, hosts, hostname, termination-log) and of the pod's
// /dev/shm are the client's plumbing for the container process; the guest
// gets DNS from the network set-up and makes its own /dev.
//
// It returns a warning when it leaves out the Kubernetes service-account
// volume for a guest that cannot take it (dropServiceAccount).
func planShares(meta *unikernel.Config, s *specs.Spec, host HostFacts, needs guest.Needs, gs *guest.Spec, vs *vmm.Spec) (string, error) {
	if meta.MountRootfs {
		gs.RootShare = rootShareTag
		vs.Shares = append(vs.Shares, vmm.Share{Path: MonitorRootfs, Tag: rootShareTag})
	}
	for _, m := range s.Mounts {
		if !IsBindMount(m) || !host.Folders[m.Source] {
			continue
		}
		tag := "vol" + strconv.Itoa(len(gs.Mounts))
		ro := slices.Contains(m.Options, "ro")
		gs.Mounts = append(gs.Mounts, guest.Mount{Tag: tag, Target: m.Destination, ReadOnly: ro})
		vs.Shares = append(vs.Shares, vmm.Share{Path: m.Destination, Tag: tag, ReadOnly: ro})
	}
	if len(vs.Shares) == 0 {
		return "", nil
	}
	err := checkShares(meta, host.Kernel, needs, gs)
	if err == nil || !dropServiceAccount(gs, vs) {
		return "", err
	}
	warning := fmt.Sprintf("volume %q (the service-account token Kubernetes mounts into every pod) left out of the guest: %v; set automountServiceAccountToken: false on the pod to say so", ServiceAccountDir, err)
	if len(vs.Shares) == 0 {
		return warning, nil
	}
	return "", checkShares(meta, host.Kernel, needs, gs)
}

// ServiceAccountDir is where the kubelet mounts the pod's service-account
// token, into every container unless the pod opts out.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// dropServiceAccount removes the service-account mount from the shares
// and tells whether there was one. A guest that cannot take shares would
// otherwise refuse every Kubernetes pod that did not opt out of a token
// most unikernels have no use for; any other volume is still refused.
func dropServiceAccount(gs *guest.Spec, vs *vmm.Spec) bool {
	i := slices.IndexFunc(gs.Mounts, func(m guest.Mount) bool { return m.Target == ServiceAccountDir })
	if i < 0 {
		return false
	}
	tag := gs.Mounts[i].Tag
	gs.Mounts = slices.Delete(gs.Mounts, i, i+1)
	vs.Shares = slices.DeleteFunc(vs.Shares, func(s vmm.Share) bool { return s.Tag == tag })
	return true
}

// pseudoDirs hold what the guest kernel makes itself (CRI binds the pod's
// /dev/shm, for one): binds there are not volumes.
var pseudoDirs = []string{"/dev", "/proc", "/sys"}

// IsBindMount tells whether m binds a host path outside pseudoDirs: a
// volume when its source is a folder (HostFacts.Folders).
func IsBindMount(m specs.Mount) bool {
	if m.Type != "bind" && !slices.Contains(m.Options, "bind") && !slices.Contains(m.Options, "rbind") {
		return false
	}
	for _, d := range pseudoDirs {
		if m.Destination == d || strings.HasPrefix(m.Destination, d+"/") {
			return false
		}
	}
	return true
}

// checkShares refuses shares the guest cannot take, naming the mount.
func checkShares(meta *unikernel.Config, k KernelFacts, needs guest.Needs, gs *guest.Spec) error {
	what := "the image rootfs (" + unikernel.KeyMountRootfs + ")"
	if len(gs.Mounts) > 0 {
		what = "volume " + strconv.Quote(gs.Mounts[0].Target)
	}
	if !needs.Shares {
		return fmt.Errorf("%s: guest type %s cannot mount shared folders; only %s guests can (drop the mount)",
			what, meta.Type, strings.Join(typesWith(func(n guest.Needs) bool { return n.Shares }), ", "))
	}
	if k.NinePErr != nil {
		return fmt.Errorf("%s: read kernel %q: %w", what, meta.Binary, k.NinePErr)
	}
	if !k.NineP {
		return fmt.Errorf("%s: the guest kernel %q has no 9p support (or is compressed): use an uncompressed kernel with CONFIG_9P_FS and CONFIG_NET_9P_VIRTIO, such as `make guest-kernel`'s vmlinux, or drop the mount", what, meta.Binary)
	}
	return nil
}

// typesWith lists the guest types whose needs satisfy f.
func typesWith(f func(guest.Needs) bool) []string {
	var out []string
	for _, t := range guest.Supported() {
		if g, err := guest.Get(t); err == nil && f(guest.NeedsOf(g)) {
			out = append(out, string(t))
		}
	}
	return out
}

// vmmsWith lists the VMMs whose descriptors satisfy f.
func vmmsWith(f func(vmm.Descriptor) bool) []string {
	var out []string
	for _, n := range vmm.Supported() {
		if d, err := vmm.Describe(n); err == nil && f(d) {
			out = append(out, string(n))
		}
	}
	return out
}
