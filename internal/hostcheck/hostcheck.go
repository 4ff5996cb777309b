// Package hostcheck tells whether this machine can run urunc's VMMs, one
// line per item, with the fix for what is missing (`urunc check`). The
// decisions (Run) are pure: every host fact comes from a Host probe, so
// they are tested with fakes; HostProbes returns the real ones.
package hostcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/urunc-runtime/urunc/internal/config"
	"github.com/urunc-runtime/urunc/internal/vmm"
	"github.com/urunc-runtime/urunc/internal/vmmseccomp"
)

// Status is the outcome of one check.
type Status string

const (
	OK      Status = "ok"
	Missing Status = "missing" // absent or broken; the fix says what to do
	Warn    Status = "warn"    // works, but not as well as it could, or could not be probed
)

// Result is one checked item.
type Result struct {
	Item   string `json:"item"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
	// Needed marks the items every host must have (see needed): a Missing
	// one makes Passed false (and `urunc check` exit 1).
	Needed bool `json:"needed"`
}

// Host is the machine as the checks see it. Every field is a probe.
type Host struct {
	Executable func(path string) error           // a regular file with an execute bit
	Version    func(path string) (string, error) // first line of `path --version`
	OpenRW     func(path string) error           // open a device read-write
	HWVirt     func() bool                       // vmx or svm in /proc/cpuinfo
	KVMUsable  func(path string) bool            // the KVM device opens read-write
	TC         func() error                      // ingress qdisc, u32 filter, mirred redirect
	Static     func(path string) (bool, error)   // an ELF without a program interpreter
	// OwnSandbox: the VMM binary at path accepts the option that turns on
	// its own syscall filter (Descriptor.OwnSandbox) with urunc's value.
	OwnSandbox    func(path string) error
	KernelSeccomp func() bool // the kernel has seccomp filters
	SeccompBuilt  func() bool // this urunc can install filters (libseccomp)
}

// Device paths the runtime hands to the VMM; the KVM device is
// configured ([host] kvm_device).
const (
	tunDevice      = "/dev/net/tun"
	vhostNetDevice = "/dev/vhost-net"
)

// Run checks the host against the configuration, in a fixed order: VMMs
// (the needed ones first), KVM and the accelerator, network devices and tc,
// urunit, the VMMs' own sandboxes, the filters urunc installs for VMMs.
func Run(cfg *config.Config, h Host) []Result {
	kvm := kvmFacts{device: cfg.Host.KVMDevice, usable: h.KVMUsable(cfg.Host.KVMDevice), hwVirt: h.HWVirt()}
	accel, reason, accelErr := vmm.ResolveAccel(cfg.Accel(), kvm.hwVirt, kvm.usable)
	vmms := ordered()
	var rs []Result
	for _, v := range vmms {
		rs = append(rs, checkVMM(h, cfg, v, kvm))
	}
	rs = append(rs,
		checkKVM(h, kvm.device, cfg.Accel() == vmm.AccelKVM, vmms),
		checkHWVirt(h),
		checkAccel(cfg, accel, reason, accelErr, kvm.usable, vmms),
		checkTun(h),
		checkVhostNet(h),
		checkTC(h),
		checkUrunit(h, cfg),
	)
	for _, v := range vmms {
		if v.Describe().OwnSandbox {
			rs = append(rs, checkSandbox(h, cfg, v))
		}
	}
	for _, v := range vmms {
		if _, ok := vmmseccomp.For(string(v.Name())); ok {
			rs = append(rs, checkSeccomp(h, cfg, v))
		}
	}
	return rs
}

// Passed reports whether every needed item works.
func Passed(rs []Result) bool {
	for _, r := range rs {
		if r.Needed && r.Status == Missing {
			return false
		}
	}
	return true
}

// needed reports whether `urunc check` fails without VMM v: whether v can
// run guests without KVM (its descriptor lists tcg). Such a VMM runs its
// guests on every host urunc supports, KVM or not, which makes it the one
// a host is checked against; a VMM that needs KVM, or that runs only the
// unikernels built for it as host processes, serves the images made for
// it and is reported as optional.
func needed(v vmm.VMM) bool { return slices.Contains(v.Describe().Accels, vmm.AccelTCG) }

// ordered lists the registered VMMs, the needed ones first, each group in
// name order.
func ordered() []vmm.VMM {
	var out []vmm.VMM
	for _, n := range vmm.Supported() {
		if v, err := vmm.Get(n); err == nil {
			out = append(out, v)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return needed(out[i]) && !needed(out[j]) })
	return out
}

// emulators names the VMMs that can emulate, for the details that concern
// only them.
func emulators(vmms []vmm.VMM) string {
	var names []string
	for _, v := range vmms {
		if needed(v) {
			names = append(names, string(v.Name()))
		}
	}
	if len(names) == 0 {
		return "no VMM"
	}
	return strings.Join(names, ", ")
}

// kvmFacts are the KVM probes' results, taken once.
type kvmFacts struct {
	device         string // [host] kvm_device
	usable, hwVirt bool
}

func checkVMM(h Host, cfg *config.Config, v vmm.VMM, kvm kvmFacts) Result {
	n := v.Name()
	path := cfg.VMMBinary(n)
	r := Result{Item: "vmm " + string(n), Needed: needed(v)}
	if err := h.Executable(path); err != nil {
		r.Status, r.Detail = Missing, fmt.Sprintf("%s: %s", path, describe(err))
		r.Fix = v.Describe().InstallHint + ", or set " + cfg.BinaryKey(n) + " in " + cfg.Path
		return r
	}
	version, err := h.Version(path)
	if err != nil {
		r.Status, r.Detail = Warn, fmt.Sprintf("%s: installed, but --version failed: %s", path, describe(err))
		return r
	}
	r.Status, r.Detail = OK, fmt.Sprintf("%s: %s", path, version)
	switch {
	case !vmm.KVMOnly(v):
	case !kvm.usable:
		r.Status, r.Detail = Warn, r.Detail+fmt.Sprintf("; runs guests only under kvm, and %s is not usable", kvm.device)
		r.Fix = "load kvm_intel or kvm_amd and give urunc rw access to " + kvm.device
	case !kvm.hwVirt:
		r.Status, r.Detail = Warn, r.Detail+"; runs guests only under kvm, and this kvm is a software one (no vmx/svm): some guests fault"
		r.Fix = "enable VT-x/AMD-V in the firmware, or nested virtualisation on the outer hypervisor"
	}
	return r
}

func checkKVM(h Host, device string, needed bool, vmms []vmm.VMM) Result {
	r := Result{Item: device, Needed: needed}
	err := h.OpenRW(device)
	switch {
	case err == nil:
		r.Status, r.Detail = OK, "exists and opens read-write"
	case errors.Is(err, fs.ErrNotExist):
		r.Status, r.Detail = Missing, "does not exist"
		r.Fix = "enable virtualisation in the firmware and load kvm_intel or kvm_amd (modprobe); " +
			emulators(vmms) + " still runs guests with tcg"
	default:
		r.Status, r.Detail = Missing, "exists but cannot be opened read-write: "+describe(err)
		r.Fix = "run urunc as root, or give its user rw access to " + device + " (group kvm)"
	}
	return r
}

func checkHWVirt(h Host) Result {
	r := Result{Item: "cpu virtualisation"}
	if h.HWVirt() {
		r.Status, r.Detail = OK, "vmx or svm in /proc/cpuinfo"
		return r
	}
	r.Status, r.Detail = Warn, "no vmx or svm flag in /proc/cpuinfo: no hardware virtualisation (a nested or software kvm at best)"
	r.Fix = "enable VT-x/AMD-V in the firmware, or nested virtualisation on the outer hypervisor"
	return r
}

func checkAccel(cfg *config.Config, accel vmm.Accel, reason string, err error, kvmOK bool, vmms []vmm.VMM) Result {
	r := Result{Item: "accelerator", Needed: true}
	if err != nil {
		r.Status, r.Detail = Missing, fmt.Sprintf("[vm] accel = %q: %s", cfg.Accel(), describe(err))
		r.Fix = fmt.Sprintf("make /dev/kvm usable, or set [vm] accel = %q in %s", vmm.AccelTCG, cfg.Path)
		return r
	}
	r.Status, r.Detail = OK, fmt.Sprintf("[vm] accel = %q picks %s (%s) for %s", cfg.Accel(), accel, reason, emulators(vmms))
	if accel == vmm.AccelTCG {
		r.Status = Warn
		r.Detail += "; their guests are emulated (slow)"
		if kvmOK {
			r.Fix = fmt.Sprintf("set [vm] accel = %q in %s to use /dev/kvm anyway (a software kvm: some guests fault)",
				vmm.AccelKVM, cfg.Path)
		}
	}
	return r
}

func checkTun(h Host) Result {
	r := Result{Item: tunDevice, Needed: true}
	if err := h.OpenRW(tunDevice); err != nil {
		r.Status, r.Detail = Missing, describe(err)+" (every VM container gets it for its tap)"
		r.Fix = "modprobe tun, and run urunc as root"
		return r
	}
	r.Status, r.Detail = OK, "exists and opens read-write"
	return r
}

func checkVhostNet(h Host) Result {
	r := Result{Item: "vhost-net"}
	if err := h.OpenRW(vhostNetDevice); err != nil {
		r.Status, r.Detail = Warn, vhostNetDevice+": "+describe(err)+" (optional: urunc does not use vhost-net yet)"
		r.Fix = "modprobe vhost_net"
		return r
	}
	r.Status, r.Detail = OK, vhostNetDevice+" opens read-write (optional: urunc does not use vhost-net yet)"
	return r
}

func checkTC(h Host) Result {
	r := Result{Item: "tc redirect", Needed: true}
	err := h.TC()
	switch {
	case err == nil:
		r.Status, r.Detail = OK, "ingress qdisc, u32 match-all filter and mirred redirect work (tried in a throwaway netns)"
	case errors.Is(err, ErrCannotProbe):
		r.Status, r.Detail = Warn, describe(err)
		r.Fix = "run urunc check as root to try it"
	default:
		r.Status, r.Detail = Missing, describe(err)+"; the guest's network is wired with these"
		r.Fix = "enable CONFIG_NET_SCH_INGRESS, CONFIG_NET_CLS_U32 and CONFIG_NET_ACT_MIRRED (modprobe sch_ingress cls_u32 act_mirred)"
	}
	return r
}

func checkUrunit(h Host, cfg *config.Config) Result {
	r := Result{Item: "urunit", Needed: true}
	path := cfg.Linux.Urunit
	static, err := h.Static(path)
	switch {
	case err != nil:
		r.Status, r.Detail = Missing, fmt.Sprintf("%s: %s (Linux guests boot it as their init)", path, describe(err))
		r.Fix = "run 'make install', or set [linux] urunit in " + cfg.Path
	case !static:
		r.Status, r.Detail = Missing, path+": dynamically linked; the guest's initrd has no libraries for it"
		r.Fix = "rebuild it static: CGO_ENABLED=0 go build ./cmd/urunit ('make' does)"
	default:
		r.Status, r.Detail = OK, path+": static executable"
	}
	return r
}

// checkSandbox: VMM v's own syscall filter, which urunc turns on. Needed
// when it is on and v is: v does not start when the filter cannot be
// applied.
func checkSandbox(h Host, cfg *config.Config, v vmm.VMM) Result {
	n := v.Name()
	key, bin := cfg.VMMKey(n, "sandbox"), cfg.VMMBinary(n)
	on := cfg.VMMSandbox(n)
	r := Result{Item: string(n) + " sandbox", Needed: on && needed(v)}
	if !on {
		r.Status, r.Detail = Warn, fmt.Sprintf("disabled (%s = false): %s runs without its seccomp filter", key, n)
		r.Fix = "set " + key + " = true in " + cfg.Path
		return r
	}
	if !h.KernelSeccomp() {
		r.Status, r.Detail = Missing, "the kernel has no seccomp filter support (no Seccomp: line in /proc/self/status)"
		r.Fix = "use a kernel with CONFIG_SECCOMP_FILTER, or set " + key + " = false in " + cfg.Path
		return r
	}
	if err := h.OwnSandbox(bin); err != nil {
		r.Status, r.Detail = Missing, bin+" rejects its sandbox option: "+describe(err)
		r.Fix = fmt.Sprintf("install a %s built with libseccomp, or set %s = false in %s", n, key, cfg.Path)
		return r
	}
	r.Status, r.Detail = OK, fmt.Sprintf("%s accepts its sandbox option and the kernel has seccomp filters", n)
	return r
}

// checkSeccomp: the filter urunc installs for VMM v, which has none of its
// own. Needed only when v is and the filter is on, as a v container fails
// at create without it.
func checkSeccomp(h Host, cfg *config.Config, v vmm.VMM) Result {
	n := v.Name()
	key := cfg.VMMKey(n, "seccomp")
	mode := cfg.VMMSeccomp(n)
	r := Result{Item: string(n) + " seccomp", Needed: mode != vmmseccomp.Off && needed(v)}
	switch {
	case mode == vmmseccomp.Off:
		r.Status, r.Detail = Warn, fmt.Sprintf("off (%s = \"off\"): %s runs under the container's profile only", key, n)
		r.Fix = fmt.Sprintf("set %s = \"enforce\" in %s", key, cfg.Path)
	case !h.KernelSeccomp():
		r.Status, r.Detail = Missing, fmt.Sprintf("the kernel has no seccomp filter support: %s containers fail at create", n)
		r.Fix = fmt.Sprintf("use a kernel with CONFIG_SECCOMP_FILTER, or set %s = \"off\" in %s", key, cfg.Path)
	case !h.SeccompBuilt():
		r.Status, r.Detail = Missing, fmt.Sprintf("this urunc was built without seccomp support: %s containers fail at create", n)
		r.Fix = fmt.Sprintf("rebuild with 'make' (-tags seccomp, libseccomp-dev), or set %s = \"off\" in %s", key, cfg.Path)
	case mode == vmmseccomp.Log:
		r.Status, r.Detail = Warn, fmt.Sprintf("log: what the %s policy would deny is allowed and logged by the kernel", n)
		r.Fix = fmt.Sprintf("set %s = \"enforce\" in %s once the log shows nothing denied", key, cfg.Path)
	default:
		r.Status, r.Detail = OK, fmt.Sprintf("enforce: urunc installs its %s filter before exec", n)
	}
	return r
}

// describe is an error's text for a detail column.
func describe(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
