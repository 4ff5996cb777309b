// Package guest describes what each unikernel or guest type needs to boot:
// its kernel command line, built from the container's process and the
// image's metadata. Guests return typed values, never VMM flags.
package guest

import (
	"errors"
	"fmt"
	"sort"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// Type is a guest type as used in the com.urunc.unikernel.unikernelType
// annotation.
type Type string

const (
	Unikraft Type = "unikraft"
	Rumprun  Type = "rumprun"
	Mirage   Type = "mirage"
	Linux    Type = "linux"
	Mewz     Type = "mewz"
	Hermit   Type = "hermit"
)

// ErrNotSupported is wrapped by a guest that cannot do what a Spec asks.
var ErrNotSupported = errors.New("not supported")

// Spec is the container's request, as far as the guest needs to know it.
type Spec struct {
	Args []string // process.args of the container
	Env  []string // process.env, KEY=VALUE
	Cwd  string
	UID  uint32
	GID  uint32
	// Hostname is the container's (spec hostname), "" for none.
	Hostname string `json:",omitempty"`
	Cmdline  string // com.urunc.unikernel.cmdline, if the image set one
	Version  string // com.urunc.unikernel.unikernelVersion
	Net      *Net   `json:",omitempty"` // the container's network; nil for none
	// RootShare, when set, is the 9p tag of the application's root
	// filesystem; Mounts are the container's volumes shared over 9p.
	RootShare string  `json:",omitempty"`
	Mounts    []Mount `json:",omitempty"`
	// RootDevice, when set, is the guest block device holding the
	// application's root filesystem, of type RootFSType.
	RootDevice string `json:",omitempty"`
	RootFSType string `json:",omitempty"`
	// TSCkHz, when set, is the TSC frequency the guest must be told: the VM
	// has no timer to calibrate its clock against (QEMU's microvm under TCG).
	TSCkHz uint64 `json:",omitempty"`

	Platform Platform `json:",omitempty"` // the machine the guest boots on; "" for the guest's default
	Block    *Block   `json:",omitempty"` // image-supplied block device; nil for none
	// Devices are the container's block devices, passed to the guest as
	// disks (Linux guests only).
	Devices []Device `json:",omitempty"`
	// Initrd: the image supplies an initrd (com.urunc.unikernel.initrd),
	// which guests that can take it as their root filesystem mount at /.
	Initrd bool `json:",omitempty"`
}

// Device is a container block device given to the guest as a disk whose
// virtio-blk serial is Serial; the guest makes a node for it at Path.
type Device struct {
	Path     string
	Serial   string
	FileMode uint32
	UID      uint32
	GID      uint32
}

// Mount is a container volume shared with the guest over 9p.
type Mount struct {
	Tag      string
	Target   string // path in the application's root
	ReadOnly bool
}

// Net is the container network the guest takes over: the address of the
// container's interface, its gateway and the container's resolvers.
type Net struct {
	IP        string   // IPv4 address, "" for an IPv6-only network
	PrefixLen int      // e.g. 24
	Gateway   string   // default gateway, "" for none
	DNS       []string // nameservers from the container's resolv.conf, IPv4 and IPv6
	MTU       int

	// IP6 is a global IPv6 address, "" for none, with its prefix length;
	// Gateway6 the IPv6 default gateway, possibly link-local, "" for none.
	// Only Linux guests take them; the other guests, and every guest's
	// IPv4-only parameters, leave the IPv6 fields and nameservers out.
	IP6        string
	PrefixLen6 int
	Gateway6   string
}

// Boot is what the guest asks of the VMM.
type Boot struct {
	Cmdline    string // kernel command line
	ExitDevice bool   // the guest reports its exit status through the VMM's exit device
	// ExitPort and ExitPortSize: where the guest writes its status, when
	// not urunit's port (0 for the default).
	ExitPort     uint16
	ExitPortSize uint8
	// VirtioModern: the guest's virtio drivers know only virtio 1.0 PCI
	// devices (vmm.Spec.VirtioModern).
	VirtioModern bool
	Agent        bool // the guest runs urunit's agent (internal/agent)
}

// Guest turns a Spec into a Boot.
type Guest interface {
	Type() Type
	Boot(s Spec) (Boot, error)
}

// Needs is what a guest asks of the host beyond its command line. A guest
// declares it by implementing NeedsDeclarer; the zero value asks nothing.
type Needs struct {
	// RootfsInitrd: urunc builds the guest's initrd from the container's
	// rootfs, with the guest's init (Initer) in it.
	RootfsInitrd bool
	// Devices: the guest takes the container's block devices as disks,
	// found by serial (Spec.Devices).
	Devices bool
	// Shares: the guest mounts folders shared over 9p (Spec.RootShare and
	// Spec.Mounts).
	Shares bool
	// BlockRoot: the guest can boot from a block-backed container rootfs
	// given as its first disk (Spec.RootDevice).
	BlockRoot bool
	// HostKernelArgs: the host's configured kernel parameters go at the
	// end of the guest's command line.
	HostKernelArgs bool
	// MaxCmdline is the longest command line the guest reads whole, 0 for
	// no known limit.
	MaxCmdline int
}

// NeedsDeclarer is implemented by guests that need more than a kernel and
// a command line.
type NeedsDeclarer interface {
	Needs() Needs
}

// NeedsOf returns what g needs.
func NeedsOf(g Guest) Needs {
	if d, ok := g.(NeedsDeclarer); ok {
		return d.Needs()
	}
	return Needs{}
}

// Initer is implemented by guests that boot an init of urunc's from the
// initrd built of the rootfs (Needs.RootfsInitrd): Init is that init's
// configuration.
type Initer interface {
	Init(s Spec) (urunit.Config, error)
}

// Templater is implemented by guests whose init can wait for its orders
// (urunit.Orders) over the agent channel, so that the guest can be saved
// as a VM template and each container restored from it. OrdersNet renders
// the network as the orders carry it.
type Templater interface {
	Initer
	OrdersNet(n *Net) (string, error)
}

var registry = map[Type]Guest{}

func register(g Guest) { registry[g.Type()] = g }

// Get returns the guest of type t, or an error listing the supported ones.
func Get(t Type) (Guest, error) {
	if g, ok := registry[t]; ok {
		return g, nil
	}
	return nil, fmt.Errorf("unikernel type %q: %w (supported: %v)", t, ErrNotSupported, Supported())
}

// Supported lists the registered guest types, sorted.
func Supported() []Type {
	out := make([]Type, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
