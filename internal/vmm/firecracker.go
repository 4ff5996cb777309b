package vmm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
)

// firecracker builds Firecracker command lines. Firecracker takes its VM
// from a JSON file (--config-file) instead of flags:
//
//	firecracker --no-api --config-file <RunDir>/firecracker.json
//	firecracker --api-sock <APISocket> --config-file <RunDir>/firecracker.json
//
// From src/firecracker/src/main.rs: --no-api requires --config-file and
// starts the VM from it with no API server; without --no-api the API
// server listens on --api-sock (default /run/firecracker.socket) and the
// VM described by --config-file is started as well.
//
// The config file (keys from the API's BootSource, MachineConfiguration,
// Drive and NetworkInterface objects):
//
//	boot-source:        kernel_image_path, boot_args, initrd_path
//	machine-config:     vcpu_count (1..32), mem_size_mib, smt (false)
//	drives:             drive_id, path_on_host, is_root_device, is_read_only
//	network-interfaces: iface_id, host_dev_name (the tap), guest_mac
//
// Kernels: on x86_64 Firecracker boots an uncompressed ELF vmlinux (64-bit
// Linux boot protocol), or a PVH ELF when the XEN_ELFNOTE_PHYS32_ENTRY note
// is present (docs/pvh.md). bzImage and multiboot kernels are refused.
//
// Console: the guest's ttyS0 (an emulated 8250 UART) is written to
// Firecracker's stdout, so a Linux guest needs console=ttyS0 in its own
// command line; boot_args is Cmdline verbatim. Firecracker appends
// virtio_mmio.device= entries for its devices and, for a drive marked
// is_root_device, root=/dev/vda (ro or rw).
//
// Exit: Firecracker exits when the guest resets the machine through the
// i8042 controller (Linux: reboot=k, which panic=N also triggers) with
// status 0 (FcExitCode::Ok), so a 0 exit means "the guest rebooted or shut
// down", not the application's status; 1 is a generic error, 148 a
// seccomp violation, 149-157 a fatal signal, 152 a bad configuration
// file, 153 bad arguments. There is no exit device: a guest that needs
// one (ExitDevice) is refused.
//
// Sandboxing: Firecracker installs its own seccomp filters (per thread)
// by default; urunc never passes --no-seccomp, so they apply whatever
// Spec.Sandbox says. The jailer (chroot, namespaces, cgroups) is not used:
// the container provides those.
type firecracker struct{}

func init() { register(firecracker{}) }

// Name implements VMM.
func (firecracker) Name() Name { return Firecracker }

// Describe implements VMM: Firecracker has no emulator.
func (firecracker) Describe() Descriptor {
	return Descriptor{
		DefaultBinary:     "/usr/local/bin/firecracker",
		InstallHint:       "install the release binary from github.com/firecracker-microvm/firecracker/releases",
		Accels:            []Accel{AccelKVM},
		API:               APIHTTP,
		Platform:          "firecracker",
		MemoryOverheadMiB: 32,
		Agent:             AgentVsock,
	}
}

const (
	firecrackerConfigFile = "firecracker.json"
	firecrackerMaxVCPUs   = 32
	firecrackerIfaceID    = "net0"
)

// firecrackerID is what this file allows as a drive_id: Firecracker's
// API ids are alphanumeric with underscores (assumed from the API's
// examples; unverified for other characters).
var firecrackerID = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// Validate implements Validator.
func (f firecracker) Validate(s Spec) error {
	if err := validateBase(s); err != nil {
		return err
	}
	if err := rejectQEMUOnly(Firecracker, s); err != nil {
		return err
	}
	if err := requireKVM(Firecracker, s.Accel); err != nil {
		return err
	}
	switch {
	case s.VCPUs > firecrackerMaxVCPUs:
		return unsupported(Firecracker, "VCPUs", "at most %d vcpus, %d asked", firecrackerMaxVCPUs, s.VCPUs)
	case s.RunDir == "":
		return invalid("RunDir", "empty: firecracker reads its configuration from a file there")
	case !filepath.IsAbs(s.RunDir):
		return invalid("RunDir", "%q is not absolute", s.RunDir)
	}
	if err := validateSocketPath("APISocket", s.APISocket); err != nil {
		return err
	}
	if err := validateSocketPath("AgentSocket", s.AgentSocket); err != nil {
		return err
	}
	if err := validateFirecrackerDrives(s.Block); err != nil {
		return err
	}
	return firecrackerKernel(s.KernelFormat)
}

