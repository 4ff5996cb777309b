// Package hostcheck tells whether this machine can run urunc's VMMs, one
// line per item, with the fix for what is missing (`urunc check`). The
// decisions (Run) are pure: every host fact comes from a Host probe, so
// they are tested with fakes; HostProbes returns the real ones.
package hostcheck

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/urunc-dev/urunc/internal/config"
	"github.com/urunc-dev/urunc/internal/sandbox"
	"github.com/urunc-dev/urunc/internal/vmm"
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
	// Needed marks the items QEMU guests need: a Missing one makes
	// Passed false (and `urunc check` exit 1).
	Needed bool `json:"needed"`
}

// Host is the machine as the checks see it. Every field is a probe.
type Host struct {
	Executable    func(path string) error           // a regular file with an execute bit
	Version       func(path string) (string, error) // first line of `path --version`
	OpenRW        func(path string) error           // open a device read-write
	HWVirt        func() bool                       // vmx or svm in /proc/cpuinfo
	KVMUsable     func(path string) bool            // the KVM device opens read-write
	TC            func() error                      // ingress qdisc, u32 filter, mirred redirect
	Static        func(path string) (bool, error)   // an ELF without a program interpreter
	QEMUSandbox   func(qemu string) error           // qemu accepts urunc's -sandbox value
	KernelSeccomp func() bool                       // the kernel has seccomp filters
	SeccompBuilt  func() bool                       // this urunc can install filters (libseccomp)
}

// Device paths the runtime hands to the VMM; the KVM device is
// configured ([host] kvm_device).
const (
	tunDevice      = "/dev/net/tun"
	vhostNetDevice = "/dev/vhost-net"
)

