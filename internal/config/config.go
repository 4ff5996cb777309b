// Package config is urunc's host configuration: /etc/urunc/config.toml, with
// every default in one place (Default). The file is optional; keys it sets
// override the defaults, unknown keys are errors.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/urunc-dev/urunc/internal/sandbox"
	"github.com/urunc-dev/urunc/internal/vmm"
)

// DefaultPath is where the host configuration lives.
const DefaultPath = "/etc/urunc/config.toml"

// PathEnv overrides DefaultPath (used by tests and unusual installs).
const PathEnv = "URUNC_CONFIG"

// Config is the host configuration.
type Config struct {
	QEMU  QEMU  `toml:"qemu"`
	Linux Linux `toml:"linux"`
	Solo5 Solo5 `toml:"solo5"`
	API   API   `toml:"api"`
	Host  Host  `toml:"host"`
	// Limits bound what urunc copies out of an image.
	Limits Limits `toml:"limits"`
	// Binaries are the host paths of the other VMMs, by hypervisor name
	// (firecracker, hvt, spt, cloud-hypervisor). QEMU's is [qemu] binary.
	Binaries map[string]string `toml:"binaries"`

	// Path is the file Load read, or would have read when it is absent;
	// for error messages that tell the user where to change a setting.
	Path string `toml:"-"`
}

// QEMU configures the QEMU VMM and guest sizing.
type QEMU struct {
	// Binary is the absolute path of qemu-system-x86_64. It is not looked
	// up in $PATH: the runtime is started by containerd, podman or docker
	// with their own PATH, and the VMM must be a known host binary, so the
	// same config gives the same VMM whoever starts urunc.
	Binary            string    `toml:"binary"`
	Accel             vmm.Accel `toml:"accel"`               // auto, kvm or tcg
	DefaultMemoryMiB  uint64    `toml:"default_memory_mib"`  // guest memory without a memory limit
	MemoryOverheadMiB uint64    `toml:"memory_overhead_mib"` // subtracted from the memory limit for QEMU itself
	MinMemoryMiB      uint64    `toml:"min_memory_mib"`      // smallest guest the limit may leave
	DefaultVCPUs      int       `toml:"default_vcpus"`       // vcpus without a cpu quota or cpuset
	Sandbox           bool      `toml:"sandbox"`             // QEMU's -sandbox seccomp filter
}

// Linux configures Linux guests.
type Linux struct {
	KernelArgs string `toml:"kernel_args"` // extra kernel parameters for every Linux guest
	// Urunit is the host path of the static urunit binary copied into each
	// Linux guest's initramfs (where 'make install' puts it).
	Urunit string `toml:"urunit"`
	// StopGraceSeconds is how long a guest asked to stop (kill with
	// SIGTERM, SIGINT, SIGHUP or SIGQUIT) may take before its VMM is killed.
	StopGraceSeconds int `toml:"stop_grace_seconds"`
}

// API configures the VMMs' management sockets.
type API struct {
	// Socket makes QEMU (QMP), Firecracker and Cloud Hypervisor listen on
	// a UNIX socket in the VM's run folder, /urunc/run/api.sock inside the
	// container (on the host: /proc/<pid>/root/urunc/run/api.sock, whose
	// length does not depend on the container id). Off by default: the
	// socket controls the whole VM, and nothing in urunc needs it.
	Socket bool `toml:"socket"`
}

// Host names the host devices urunc hands to VMMs.
type Host struct {
	// KVMDevice is the KVM device node: probed at create and given to
	// the VMMs that use KVM as /dev/kvm. A test and debug setting: on a
	// real host leave it at /dev/kvm. Tests point it at a harmless
	// character device so the paths of the KVM-only VMMs run on machines
	// without KVM, or at a missing path to play such a machine.
	KVMDevice string `toml:"kvm_device"`
}

// Limits bound the work an image can make urunc do on the host. Image
// contents are untrusted: without a bound, a rootfs of large (or sparse,
// or many times hard-linked) files fills the disk with the initrd.
type Limits struct {
	// InitrdMaxBytes caps a Linux guest's initrd in total: the image's
	// initrd, the archive of the rootfs and urunit, and the kernel modules
	// read for a block root. The kernel copied out of a block root is
	// capped by it as well.
	InitrdMaxBytes int64 `toml:"initrd_max_bytes"`
}

// MinInitrdMaxBytes is the smallest limits.initrd_max_bytes: urunit alone
// takes a few MiB.
const MinInitrdMaxBytes = 16 << 20

