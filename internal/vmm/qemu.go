package vmm

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/urunc-runtime/urunc/internal/agent"
	"github.com/urunc-runtime/urunc/internal/urunit"
)

// qemu builds qemu-system-x86_64 command lines.
//
// Machine choice follows the kernel format, matching what QEMU's x86 loader
// can boot:
//   - bzImage and PVH ELF boot on microvm (no firmware, no PCI: fastest);
//   - multiboot needs the pc machine, because QEMU loads multiboot kernels
//     through an option ROM that microvm lacks;
//   - multiboot2 and plain ELF are rejected with ErrNotSupported: QEMU's -kernel
//     on x86 boots only bzImage, multiboot (v1) and PVH ELF, and no machine
//     type (q35 included) changes that.
type qemu struct{}

func init() { register(qemu{}) }

// Name implements VMM.
func (qemu) Name() Name { return QEMU }

// Describe implements VMM: QEMU emulates the CPU (tcg) where KVM is
// absent; microvm under TCG has no calibrated clock (TCGClock).
func (qemu) Describe() Descriptor {
	return Descriptor{
		DefaultBinary:     "/usr/bin/qemu-system-x86_64",
		InstallHint:       "apt-get install qemu-system-x86",
		Accels:            []Accel{AccelKVM, AccelTCG},
		API:               APIQMP,
		Platform:          "qemu",
		MemoryOverheadMiB: 96,
		OwnSandbox:        true,
		DiskSerials:       true,
		BlockRoot:         true,
		TCGClock:          true,
		Agent:             AgentVirtioSerial,
		Templates:         true,
	}
}

// GuestChannels implements GuestChannels: isa-debug-exit.
func (qemu) GuestChannels() {}

// Machine types and the devices tied to them.
const (
	machineMicroVM = "microvm"
	machinePC      = "pc"

	qemuConsoleID = "con0"
	qemuAgentID   = "agent0"

	// maxSocketPath is the longest UNIX socket path QEMU can listen on
	// (sizeof sun_path, the terminating NUL left out).
	maxSocketPath = 107
)

// Validate checks a Spec without building argv. Every error wraps
// ErrInvalidSpec (or ErrNotSupported for a kernel format QEMU cannot boot)
// and names the Spec field at fault.
func (qemu) Validate(s Spec) error {
	if err := validateBase(s); err != nil {
		return err
	}
	if s.Accel != AccelKVM && s.Accel != AccelTCG {
		return invalid("Accel", "%q is not %q or %q (resolve %q before building argv)",
			s.Accel, AccelKVM, AccelTCG, AccelAuto)
	}
	if err := validateSocketPath("AgentSocket", s.AgentSocket); err != nil {
		return err
	}
	if err := validateQEMUExtra(s); err != nil {
		return err
	}
	if s.KernelFormat == FormatMultiboot && strings.ContainsAny(s.Initrd, ", \t") {
		// QEMU's multiboot loader splits -initrd into modules at ',' and
		// each module into a file and its command line at ' ': such a
		// path would load another file or hand the guest other arguments.
		return invalid("Initrd", "%q: a multiboot module path cannot hold ',' or blanks", s.Initrd)
	}
	if t := s.Template; t != nil {
		if t.MemoryFile == "" {
			return invalid("Template.MemoryFile", "empty")
		}
		if t.Incoming && t.Shared {
			return invalid("Template", "a clone (Incoming) maps its template's RAM private, not Shared")
		}
		if s.QMPSocket == "" {
			return invalid("QMPSocket", "empty: a template is saved and restored over QMP")
		}
	}
	_, err := qemuMachine(s.KernelFormat)
	return err
}

// qemuMachine picks the machine type for a kernel format.
func qemuMachine(f KernelFormat) (string, error) {
	switch f {
	case FormatBzImage, FormatPVH:
		return machineMicroVM, nil
	case FormatMultiboot:
		return machinePC, nil
	case FormatMultiboot2, FormatELF:
		return "", fmt.Errorf("qemu: boot %q kernel: %w (x86 -kernel boots bzImage, multiboot and PVH ELF only)",
			f, ErrNotSupported)
	case "":
		return "", invalid("KernelFormat", "empty (inspect the kernel first)")
	default:
		return "", invalid("KernelFormat", "unknown format %q", f)
	}
}