// Run checks the host against the configuration, in a fixed order: VMMs,
// KVM and the accelerator, network devices and tc, urunit, QEMU's sandbox.
func Run(cfg *config.Config, h Host) []Result {
	kvm := kvmFacts{device: cfg.Host.KVMDevice, usable: h.KVMUsable(cfg.Host.KVMDevice), hwVirt: h.HWVirt()}
	accel, reason, accelErr := vmm.ResolveAccel(cfg.QEMU.Accel, kvm.hwVirt, kvm.usable)
	rs := []Result{checkVMM(h, vmm.QEMU, cfg.QEMU.Binary, kvm, cfg.Path)}
	for _, n := range otherVMMs(cfg) {
		rs = append(rs, checkVMM(h, n, cfg.Binaries[string(n)], kvm, cfg.Path))
	}
	return append(rs,
		checkKVM(h, kvm.device, cfg.QEMU.Accel == vmm.AccelKVM),
		checkHWVirt(h),
		checkAccel(cfg, accel, reason, accelErr, kvm.usable),
		checkTun(h),
		checkVhostNet(h),
		checkTC(h),
		checkUrunit(h, cfg),
		checkSandbox(h, cfg),
		checkHVTSeccomp(h, cfg),
	)
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

// otherVMMs are the configured non-QEMU VMMs, in name order.
func otherVMMs(cfg *config.Config) []vmm.Name {
	var out []vmm.Name
	for n := range cfg.Binaries {
		out = append(out, vmm.Name(n))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// installHints say how to get each VMM.
var installHints = map[vmm.Name]string{
	vmm.QEMU:            "apt-get install qemu-system-x86, or set [qemu] binary",
	vmm.Firecracker:     "install the release binary from github.com/firecracker-microvm/firecracker/releases, or set [binaries] firecracker",
	vmm.HVT:             "build Solo5 (github.com/Solo5/solo5) and install tenders/hvt/solo5-hvt, or set [binaries] hvt",
	vmm.SPT:             "build Solo5 (github.com/Solo5/solo5) and install tenders/spt/solo5-spt, or set [binaries] spt",
	vmm.CloudHypervisor: "install the static release binary from github.com/cloud-hypervisor/cloud-hypervisor/releases, or set [binaries] cloud-hypervisor",
}

// kvmFacts are the KVM probes' results, taken once.
type kvmFacts struct {
	device         string // [host] kvm_device
	usable, hwVirt bool
}

// kvmOnly reports whether VMM n runs guests only under KVM.
func kvmOnly(n vmm.Name) bool {
	v, err := vmm.Get(n)
	return err == nil && vmm.KVMOnly(v)
}

func checkVMM(h Host, n vmm.Name, path string, kvm kvmFacts, cfgPath string) Result {
	r := Result{Item: "vmm " + string(n), Needed: n == vmm.QEMU}
	if err := h.Executable(path); err != nil {
		r.Status, r.Detail = Missing, fmt.Sprintf("%s: %s", path, describe(err))
		r.Fix = installHints[n] + " in " + cfgPath
		return r
	}
	version, err := h.Version(path)
	if err != nil {
		r.Status, r.Detail = Warn, fmt.Sprintf("%s: installed, but --version failed: %s", path, describe(err))
		return r
	}
	r.Status, r.Detail = OK, fmt.Sprintf("%s: %s", path, version)
	switch {
	case !kvmOnly(n):
	case !kvm.usable:
		r.Status, r.Detail = Warn, r.Detail+fmt.Sprintf("; runs guests only under kvm, and %s is not usable", kvm.device)
		r.Fix = "load kvm_intel or kvm_amd and give urunc rw access to " + kvm.device
	case !kvm.hwVirt:
		r.Status, r.Detail = Warn, r.Detail+"; runs guests only under kvm, and this kvm is a software one (no vmx/svm): some guests fault"
		r.Fix = "enable VT-x/AMD-V in the firmware, or nested virtualisation on the outer hypervisor"
	}
	return r
}

func checkKVM(h Host, device string, needed bool) Result {
	r := Result{Item: device, Needed: needed}
	err := h.OpenRW(device)
	switch {
	case err == nil:
		r.Status, r.Detail = OK, "exists and opens read-write"
	case errors.Is(err, fs.ErrNotExist):
		r.Status, r.Detail = Missing, "does not exist"
		r.Fix = "enable virtualisation in the firmware and load kvm_intel or kvm_amd (modprobe); QEMU still runs guests with tcg"
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

func checkAccel(cfg *config.Config, accel vmm.Accel, reason string, err error, kvmOK bool) Result {
	r := Result{Item: "accelerator", Needed: true}
	if err != nil {
		r.Status, r.Detail = Missing, fmt.Sprintf("[qemu] accel = %q: %s", cfg.QEMU.Accel, describe(err))
		r.Fix = fmt.Sprintf("make /dev/kvm usable, or set [qemu] accel = %q in %s", vmm.AccelTCG, cfg.Path)
		return r
	}
	r.Status, r.Detail = OK, fmt.Sprintf("[qemu] accel = %q picks %s (%s)", cfg.QEMU.Accel, accel, reason)
	if accel == vmm.AccelTCG {
		r.Status = Warn
		r.Detail += "; QEMU guests are emulated (slow)"
		if kvmOK {
			r.Fix = fmt.Sprintf("set [qemu] accel = %q in %s to use /dev/kvm anyway (a software kvm: some guests fault)",
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

func checkSandbox(h Host, cfg *config.Config) Result {
	r := Result{Item: "qemu sandbox", Needed: cfg.QEMU.Sandbox}
	if !cfg.QEMU.Sandbox {
		r.Status, r.Detail = Warn, "disabled ([qemu] sandbox = false): QEMU runs without its seccomp filter"
		r.Fix = "set [qemu] sandbox = true in " + cfg.Path
		return r
	}
	if !h.KernelSeccomp() {
		r.Status, r.Detail = Missing, "the kernel has no seccomp filter support (no Seccomp: line in /proc/self/status)"
		r.Fix = "use a kernel with CONFIG_SECCOMP_FILTER, or set [qemu] sandbox = false in " + cfg.Path
		return r
	}
	if err := h.QEMUSandbox(cfg.QEMU.Binary); err != nil {
		r.Status, r.Detail = Missing, cfg.QEMU.Binary+" rejects -sandbox: "+describe(err)
		r.Fix = "install a QEMU built with libseccomp (Debian's is), or set [qemu] sandbox = false in " + cfg.Path
		return r
	}
	r.Status, r.Detail = OK, "QEMU accepts -sandbox and the kernel has seccomp filters"
	return r
}

// checkHVTSeccomp: the filter urunc installs for solo5-hvt, which has none
// of its own. Not needed for QEMU guests, so never fails the check.
func checkHVTSeccomp(h Host, cfg *config.Config) Result {
	r := Result{Item: "hvt seccomp"}
	switch mode := cfg.Solo5.HVTSeccomp; {
	case mode == sandbox.Off:
		r.Status, r.Detail = Warn, "off ([solo5] hvt_seccomp = \"off\"): solo5-hvt runs under the container's profile only"
		r.Fix = "set [solo5] hvt_seccomp = \"enforce\" in " + cfg.Path
	case !h.KernelSeccomp():
		r.Status, r.Detail = Missing, "the kernel has no seccomp filter support: hvt containers fail at create"
		r.Fix = "use a kernel with CONFIG_SECCOMP_FILTER, or set [solo5] hvt_seccomp = \"off\" in " + cfg.Path
	case !h.SeccompBuilt():
		r.Status, r.Detail = Missing, "this urunc was built without seccomp support: hvt containers fail at create"
		r.Fix = "rebuild with 'make' (-tags seccomp, libseccomp-dev), or set [solo5] hvt_seccomp = \"off\" in " + cfg.Path
	case mode == sandbox.Log:
		r.Status, r.Detail = Warn, "log: what the solo5-hvt policy would deny is allowed and logged by the kernel"
		r.Fix = "set [solo5] hvt_seccomp = \"enforce\" in " + cfg.Path + " once the log shows nothing denied"
	default:
		r.Status, r.Detail = OK, "enforce: urunc installs its solo5-hvt filter before exec"
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