// Solo5 configures the Solo5 tenders.
type Solo5 struct {
	// HVTSeccomp is the seccomp filter urunc installs for solo5-hvt, which
	// has none of its own on Linux: enforce, log (allow, but have the
	// kernel log what the policy would deny) or off.
	HVTSeccomp sandbox.Mode `toml:"hvt_seccomp"`
}

// Default returns the built-in configuration.
func Default() *Config {
	return &Config{
		QEMU: QEMU{
			Binary:            "/usr/bin/qemu-system-x86_64",
			Accel:             vmm.AccelAuto,
			DefaultMemoryMiB:  256,
			MemoryOverheadMiB: 96,
			MinMemoryMiB:      96,
			DefaultVCPUs:      1,
			Sandbox:           true,
		},
		Binaries: map[string]string{
			"firecracker":      "/usr/local/bin/firecracker",
			"hvt":              "/usr/local/bin/solo5-hvt",
			"spt":              "/usr/local/bin/solo5-spt",
			"cloud-hypervisor": "/usr/local/bin/cloud-hypervisor",
		},
		Linux: Linux{
			Urunit:           "/usr/local/bin/urunit",
			StopGraceSeconds: 10,
		},
		Solo5:  Solo5{HVTSeccomp: sandbox.Enforce},
		Host:   Host{KVMDevice: vmm.KVMDevice},
		Limits: Limits{InitrdMaxBytes: 2 << 30},
	}
}

// Path is the configuration file to read: $URUNC_CONFIG if set, else
// DefaultPath.
func Path() string {
	if p := os.Getenv(PathEnv); p != "" {
		return p
	}
	return DefaultPath
}

// Load reads the configuration at path (Path() when path is empty). A missing
// file yields the defaults; any other read error, a syntax error, an unknown
// key or an invalid value is an error naming the file.
func Load(path string) (*Config, error) {
	if path == "" {
		path = Path()
	}
	c := Default()
	c.Path = path
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	md, err := toml.Decode(string(data), c)
	if err != nil {
		return nil, fmt.Errorf("load config %q: %w", path, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("load config %q: %w: %s", path, ErrUnknownKey, quoteAll(keys))
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("load config %q: %w", path, err)
	}
	return c, nil
}

// Validate checks the values; each error names the key.
func (c *Config) Validate() error {
	q := c.QEMU
	switch {
	case !filepath.IsAbs(q.Binary):
		return invalid("qemu.binary", "%q is not an absolute path", q.Binary)
	case q.Accel != vmm.AccelAuto && q.Accel != vmm.AccelKVM && q.Accel != vmm.AccelTCG:
		return invalid("qemu.accel", "%q is not %q, %q or %q", q.Accel, vmm.AccelAuto, vmm.AccelKVM, vmm.AccelTCG)
	case q.MinMemoryMiB == 0:
		return invalid("qemu.min_memory_mib", "must be at least 1")
	case q.DefaultMemoryMiB < q.MinMemoryMiB:
		return invalid("qemu.default_memory_mib", "%d is below qemu.min_memory_mib (%d)", q.DefaultMemoryMiB, q.MinMemoryMiB)
	case q.DefaultVCPUs < 1:
		return invalid("qemu.default_vcpus", "%d is below 1", q.DefaultVCPUs)
	case !filepath.IsAbs(c.Linux.Urunit):
		return invalid("linux.urunit", "%q is not an absolute path", c.Linux.Urunit)
	case c.Linux.StopGraceSeconds < 0:
		return invalid("linux.stop_grace_seconds", "%d is below 0", c.Linux.StopGraceSeconds)
	case !filepath.IsAbs(c.Host.KVMDevice):
		return invalid("host.kvm_device", "%q is not an absolute path", c.Host.KVMDevice)
	case c.Limits.InitrdMaxBytes < MinInitrdMaxBytes:
		return invalid("limits.initrd_max_bytes", "%d is below %d (16 MiB)", c.Limits.InitrdMaxBytes, MinInitrdMaxBytes)
	}
	if _, err := sandbox.ParseMode(string(c.Solo5.HVTSeccomp)); err != nil {
		return invalid("solo5.hvt_seccomp", "%v", err)
	}
	for name, path := range c.Binaries {
		if _, known := Default().Binaries[name]; !known {
			return invalid("binaries."+name, "unknown hypervisor (known: firecracker, hvt, spt, cloud-hypervisor; qemu is [qemu] binary)")
		}
		if !filepath.IsAbs(path) {
			return invalid("binaries."+name, "%q is not an absolute path", path)
		}
	}
	return nil
}

func invalid(key, format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidValue, key, fmt.Sprintf(format, a...))
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
