package vmm

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// solo5 builds the command lines of the Solo5 tenders, solo5-hvt (a KVM
// monitor) and solo5-spt (a seccomp-sandboxed process, no virtualization):
//
//	<tender> --mem=<MiB> [--net:<name>=<tap> [--net-mac:<name>=<mac>]]
//	         [--block:<name>=<path>]... -- <kernel> [<cmdline>]
//
// From tenders/{hvt,spt}/*_main.c and *_module_{net,blk,block}.c:
//   - usage is "[ CORE OPTIONS ] [ MODULE OPTIONS ] [ -- ] KERNEL [ ARGS ]";
//     "--" ends option parsing, so a kernel path starting with "-" is safe;
//   - --mem is in MiB (the tender shifts it by 20); the default is 512;
//   - device names are the unikernel's manifest names, matched by sscanf
//     "%67[A-Za-z0-9]"; every declared device must be attached or the
//     tender exits ("All declared devices must be attached");
//   - the tap name and block path are read with "%19s" / "%4096s", so they
//     end at the first white space: such paths are rejected here;
//   - ARGS are joined with spaces into the guest command line (at most
//     8191 bytes, HVT_CMDLINE_SIZE); Cmdline is passed as one argument,
//     which the tender copies verbatim.
//
// Console: the guest's console output goes to the tender's stdout.
// Exit: the tender exits with the status the unikernel passes to
// solo5_exit (0 success, 1 failure), 255 for solo5_abort; a tender that
// rejects its arguments exits 1.
//
// Sandboxing: solo5-spt installs its own seccomp filter before it runs the
// guest (that is its isolation mechanism); it cannot be turned off, so
// Sandbox has no effect. solo5-hvt in the Solo5 releases installs no
// seccomp filter on Linux (OpenBSD uses pledge, FreeBSD capsicum): it must
// run under an external filter (the container's seccomp profile), and a
// Spec asking it to sandbox itself is refused. (An upstream change adding
// hvt_seccomp_linux.c exists; which release ships it is unverified.)
type solo5 struct {
	name   Name
	target Solo5Target
	kvm    bool // hvt runs the guest under KVM; spt needs none
}

func init() {
	register(solo5{name: HVT, target: Solo5Target(HVT), kvm: true})
	register(solo5{name: SPT, target: Solo5Target(SPT)})
}

// Name implements VMM.
func (t solo5) Name() Name { return t.name }

// Describe implements VMM: hvt runs the guest under KVM only; spt runs it
// as a seccomp-confined process and takes no accelerator.
func (t solo5) Describe() Descriptor {
	d := Descriptor{
		DefaultBinary:     "/usr/local/bin/solo5-" + string(t.name),
		InstallHint:       "build Solo5 (github.com/Solo5/solo5) and install tenders/" + string(t.name) + "/solo5-" + string(t.name),
		Platform:          "solo5",
		Solo5Manifest:     true,
		MemoryOverheadMiB: 16,
	}
	if t.kvm {
		d.Accels = []Accel{AccelKVM}
	}
	return d
}

const (
	solo5MaxCmdline = 8191 // HVT_CMDLINE_SIZE minus the NUL
	solo5MaxPath    = 4096 // PATH_MAX, the tender's sscanf width
)

// solo5Name matches what the tenders' sscanf accepts as a device name.
var solo5Name = regexp.MustCompile(`^[A-Za-z0-9]{1,67}$`)

// Validate implements Validator. Invalid fields wrap ErrInvalidSpec; what
// the tender cannot do (a second NIC, initrd, several vCPUs) wraps
// ErrNotSupported; both name the field or manifest device at fault.
func (t solo5) Validate(s Spec) error {
	_, err := t.plan(s)
	return err
}

// solo5Plan is a validated Spec: the manifest name each device binds to.
type solo5Plan struct {
	net    string   // manifest name of the NIC, "" for none
	blocks []string // manifest name of each Spec.Block, in order
}

// plan validates s and binds the Spec's devices to manifest names.
func (t solo5) plan(s Spec) (solo5Plan, error) {
	if err := t.validateSpec(s); err != nil {
		return solo5Plan{}, err
	}
	nets, blocks, err := t.manifestDevices(s.Solo5)
	if err != nil {
		return solo5Plan{}, err
	}
	var p solo5Plan
	if p.net, err = t.bindNet(nets, s.Net); err != nil {
		return solo5Plan{}, err
	}
	if p.blocks, err = t.bindBlocks(blocks, s.Block); err != nil {
		return solo5Plan{}, err
	}
	return p, nil
}

