// Package urunit holds the contract between the runtime and urunit, the init
// that runs the application inside a Linux guest.
package urunit

// ConfigPath is where urunit reads its Config inside the guest's initramfs.
const ConfigPath = "/.urunit/config.json"

// BinaryPath is where the urunit executable sits inside the guest's initramfs
// (the kernel is started with rdinit=BinaryPath).
const BinaryPath = "/.urunit/urunit"

// Exit status protocol. QEMU's isa-debug-exit device at ExitPort makes QEMU
// exit with (value<<1)|1, so odd statuses travel exactly. Status 0 is a
// clean reboot, which QEMU (run with -no-reboot) turns into exit 0. An even
// non-zero status s cannot be expressed by the device and arrives as s|1.
const ExitPort = 0x501

// HaltPowerOff on the kernel command line tells urunit to end the VM by an
// ACPI power-off instead of a reboot or the exit port: for VMMs that have
// no exit device and restart the VM on a reset (Cloud Hypervisor), where
// the status is lost either way but a reboot would run the app again.
const HaltPowerOff = "urunit.halt=poweroff"

// AgentParam on the kernel command line names the transport of urunit's
// agent channel (internal/agent): "virtio-serial" (the port named
// agent.PortName) or "vsock" (listen on agent.VsockPort). Without it the
// guest has no agent channel.
const AgentParam = "urunit.agent"

// Config is the application urunit runs.
type Config struct {
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	Cwd  string   `json:"cwd,omitempty"`
	UID  uint32   `json:"uid"`
	GID  uint32   `json:"gid"`
	// Hostname, when set, is the guest's host name (the spec's).
	Hostname string `json:"hostname,omitempty"`
	// RootTag, when set, is the 9p mount tag of the application's root
	// filesystem: urunit mounts it and makes it the root before starting
	// the application. Empty keeps the initramfs as the root.
	RootTag string `json:"rootTag,omitempty"`
	// RootDevice, when set, is the block device holding the application's
	// root filesystem (of type RootFSType), made the root like RootTag.
	RootDevice string `json:"rootDevice,omitempty"`
	RootFSType string `json:"rootFSType,omitempty"`
	// Mounts are 9p shares mounted in the application's root, in order.
	Mounts []Mount `json:"mounts,omitempty"`
	// Devices are the container's block devices (linux.devices), each a
	// guest disk found by its serial and given a node at its path.
	Devices []Device `json:"devices,omitempty"`
}

// Device is a block device node urunit creates in the application's root
// for the guest disk whose virtio-blk serial is Serial.
type Device struct {
	Path     string `json:"path"` // absolute, under /dev
	Serial   string `json:"serial"`
	FileMode uint32 `json:"fileMode"` // permission bits
	UID      uint32 `json:"uid"`
	GID      uint32 `json:"gid"`
}

// Mount is a 9p share (a container volume) in the guest.
type Mount struct {
	Tag      string `json:"tag"`
	Target   string `json:"target"` // absolute path in the application's root
	ReadOnly bool   `json:"readOnly,omitempty"`
}