// firecrackerKernel accepts the formats Firecracker's x86_64 loader boots.
func firecrackerKernel(f KernelFormat) error {
	switch f {
	case FormatELF, FormatPVH:
		return nil
	case "":
		return invalid("KernelFormat", "empty (inspect the kernel first)")
	case FormatBzImage, FormatMultiboot, FormatMultiboot2:
		return unsupported(Firecracker, "KernelFormat",
			"%q: firecracker boots an uncompressed ELF vmlinux or a PVH ELF on x86_64", f)
	default:
		return invalid("KernelFormat", "unknown format %q", f)
	}
}

// validateFirecrackerDrives checks the drive ids Firecracker will see.
func validateFirecrackerDrives(blocks []BlockDevice) error {
	seen := map[string]bool{}
	for i, b := range blocks {
		field, id := fmt.Sprintf("Block[%d].Name", i), firecrackerDriveID(i, b)
		switch {
		case !firecrackerID.MatchString(id):
			return invalid(field, "%q is not a firecracker drive_id ([A-Za-z0-9_]{1,64})", id)
		case seen[id]:
			return invalid(field, "drive_id %q is used twice", id)
		}
		seen[id] = true
	}
	return nil
}

// firecrackerDriveID is the device's Name, or blk<index>.
func firecrackerDriveID(i int, b BlockDevice) string {
	if b.Name != "" {
		return b.Name
	}
	return fmt.Sprintf("blk%d", i)
}

// Args implements VMM. The config file it names comes from ConfigFiles.
func (f firecracker) Args(s Spec) ([]string, error) {
	if err := f.Validate(s); err != nil {
		return nil, err
	}
	args := []string{s.Binary}
	if s.APISocket != "" {
		args = append(args, "--api-sock", s.APISocket)
	} else {
		args = append(args, "--no-api")
	}
	return append(args, "--config-file", firecrackerConfigPath(s)), nil
}

func firecrackerConfigPath(s Spec) string { return filepath.Join(s.RunDir, firecrackerConfigFile) }

// ConfigFiles implements ConfigFiler: the JSON VM description.
func (f firecracker) ConfigFiles(s Spec) ([]File, error) {
	if err := f.Validate(s); err != nil {
		return nil, err
	}
	data, err := renderJSON(firecrackerConfig(s))
	if err != nil {
		return nil, fmt.Errorf("firecracker: render config: %w", err)
	}
	return []File{{Path: firecrackerConfigPath(s), Data: data, Mode: 0o600}}, nil
}

// The config file, in Firecracker's field names. Empty lists are written
// as [] (Firecracker's own examples do so).
type fcConfig struct {
	BootSource fcBootSource `json:"boot-source"`
	Machine    fcMachine    `json:"machine-config"`
	Drives     []fcDrive    `json:"drives"`
	Network    []fcNet      `json:"network-interfaces"`
	Vsock      *fcVsock     `json:"vsock,omitempty"`
}

// fcVsock is the hybrid vsock device: the host connects to UDSPath and
// writes "CONNECT <port>\n" to reach a guest port.
type fcVsock struct {
	GuestCID uint32 `json:"guest_cid"`
	UDSPath  string `json:"uds_path"`
}

type fcBootSource struct {
	Kernel  string `json:"kernel_image_path"`
	Cmdline string `json:"boot_args"`
	Initrd  string `json:"initrd_path,omitempty"`
}

type fcMachine struct {
	VCPUs     int    `json:"vcpu_count"`
	MemoryMiB uint64 `json:"mem_size_mib"`
	SMT       bool   `json:"smt"`
}

type fcDrive struct {
	ID       string `json:"drive_id"`
	Path     string `json:"path_on_host"`
	Root     bool   `json:"is_root_device"`
	ReadOnly bool   `json:"is_read_only"`
}

type fcNet struct {
	ID  string `json:"iface_id"`
	Tap string `json:"host_dev_name"`
	MAC string `json:"guest_mac"`
}

// firecrackerConfig maps a validated Spec to the config file.
func firecrackerConfig(s Spec) fcConfig {
	c := fcConfig{
		BootSource: fcBootSource{Kernel: s.Kernel, Cmdline: s.Cmdline, Initrd: s.Initrd},
		Machine:    fcMachine{VCPUs: s.VCPUs, MemoryMiB: s.MemoryMiB},
		Drives:     []fcDrive{},
		Network:    []fcNet{},
	}
	for i, b := range s.Block {
		c.Drives = append(c.Drives, fcDrive{ID: firecrackerDriveID(i, b), Path: b.Path, Root: b.Root, ReadOnly: b.ReadOnly})
	}
	if s.Net != nil {
		c.Network = append(c.Network, fcNet{ID: firecrackerIfaceID, Tap: s.Net.Tap, MAC: s.Net.MAC})
	}
	if s.AgentSocket != "" {
		c.Vsock = &fcVsock{GuestCID: AgentCID, UDSPath: s.AgentSocket}
	}
	return c
}

// renderJSON is indented JSON with a final newline, HTML characters left
// as they are.
func renderJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