// Args implements VMM. It validates s, then renders the arguments in a fixed
// order, each its own element.
func (q qemu) Args(s Spec) ([]string, error) {
	if err := q.Validate(s); err != nil {
		return nil, err
	}
	machine, _ := qemuMachine(s.KernelFormat) // checked by Validate
	args := []string{s.Binary,
		"-name", "urunc",
		"-nodefaults",
		"-no-user-config",
		"-display", "none",
		"-no-reboot",
		"-machine", qemuMachineOpts(machine, s.Accel, s.Template != nil),
		"-cpu", qemuCPU(s.Accel),
		"-m", strconv.FormatUint(s.MemoryMiB, 10) + "M",
		"-smp", strconv.Itoa(s.VCPUs),
		"-chardev", "stdio,id=" + qemuConsoleID + ",signal=off",
		"-serial", "chardev:" + qemuConsoleID,
		"-kernel", s.Kernel, // a plain argument: QEMU does not parse commas here
	}
	if s.Initrd != "" {
		args = append(args, "-initrd", s.Initrd)
	}
	if s.Cmdline != "" {
		args = append(args, "-append", s.Cmdline)
	}
	if s.Net != nil {
		args = append(args, qemuNetArgs(*s.Net, machine, s.VirtioModern)...)
	}
	args = append(args, qemuBlockArgs(s.Block, machine)...)
	args = append(args, qemuShareArgs(s.Shares, machine)...)
	if s.ExitDevice {
		// The guest's exit status, and a guest kernel panic (pvpanic, for
		// kernels with its driver) as exit 1 instead of a clean-looking 0.
		port, size := uint16(urunit.ExitPort), uint8(2)
		if s.ExitPort != 0 {
			port = s.ExitPort
		}
		if s.ExitPortSize != 0 {
			size = s.ExitPortSize
		}
		args = append(args, "-device",
			fmt.Sprintf("isa-debug-exit,iobase=%#x,iosize=0x%02x", port, size),
			"-device", "pvpanic", "-action", "panic=exit-failure")
	}
	if s.AgentSocket != "" {
		args = append(args, qemuAgentArgs(s.AgentSocket, machine)...)
	}
	if s.QMPSocket != "" {
		args = append(args, "-qmp", "unix:"+EscapeOptValue(s.QMPSocket)+",server=on,wait=off")
	}
	if t := s.Template; t != nil {
		args = append(args, qemuTemplateArgs(*t, s.MemoryMiB)...)
	}
	if s.Sandbox {
		args = append(args, "-sandbox",
			"on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny")
	}
	return args, nil
}

// qemuNetArgs attaches the guest NIC to the tap: virtio-net on the
// machine's transport (virtio-mmio on microvm, PCI on pc). QEMU runs no
// ifup scripts: urunc created and wired the tap already.
func qemuNetArgs(n NetDevice, machine string, modern bool) []string {
	dev := "virtio-net-pci"
	if machine == machineMicroVM {
		dev = "virtio-net-device"
	} else if modern {
		dev += ",disable-legacy=on"
	}
	vhost := "off"
	if n.VhostNet {
		vhost = "on"
	}
	return []string{
		"-netdev", "tap,id=net0,ifname=" + EscapeOptValue(n.Tap) + ",script=no,downscript=no,vhost=" + vhost,
		"-device", dev + ",netdev=net0,mac=" + n.MAC,
	}
}

// qemuAgentArgs adds the guest agent's port: a virtio-serial port named
// agent.PortName (on the machine's virtio transport) whose backend listens
// on path. wait=off lets the VM start before the supervisor connects;
// nothing is lost meanwhile, since the guest writes only after the host
// has. Port 0 is kept for a console, so the bus has two.
func qemuAgentArgs(path, machine string) []string {
	bus := "virtio-serial-pci"
	if machine == machineMicroVM {
		bus = "virtio-serial-device"
	}
	return []string{
		"-chardev", "socket,id=" + qemuAgentID + ",path=" + EscapeOptValue(path) + ",server=on,wait=off",
		"-device", bus + ",id=" + qemuAgentID + "bus,max_ports=2",
		"-device", "virtserialport,bus=" + qemuAgentID + "bus.0,chardev=" + qemuAgentID + ",name=" + agent.PortName,
	}
}

func validMAC(s string) bool {
	hw, err := net.ParseMAC(s)
	return err == nil && len(hw) == 6
}

// qemuTemplateMemory is the id of the memory backend of a template's RAM.
const qemuTemplateMemory = "ram0"

// qemuTemplateArgs backs guest RAM with the template's file: shared while
// the template is built (the guest writes into the file, which migration
// with x-ignore-shared then leaves out of the saved state), private in a
// clone (its writes are its own; what it only reads stays shared with
// the other clones in the page cache). A clone starts paused waiting for
// the saved state, which the supervisor feeds over QMP: x-ignore-shared
// must be set on both ends, and QEMU 7.2 has no option for it.
func qemuTemplateArgs(t TemplateSpec, memMiB uint64) []string {
	share := "off"
	if t.Shared {
		share = "on"
	}
	args := []string{"-object", "memory-backend-file,id=" + qemuTemplateMemory +
		",size=" + strconv.FormatUint(memMiB, 10) + "M,mem-path=" + EscapeOptValue(t.MemoryFile) + ",share=" + share}
	if t.Incoming {
		args = append(args, "-incoming", "defer")
	}
	return args
}

// qemuMachineOpts renders the -machine option list.
func qemuMachineOpts(machine string, accel Accel, template bool) string {
	opts := machine + ",accel=" + string(accel)
	if template {
		opts += ",memory-backend=" + qemuTemplateMemory
	}
	if machine == machineMicroVM {
		// microvm defaults to no ISA serial port; the console and the
		// exit device live on the ISA bus, the RTC gives the guest time.
		opts += ",isa-serial=on,rtc=on"
	}
	return opts
}

// qemuCPU is the CPU model: the host's under KVM, the full emulated feature
// set under TCG.
func qemuCPU(a Accel) string {
	if a == AccelKVM {
		return "host"
	}
	return "max"
}

// EscapeOptValue escapes v for use as a value inside a QEMU option list
// (key=value,key=value): QEMU reads ",," as a literal comma.
func EscapeOptValue(v string) string {
	return strings.ReplaceAll(v, ",", ",,")
}