// validateSpec checks everything but the device binding.
func (t solo5) validateSpec(s Spec) error {
	if err := validateBase(s); err != nil {
		return err
	}
	if err := rejectQEMUOnly(t.name, s); err != nil {
		return err
	}
	if s.AgentSocket != "" {
		return unsupported(t.name, "AgentSocket", "no virtio-serial or vsock device to carry a guest agent")
	}
	switch {
	case s.KernelFormat == "":
		return invalid("KernelFormat", "empty (inspect the kernel first)")
	case s.KernelFormat != FormatELF:
		return unsupported(t.name, "KernelFormat", "%q: the tender loads a plain ELF64 unikernel", s.KernelFormat)
	case s.Initrd != "":
		return unsupported(t.name, "Initrd", "solo5 has no initrd; use a block device")
	case s.APISocket != "":
		return unsupported(t.name, "APISocket", "the tender has no management API")
	case s.VCPUs > 1:
		return unsupported(t.name, "VCPUs", "solo5 guests run on one vcpu, %d asked", s.VCPUs)
	case len(s.Cmdline) > solo5MaxCmdline:
		return invalid("Cmdline", "%d bytes, the tender takes at most %d", len(s.Cmdline), solo5MaxCmdline)
	case t.kvm && s.Sandbox:
		return unsupported(t.name, "Sandbox", "solo5-hvt installs no seccomp filter of its own; "+
			"confine it with the container's seccomp profile")
	case s.Solo5 == nil:
		return invalid("Solo5", "no manifest (read it from the kernel with ReadSolo5Manifest)")
	case s.Solo5.Target != "" && s.Solo5.Target != t.target:
		return unsupported(t.name, "Solo5.Target", "the unikernel is built for %q, not %q", s.Solo5.Target, t.target)
	}
	if t.kvm {
		return requireKVM(t.name, s.Accel)
	}
	return nil
}

// manifestDevices splits the manifest into NIC and block device names.
func (t solo5) manifestDevices(m *Solo5Manifest) (nets, blocks []string, err error) {
	for _, d := range m.Devices {
		if !solo5Name.MatchString(d.Name) {
			return nil, nil, unsupported(t.name, "Solo5.Devices",
				"device name %q cannot be given on the tender's command line ([A-Za-z0-9]{1,67})", d.Name)
		}
		switch d.Type {
		case Solo5NetBasic:
			nets = append(nets, d.Name)
		case Solo5BlockBasic:
			blocks = append(blocks, d.Name)
		default:
			return nil, nil, unsupported(t.name, "Solo5.Devices", "device %q has type %q", d.Name, d.Type)
		}
	}
	return nets, blocks, nil
}

// bindNet attaches the container's one NIC to the manifest's one network
// device. A unikernel that declares no network device gets none: the
// manifest, not the container, says what the guest uses.
func (t solo5) bindNet(nets []string, n *NetDevice) (string, error) {
	switch {
	case len(nets) > 1:
		return "", unsupported(t.name, "Solo5.Devices",
			"the unikernel declares net devices %q; urunc provides one network interface", nets)
	case len(nets) == 1 && n == nil:
		return "", unsupported(t.name, "Net",
			"the unikernel declares net device %q but the container has no network", nets[0])
	case len(nets) == 0:
		return "", nil
	}
	return nets[0], nil
}

// bindBlocks gives each Spec.Block a manifest block device: by Name, or,
// when the Name is empty, the only declared block device. Every declared
// device must be backed.
func (t solo5) bindBlocks(declared []string, blocks []BlockDevice) ([]string, error) {
	taken := map[string]bool{}
	out := make([]string, len(blocks))
	for i, b := range blocks {
		name, err := t.bindBlock(i, b, declared)
		if err != nil {
			return nil, err
		}
		if taken[name] {
			return nil, invalid(fmt.Sprintf("Block[%d].Name", i), "manifest device %q is backed twice", name)
		}
		taken[name], out[i] = true, name
	}
	for _, d := range declared {
		if !taken[d] {
			return nil, unsupported(t.name, "Block",
				"the unikernel declares block device %q but no Block backs it", d)
		}
	}
	return out, nil
}

// bindBlock checks one block device and picks its manifest name.
func (t solo5) bindBlock(i int, b BlockDevice, declared []string) (string, error) {
	field := fmt.Sprintf("Block[%d]", i)
	switch {
	case b.ReadOnly:
		return "", unsupported(t.name, field+".ReadOnly", "solo5 block devices are read-write")
	case strings.ContainsAny(b.Path, " \t\n\v\f\r"):
		return "", invalid(field+".Path", "%q contains white space, which the tender's --block parser stops at", b.Path)
	case len(b.Path) > solo5MaxPath:
		return "", invalid(field+".Path", "%d bytes, the tender takes at most %d", len(b.Path), solo5MaxPath)
	case b.Name != "":
		for _, d := range declared {
			if d == b.Name {
				return d, nil
			}
		}
		return "", invalid(field+".Name", "%q is not a block device the unikernel declares (it declares %q)", b.Name, declared)
	case len(declared) == 1:
		return declared[0], nil
	default:
		return "", invalid(field+".Name", "empty, and the unikernel declares %d block devices %q", len(declared), declared)
	}
}

// Args implements VMM.
func (t solo5) Args(s Spec) ([]string, error) {
	p, err := t.plan(s)
	if err != nil {
		return nil, err
	}
	args := []string{s.Binary, "--mem=" + strconv.FormatUint(s.MemoryMiB, 10)}
	if p.net != "" {
		args = append(args, "--net:"+p.net+"="+s.Net.Tap, "--net-mac:"+p.net+"="+s.Net.MAC)
	}
	for i, name := range p.blocks {
		args = append(args, "--block:"+name+"="+s.Block[i].Path)
	}
	args = append(args, "--", s.Kernel)
	if s.Cmdline != "" {
		args = append(args, s.Cmdline)
	}
	return args, nil
}
