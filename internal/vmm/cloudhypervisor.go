package vmm

import (
	"fmt"
	"strconv"
	"strings"
)

// cloudHypervisor builds Cloud Hypervisor command lines:
//
//	cloud-hypervisor [--api-socket <path>] --kernel <k> [--initramfs <i>]
//	    [--cmdline <c>] --memory size=<n>M --cpus boot=<n>
//	    [--net tap=<tap>,mac=<mac>] [--disk path=<p>[,readonly=on] ...]
//	    --serial tty --console off
//
// From src/main.rs (clap definitions) and option_parser/src/lib.rs:
//   - --kernel takes a PVH ELF or, on x86_64, a bzImage (README "Booting
//     Linux"); plain ELF and multiboot kernels are refused;
//   - --disk and --net take one or more values after one flag; all disks
//     go after a single --disk, which every version accepts;
//   - device values are key=value lists split on commas outside double
//     quotes and [] brackets; quotes are removed and values are trimmed. A
//     value with a comma is therefore written "quoted"; a value containing
//     '"', '[' or ']', or starting or ending with white space cannot be
//     expressed and is refused;
//   - --serial tty connects the guest's first serial port (ttyS0) to
//     Cloud Hypervisor's stdout; --console off removes the virtio console,
//     whose default (tty) would compete for the terminal.
//
// Exit: Cloud Hypervisor exits 0 when the guest shuts down (ACPI power
// off) and non-zero on errors. A guest *reset* restarts the VM inside the
// same process rather than exiting (from the VMM's reset handling;
// unverified here), so Linux guests should power off, not reboot. There is
// no exit device: ExitDevice is refused.
//
// Sandboxing: Cloud Hypervisor installs its own seccomp filters by default
// (--seccomp true); urunc never turns them off, whatever Spec.Sandbox says.
type cloudHypervisor struct{}

func init() { register(cloudHypervisor{}) }

// Name implements VMM.
func (cloudHypervisor) Name() Name { return CloudHypervisor }

// Describe implements VMM: Cloud Hypervisor has no emulator.
func (cloudHypervisor) Describe() Descriptor {
	return Descriptor{
		DefaultBinary:     "/usr/local/bin/cloud-hypervisor",
		InstallHint:       "install the static release binary from github.com/cloud-hypervisor/cloud-hypervisor/releases",
		Accels:            []Accel{AccelKVM},
		API:               APIHTTP,
		Platform:          "cloud-hypervisor",
		MemoryOverheadMiB: 32,
		Agent:             AgentVsock,
	}
}

// Validate implements Validator.
func (c cloudHypervisor) Validate(s Spec) error {
	if err := validateBase(s); err != nil {
		return err
	}
	if err := rejectQEMUOnly(CloudHypervisor, s); err != nil {
		return err
	}
	if err := requireKVM(CloudHypervisor, s.Accel); err != nil {
		return err
	}
	if err := chKernel(s.KernelFormat); err != nil {
		return err
	}
	if err := c.validatePlain(s); err != nil {
		return err
	}
	return chValidateDevices(s)
}

// chKernel accepts the formats Cloud Hypervisor boots directly on x86_64.
func chKernel(f KernelFormat) error {
	switch f {
	case FormatPVH, FormatBzImage:
		return nil
	case "":
		return invalid("KernelFormat", "empty (inspect the kernel first)")
	case FormatELF, FormatMultiboot, FormatMultiboot2:
		return unsupported(CloudHypervisor, "KernelFormat",
			"%q: cloud-hypervisor boots a PVH ELF or a bzImage", f)
	default:
		return invalid("KernelFormat", "unknown format %q", f)
	}
}

// validatePlain checks the values given as whole arguments: clap takes a
// value starting with '-' for a flag, and the API socket value goes
// through the option parser when it looks like key=value.
func (cloudHypervisor) validatePlain(s Spec) error {
	for _, v := range []struct{ field, val string }{
		{"Kernel", s.Kernel}, {"Initrd", s.Initrd}, {"Cmdline", s.Cmdline}, {"APISocket", s.APISocket},
		{"AgentSocket", s.AgentSocket},
	} {
		if strings.HasPrefix(v.val, "-") {
			return invalid(v.field, "%q starts with '-', which cloud-hypervisor's parser reads as a flag", v.val)
		}
	}
	if s.APISocket == "" {
		return nil
	}
	if strings.ContainsAny(s.APISocket, ",=\"") {
		return invalid("APISocket", "%q: ',', '=' and '\"' are read as --api-socket option syntax", s.APISocket)
	}
	return validateSocketPath("APISocket", s.APISocket)
}

// chValidateDevices checks the values that go into key=value lists.
func chValidateDevices(s Spec) error {
	if s.Net != nil {
		if err := chValueOK("Net.Tap", s.Net.Tap); err != nil {
			return err
		}
	}
	for i, b := range s.Block {
		if err := chValueOK(fmt.Sprintf("Block[%d].Path", i), b.Path); err != nil {
			return err
		}
	}
	if s.AgentSocket != "" {
		if err := chValueOK("AgentSocket", s.AgentSocket); err != nil {
			return err
		}
		return validateSocketPath("AgentSocket", s.AgentSocket)
	}
	return nil
}

// chValueOK reports whether v survives Cloud Hypervisor's option parser
// once written by chValue.
func chValueOK(field, v string) error {
	switch {
	case strings.ContainsAny(v, "\"[]"):
		return invalid(field, "%q: cloud-hypervisor's option parser cannot carry '\"', '[' or ']'", v)
	case strings.TrimSpace(v) != v:
		return invalid(field, "%q: cloud-hypervisor's option parser trims leading and trailing white space", v)
	}
	return nil
}

// chValue quotes v when it holds a comma, the option list separator.
func chValue(v string) string {
	if strings.Contains(v, ",") {
		return `"` + v + `"`
	}
	return v
}

// Args implements VMM.
func (c cloudHypervisor) Args(s Spec) ([]string, error) {
	if err := c.Validate(s); err != nil {
		return nil, err
	}
	args := []string{s.Binary}
	if s.APISocket != "" {
		args = append(args, "--api-socket", s.APISocket)
	}
	args = append(args, "--kernel", s.Kernel)
	if s.Initrd != "" {
		args = append(args, "--initramfs", s.Initrd)
	}
	if s.Cmdline != "" {
		args = append(args, "--cmdline", s.Cmdline)
	}
	args = append(args,
		"--memory", "size="+strconv.FormatUint(s.MemoryMiB, 10)+"M",
		"--cpus", "boot="+strconv.Itoa(s.VCPUs))
	if s.Net != nil {
		args = append(args, "--net", "tap="+chValue(s.Net.Tap)+",mac="+s.Net.MAC)
	}
	if s.AgentSocket != "" {
		args = append(args, "--vsock", "cid="+strconv.Itoa(AgentCID)+",socket="+chValue(s.AgentSocket))
	}
	if len(s.Block) > 0 {
		args = append(args, "--disk")
		for _, b := range s.Block {
			args = append(args, chDisk(b))
		}
	}
	return append(args, "--serial", "tty", "--console", "off"), nil
}

// chDisk renders one --disk value.
func chDisk(b BlockDevice) string {
	v := "path=" + chValue(b.Path)
	if b.ReadOnly {
		v += ",readonly=on"
	}
	return v
}
