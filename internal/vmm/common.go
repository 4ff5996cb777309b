package vmm

import (
	"fmt"
	"path/filepath"
	"strings"
)

// maxTapName is the longest Linux interface name (IFNAMSIZ minus the NUL).
const maxTapName = 15

// validateBase checks the fields every VMM needs; each VMM's Validate
// starts with it, so that a Spec fails alike whatever the VMM.
func validateBase(s Spec) error {
	switch {
	case s.Binary == "":
		return invalid("Binary", "vmm executable path is empty")
	case s.Kernel == "":
		return invalid("Kernel", "kernel path is empty")
	case s.MemoryMiB == 0:
		return invalid("MemoryMiB", "guest memory is zero")
	case s.VCPUs < 1:
		return invalid("VCPUs", "need at least one vcpu, got %d", s.VCPUs)
	case strings.ContainsRune(s.Cmdline, 0):
		return invalid("Cmdline", "contains a NUL byte")
	}
	if err := validateNet(s.Net); err != nil {
		return err
	}
	return validateBlock(s.Block)
}

// validateNet checks the tap name and MAC of a network device.
func validateNet(n *NetDevice) error {
	switch {
	case n == nil:
		return nil
	case n.Tap == "":
		return invalid("Net.Tap", "tap device name is empty")
	case len(n.Tap) > maxTapName || strings.ContainsAny(n.Tap, "/ \t\n\x00"):
		return invalid("Net.Tap", "%q is not a valid interface name", n.Tap)
	case !validMAC(n.MAC):
		return invalid("Net.MAC", "%q is not a MAC address", n.MAC)
	}
	return nil
}

// validateBlock checks paths (absolute, so that no VMM reads a prefix as
// a protocol or an option) and that names are unique.
func validateBlock(blocks []BlockDevice) error {
	names := map[string]bool{}
	roots := 0
	for i, b := range blocks {
		field := fmt.Sprintf("Block[%d]", i)
		switch {
		case b.Path == "":
			return invalid(field+".Path", "path is empty")
		case !filepath.IsAbs(b.Path):
			return invalid(field+".Path", "%q is not absolute", b.Path)
		case strings.ContainsRune(b.Path, 0):
			return invalid(field+".Path", "contains a NUL byte")
		case b.Name != "" && names[b.Name]:
			return invalid(field+".Name", "%q is used twice", b.Name)
		}
		names[b.Name] = b.Name != ""
		if b.Root {
			roots++
		}
	}
	if roots > 1 {
		return invalid("Block", "%d devices marked Root, at most one allowed", roots)
	}
	return nil
}

// validateSocketPath checks a UNIX socket path against sun_path.
func validateSocketPath(field, path string) error {
	switch {
	case len(path) > maxSocketPath:
		return invalid(field, "%q is %d bytes, longer than the %d a UNIX socket path can hold",
			path, len(path), maxSocketPath)
	case strings.ContainsRune(path, 0):
		return invalid(field, "contains a NUL byte")
	}
	return nil
}

// rejectQEMUOnly fails for the Spec fields only QEMU wires up: the exit
// device, the QMP socket and vhost-net.
func rejectQEMUOnly(v Name, s Spec) error {
	switch {
	case s.ExitDevice:
		return unsupported(v, "ExitDevice", "no isa-debug-exit device; the guest's exit status cannot be reported")
	case s.QMPSocket != "":
		return unsupported(v, "QMPSocket", "QMP is QEMU's protocol")
	case s.Net != nil && s.Net.VhostNet:
		return unsupported(v, "Net.VhostNet", "no vhost-net backend")
	case len(s.Shares) > 0:
		return unsupported(v, "Shares", "no virtio-9p device to share folders with the guest")
	}
	for i, b := range s.Block {
		if b.Serial != "" {
			return unsupported(v, fmt.Sprintf("Block[%d].Serial", i), "disk serials are wired for QEMU only")
		}
	}
	return nil
}

// requireKVM fails unless the Spec asks for KVM: these VMMs have no
// emulator to fall back to.
func requireKVM(v Name, a Accel) error {
	switch a {
	case AccelKVM:
		return nil
	case AccelTCG:
		return unsupported(v, "Accel", "%q needs kvm, there is no %q mode", v, AccelTCG)
	default:
		return invalid("Accel", "%q is not %q (resolve %q before building argv)", a, AccelKVM, AccelAuto)
	}
}
