// Package vmm turns a typed boot plan into the command line of a virtual
// machine monitor. It knows nothing of containers: host facts arrive as
// fields of Spec, and Args is a pure function of its input.
package vmm

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
)

// Name is a VMM's identifier as used in the com.urunc.unikernel.hypervisor
// annotation.
type Name string

const (
	QEMU            Name = "qemu"
	Firecracker     Name = "firecracker"
	HVT             Name = "hvt"
	SPT             Name = "spt"
	CloudHypervisor Name = "cloud-hypervisor"
)

// Accel is the accelerator a VMM runs the guest with.
type Accel string

const (
	AccelKVM  Accel = "kvm"
	AccelTCG  Accel = "tcg"
	AccelAuto Accel = "auto" // resolved by a host probe before Args is called
	// AccelNone is the accelerator of a VMM that runs its guest as a host
	// process (solo5-spt): no /dev/kvm, no emulator.
	AccelNone Accel = "none"
)

// KernelFormat is what inspection of the kernel image found; it decides the
// machine type and boot path.
type KernelFormat string

const (
	FormatBzImage    KernelFormat = "bzimage"    // Linux boot protocol (x86 bzImage)
	FormatPVH        KernelFormat = "pvh-elf"    // ELF with a Xen PVH entry note
	FormatMultiboot  KernelFormat = "multiboot"  // 32-bit multiboot ELF (e.g. Unikraft on QEMU)
	FormatMultiboot2 KernelFormat = "multiboot2" // multiboot2 header (QEMU cannot boot it directly)
	FormatELF        KernelFormat = "elf"        // other ELF
)

// ErrNotSupported is wrapped by a VMM that cannot do what a Spec asks.
var ErrNotSupported = errors.New("not supported")

// Spec is everything a VMM needs to build its command line. Paths are as the
// VMM process sees them (inside the container's mount namespace).
type Spec struct {
	Binary       string       // VMM executable
	Kernel       string       // guest kernel image
	KernelFormat KernelFormat // from inspecting Kernel
	Initrd       string       // optional initial ramdisk
	Cmdline      string       // guest kernel command line, from the guest type
	MemoryMiB    uint64
	VCPUs        int
	Accel        Accel // kvm, tcg or none (AccelFor); never auto here
	ExitDevice   bool  // guest reports its exit status through an exit device
	// ExitPort and ExitPortSize place the exit device: 0 for urunit's
	// port (0x501) and a 2-byte window. Hermit writes to 0xf4, 4 bytes.
	ExitPort     uint16 `json:",omitempty"`
	ExitPortSize uint8  `json:",omitempty"`
	// VirtioModern drops the legacy (virtio 0.9) interface of PCI virtio
	// devices (disable-legacy=on), for guests whose drivers only match the
	// virtio 1.0 device IDs (Hermit, Mewz). Virtio-mmio is unaffected.
	VirtioModern bool       `json:",omitempty"`
	Sandbox      bool       // enable the VMM's own syscall sandbox
	QMPSocket    string     // optional path of a QMP control socket
	Net          *NetDevice // the guest's network interface; nil for none
	Shares       []Share    `json:",omitempty"` // folders shared with the guest over 9p

	// AgentSocket, when set, is the path of the UNIX socket that carries
	// the guest agent's channel (internal/agent). QEMU listens on it and
	// wires it to a virtio-serial port named agent.PortName; Firecracker
	// and Cloud Hypervisor listen on it as their hybrid vsock socket
	// (guest CID AgentCID), where the host asks for agent.VsockPort.
	AgentSocket string `json:",omitempty"`

	// RunDir is a writable folder the launcher owns, as the VMM sees it.
	// VMMs that read their configuration from files (ConfigFiler) put
	// those files here; Args references them by these paths.
	RunDir string `json:",omitempty"`
	// APISocket, when set, is the path of a UNIX socket on which a VMM
	// with a management API (Firecracker, Cloud Hypervisor) listens.
	APISocket string `json:",omitempty"`
	// Block lists the guest's block devices, in the order the guest sees
	// them (the first is vda / the first virtio-blk device).
	Block []BlockDevice `json:",omitempty"`
	// Solo5 is the unikernel's own device manifest (ReadSolo5Manifest);
	// the Solo5 tenders name their devices after it. nil for other VMMs.
	Solo5 *Solo5Manifest `json:",omitempty"`

	// Template is set for a guest that is saved as, or restored from, a
	// VM template (warm start; QEMU only, Descriptor.Templates).
	Template *TemplateSpec `json:",omitempty"`
}

// TemplateSpec backs guest RAM with a file, for VM templates: a template
// being built writes its RAM into the file (Shared); a clone maps the
// template's file copy-on-write (not Shared), so that clones share the
// pages they do not write. Migration leaves file-backed shared RAM out of
// the saved state (QEMU's x-ignore-shared), so the state is a few KiB.
type TemplateSpec struct {
	MemoryFile string
	Shared     bool
	// Incoming: the VMM starts paused, waiting for the saved device state
	// to be fed to it over its management socket (QEMU's -incoming defer).
	Incoming bool
}

// BlockDevice is a raw disk image or block device given to the guest.
type BlockDevice struct {
	Path     string // image file or block device, absolute
	ReadOnly bool
	// Name identifies the device to the VMM: the Solo5 manifest name it
	// backs, or Firecracker's drive_id. Empty picks a default.
	Name string `json:",omitempty"`
	// Serial is the disk's virtio-blk serial, which a guest reads in
	// /sys/block/<dev>/serial to find it whatever order the devices come
	// in; QEMU only, at most 20 bytes.
	Serial string `json:",omitempty"`
	// Root marks the guest's root device. Only Firecracker acts on it
	// (is_root_device, which appends root=/dev/vda to the command line);
	// other VMMs leave the root= choice to the guest's command line.
	Root bool `json:",omitempty"`
}

// File is a configuration file a VMM reads at start. The launcher writes
// it (creating nothing else) before it execs the VMM.
type File struct {
	Path string // inside Spec.RunDir
	Data []byte
	Mode fs.FileMode
}

// ConfigFiler is implemented by VMMs whose argv refers to configuration
// files. ConfigFiles is pure like Args and validates the same way; the
// files must exist before argv is executed.
type ConfigFiler interface {
	ConfigFiles(s Spec) ([]File, error)
}

// Share is a host folder the guest mounts over 9p (virtio-9p).
type Share struct {
	Path     string // folder, as the VMM sees it
	Tag      string // mount tag the guest mounts by
	ReadOnly bool
}

// NetDevice is a guest network interface backed by a host tap device.
type NetDevice struct {
	Tap      string // tap device name, already created in the VMM's netns
	MAC      string // guest MAC address, aa:bb:cc:dd:ee:ff
	VhostNet bool   // use the vhost-net accelerator (needs /dev/vhost-net)
}

// GuestChannels is implemented by VMMs that can give a guest an exit
// device (its exit status becomes the VMM's). Guests that ask for one on
// other VMMs run without.
type GuestChannels interface {
	GuestChannels()
}

// AgentTransport is how a VMM carries the guest agent's channel.
type AgentTransport string

// Agent transports; "" for a VMM that has none.
const (
	AgentVirtioSerial AgentTransport = "virtio-serial"
	AgentVsock        AgentTransport = "vsock"
)

// AgentCID is the guest's vsock context id on the VMMs whose agent
// channel is vsock (the first one not reserved).
const AgentCID = 3

// VMM builds the argv (argv[0] = Spec.Binary) that boots Spec.
type VMM interface {
	Name() Name
	// Describe tells the rest of urunc what it must know of the VMM
	// without naming it.
	Describe() Descriptor
	Args(s Spec) ([]string, error)
}

// APIKind is the kind of management socket a VMM serves.
type APIKind string

const (
	APINone APIKind = ""     // no management socket
	APIQMP  APIKind = "qmp"  // QEMU's QMP (Spec.QMPSocket)
	APIHTTP APIKind = "http" // a REST API on a UNIX socket (Spec.APISocket)
)

// Descriptor is what a VMM declares about itself, for the planner, the
// configuration and `urunc check`.
type Descriptor struct {
	// DefaultBinary is where the VMM's executable is looked for unless the
	// configuration says otherwise.
	DefaultBinary string
	// InstallHint says how to get the binary (the configuration key that
	// overrides DefaultBinary is added by the caller).
	InstallHint string
	// Accels lists the accelerators the VMM can run a guest with, the
	// preferred first; none for a VMM that runs it as a host process.
	// Only a VMM that lists tcg lets the configured accelerator choose
	// (AccelFor).
	Accels []Accel
	// API is the management socket the VMM can serve.
	API APIKind
	// Platform is the machine the guest's drivers see (guest.Platform).
	Platform string
	// Solo5Manifest: the VMM names its devices after the Solo5 manifest
	// embedded in the unikernel, which the planner reads.
	Solo5Manifest bool
	// MemoryOverheadMiB is what the VMM itself takes of a container's
	// memory limit, besides guest RAM.
	MemoryOverheadMiB uint64
	// OwnSandbox: the VMM has a syscall filter of its own that the
	// configuration can turn on (Spec.Sandbox).
	OwnSandbox bool
	// DiskSerials: the VMM gives disks a serial a guest can find them by,
	// so the container's block devices can reach a guest that takes them.
	DiskSerials bool
	// BlockRoot: the VMM can boot a guest from a host block device as its
	// first disk (a block-backed container rootfs).
	BlockRoot bool
	// TCGClock: under TCG, a guest booted as bzImage or PVH has no timer to
	// calibrate its clock against and must be told the TSC frequency.
	TCGClock bool
	// Agent is how the VMM carries the guest agent's channel
	// (Spec.AgentSocket); "" for none.
	Agent AgentTransport
	// Templates: the VMM can save a guest as a VM template and start
	// clones from it (Spec.Template).
	Templates bool
}

// Validator is implemented by VMMs that can check a Spec without building
// argv. Args always validates too; Validate exists so a plan can fail early.
type Validator interface {
	Validate(s Spec) error
}

var registry = map[Name]VMM{}

// register is called from each VMM's file.
func register(v VMM) { registry[v.Name()] = v }

// Describe returns the descriptor of the VMM called n.
func Describe(n Name) (Descriptor, error) {
	v, err := Get(n)
	if err != nil {
		return Descriptor{}, err
	}
	return v.Describe(), nil
}

// Get returns the VMM called n, or an error listing the supported ones.
func Get(n Name) (VMM, error) {
	if v, ok := registry[n]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("hypervisor %q: %w (supported: %v)", n, ErrNotSupported, Supported())
}

// Supported lists the registered VMM names, sorted.
func Supported() []Name {
	out := make([]Name, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
