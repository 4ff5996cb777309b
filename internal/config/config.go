// Package config is urunc's host configuration: /etc/urunc/config.toml, with
// every default in one place (Default). The file is optional; keys it sets
// override the defaults, unknown keys are errors.
//
// The VMM sections ([<name>] binary, memory_overhead_mib, ...) are not
// written out here: there is one per VMM that internal/vmm registers, with
// the defaults its Descriptor declares, so that adding a VMM needs no change
// to this package.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/urunc-runtime/urunc/internal/vmm"
	"github.com/urunc-runtime/urunc/internal/vmmseccomp"
)

// DefaultPath is where the host configuration lives.
const DefaultPath = "/etc/urunc/config.toml"

// PathEnv overrides DefaultPath (used by tests and unusual installs).
const PathEnv = "URUNC_CONFIG"

// Config is the host configuration.
type Config struct {
	// VM sizes and accelerates every guest, whatever its VMM.
	VM VM
	// VMMs are the per-VMM sections, [<name>], one for each registered
	// VMM (vmm.Supported), keyed by its name.
	VMMs   map[vmm.Name]*VMMSettings
	Linux  Linux
	API    API
	Host   Host
	Limits Limits // bound what urunc copies out of an image
	// Security holds switches for operators who want urunc stricter.
	Security Security
	// Templates configures warm starts from VM templates.
	Templates Templates

	// Deprecations are the warnings for deprecated keys the file set, one
	// per key, for the caller to log: Load has no logger, and the
	// configuration is loaded again by every urunc process, so logging
	// here would repeat them.
	Deprecations []string

	// Path is the file Load read, or would have read when it is absent;
	// for error messages that tell the user where to change a setting.
	Path string

	// source maps a key ("vm.accel") to the deprecated key the file set it
	// with (aliases), so that Validate names the key the user wrote.
	source map[string]string
}

// VM is the [vm] section: guest sizing and the accelerator.
type VM struct {
	// Accel is auto, kvm or tcg. Only a VMM that can emulate (lists tcg in
	// its descriptor) has a choice; the others need KVM whatever it says.
	Accel            vmm.Accel
	DefaultMemoryMiB uint64 // guest memory without a memory limit
	MinMemoryMiB     uint64 // smallest guest a memory limit may leave
	DefaultVCPUs     int    // vcpus without a cpu quota or cpuset
}

// VMMSettings is a VMM's section, [<name>].
type VMMSettings struct {
	// Binary is the VMM's absolute path. It is not looked up in $PATH:
	// the runtime is started by containerd, podman or docker with their
	// own PATH, and the VMM must be a known host binary, so the same
	// config gives the same VMM whoever starts urunc.
	Binary string
	// MemoryOverheadMiB is subtracted from a container's memory limit for
	// the VMM process itself, so that VMM and guest fit in the cgroup.
	MemoryOverheadMiB uint64
	// Sandbox turns on the VMM's own syscall filter; a key only of VMMs
	// that have one (Descriptor.OwnSandbox).
	Sandbox bool
	// Seccomp is the filter urunc installs for a VMM with none of its own:
	// enforce, log (allow, but have the kernel log what the policy would
	// deny) or off; a key only of the VMMs vmmseccomp.For has a policy for.
	Seccomp vmmseccomp.Mode
}

// Linux configures Linux guests.
type Linux struct {
	KernelArgs string // extra kernel parameters for every Linux guest
	// Urunit is the host path of the static urunit binary copied into each
	// Linux guest's initramfs (where 'make install' puts it).
	Urunit string
	// StopGraceSeconds is how long a guest asked to stop (kill with
	// SIGTERM, SIGINT, SIGHUP or SIGQUIT) may take before its VMM is killed.
	StopGraceSeconds int
}

// Security makes urunc stricter than runc-compatible.
type Security struct {
	// RequireUnikernel refuses, at create, a container whose image carries
	// no unikernel metadata, except a pod's sandbox (pause) container: for
	// a RuntimeClass that must never run an application on the host
	// kernel. A container can ask for the same with the annotation
	// com.urunc.unikernel.required = "true".
	RequireUnikernel bool
}

// Templates is the [templates] section: Linux guests on a VMM that can
// (QEMU) start from a saved VM template of their image instead of booting.
type Templates struct {
	// Enabled turns warm starts on; an image or container opts out with
	// the annotation com.urunc.template = "off".
	Enabled bool
	// Dir holds the templates, one folder per image, kernel, VMM and
	// machine shape; root's alone.
	Dir string
	// MaxBytes caps the disk the templates take; create evicts the least
	// recently used beyond it.
	MaxBytes int64
	// BuildTimeoutSeconds bounds a template's boot, after which the guest
	// boots cold instead.
	BuildTimeoutSeconds int
}

// API configures the VMMs' management sockets.
type API struct {
	// Socket makes the VMMs that have a management API listen on a UNIX
	// socket in the VM's run folder, /urunc/run/api.sock inside the
	// container (on the host: /proc/<pid>/root/urunc/run/api.sock, whose
	// length does not depend on the container id). Off by default: the
	// socket controls the whole VM, and nothing in urunc needs it.
	Socket bool
}

// Host names the host devices urunc hands to VMMs.
type Host struct {
	// KVMDevice is the KVM device node: probed at create and given to
	// the VMMs that use KVM as /dev/kvm. A test and debug setting: on a
	// real host leave it at /dev/kvm. Tests point it at a harmless
	// character device so the paths of the KVM-only VMMs run on machines
	// without KVM, or at a missing path to play such a machine.
	KVMDevice string
}

// Limits bound the work an image can make urunc do on the host. Image
// contents are untrusted: without a bound, a rootfs of large (or sparse,
// or many times hard-linked) files fills the disk with the initrd.
type Limits struct {
	// InitrdMaxBytes caps the initrd urunc builds for a guest, in total:
	// the image's initrd, the archive of the rootfs and urunit, and the kernel modules
	// read for a block root. The kernel copied out of a block root is
	// capped by it as well.
	InitrdMaxBytes int64
}

// MinInitrdMaxBytes is the smallest limits.initrd_max_bytes: urunit alone
// takes a few MiB.
const MinInitrdMaxBytes = 16 << 20

// maxMiB bounds the memory sizes, far above any machine's memory: the TOML
// decoder stores -1 in an unsigned key as 2^64-1, and a sum with such an
// overhead would wrap around to a small minimum and a huge guest.
const maxMiB = 1 << 40

// Default returns the built-in configuration. The VMM sections take their
// defaults from the VMM descriptors.
func Default() *Config {
	c := &Config{
		VM: VM{
			Accel:            vmm.AccelAuto,
			DefaultMemoryMiB: 256,
			MinMemoryMiB:     96, // Debian's kernel does not boot in 64
			DefaultVCPUs:     1,
		},
		VMMs: map[vmm.Name]*VMMSettings{},
		Linux: Linux{
			Urunit:           "/usr/local/bin/urunit",
			StopGraceSeconds: 10,
		},
		Host:      Host{KVMDevice: vmm.KVMDevice},
		Limits:    Limits{InitrdMaxBytes: 2 << 30},
		Templates: Templates{Dir: "/var/lib/urunc/templates", MaxBytes: 4 << 30, BuildTimeoutSeconds: 60},
	}
	for _, n := range vmm.Supported() {
		d, _ := vmm.Describe(n) // n is registered
		s := &VMMSettings{Binary: d.DefaultBinary, MemoryOverheadMiB: d.MemoryOverheadMiB, Sandbox: d.OwnSandbox}
		if confined(n) {
			s.Seccomp = vmmseccomp.Enforce
		}
		c.VMMs[n] = s
	}
	return c
}

// confined reports whether urunc installs a seccomp filter for VMM n, which
// makes [<n>] seccomp a key.
func confined(n vmm.Name) bool {
	_, ok := vmmseccomp.For(string(n))
	return ok
}

// emulates reports whether a VMM can run guests without KVM by emulating
// the CPU (its descriptor lists tcg).
func emulates(d vmm.Descriptor) bool { return slices.Contains(d.Accels, vmm.AccelTCG) }

// Path is the configuration file to read: $URUNC_CONFIG if set, else
// DefaultPath.
func Path() string {
	if p := os.Getenv(PathEnv); p != "" {
		return p
	}
	return DefaultPath
}

// keys returns where each key of the file goes, by dotted name
// ("vm.accel"), pointing into c. A VMM's section has only the keys that
// mean something for it: sandbox for a VMM with a filter of its own,
// seccomp for one urunc confines.
func (c *Config) keys() map[string]any {
	k := map[string]any{
		"vm.accel":                        &c.VM.Accel,
		"vm.default_memory_mib":           &c.VM.DefaultMemoryMiB,
		"vm.min_memory_mib":               &c.VM.MinMemoryMiB,
		"vm.default_vcpus":                &c.VM.DefaultVCPUs,
		"linux.kernel_args":               &c.Linux.KernelArgs,
		"linux.urunit":                    &c.Linux.Urunit,
		"linux.stop_grace_seconds":        &c.Linux.StopGraceSeconds,
		"api.socket":                      &c.API.Socket,
		"host.kvm_device":                 &c.Host.KVMDevice,
		"limits.initrd_max_bytes":         &c.Limits.InitrdMaxBytes,
		"security.require_unikernel":      &c.Security.RequireUnikernel,
		"templates.enabled":               &c.Templates.Enabled,
		"templates.dir":                   &c.Templates.Dir,
		"templates.max_bytes":             &c.Templates.MaxBytes,
		"templates.build_timeout_seconds": &c.Templates.BuildTimeoutSeconds,
	}
	for _, n := range vmm.Supported() {
		s, d := c.VMMs[n], describe(n)
		if s == nil { // a Config not made by Default
			continue
		}
		sec := string(n) + "."
		k[sec+"binary"] = &s.Binary
		k[sec+"memory_overhead_mib"] = &s.MemoryOverheadMiB
		if d.OwnSandbox {
			k[sec+"sandbox"] = &s.Sandbox
		}
		if confined(n) {
			k[sec+"seccomp"] = &s.Seccomp
		}
	}
	return k
}

// aliases maps each deprecated key to the key that replaced it, both
// dotted. They are derived from the descriptors, as the old layout was:
//   - the [vm] keys lived in the section of the VMM that emulates, which
//     was the only VMM with a section of its own;
//   - the other VMMs' binaries were [binaries] <name>;
//   - urunc's seccomp filter for a VMM was [<platform>] <name>_seccomp, in
//     the section of the VMM's platform (the tenders').
func aliases() map[string]string {
	a := map[string]string{}
	for _, n := range vmm.Supported() {
		d := describe(n)
		if emulates(d) {
			for _, key := range []string{"accel", "default_memory_mib", "min_memory_mib", "default_vcpus"} {
				a[string(n)+"."+key] = "vm." + key
			}
		}
		a[legacyBinaries+"."+string(n)] = string(n) + ".binary"
		if confined(n) && d.Platform != "" && vmm.Name(d.Platform) != n {
			a[d.Platform+"."+string(n)+"_seccomp"] = string(n) + ".seccomp"
		}
	}
	return a
}

// legacyBinaries is the deprecated section of the VMMs' binaries.
const legacyBinaries = "binaries"

func describe(n vmm.Name) vmm.Descriptor {
	d, _ := vmm.Describe(n) // every caller iterates vmm.Supported()
	return d
}

// Load reads the configuration at path (Path() when path is empty). A missing
// file yields the defaults; any other read error, a syntax error, an unknown
// key, a key set both under its deprecated and its current name, or an
// invalid value is an error naming the file. Deprecated keys are accepted and
// listed in Config.Deprecations.
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
	if err := c.decode(string(data)); err != nil {
		return nil, fmt.Errorf("load config %q: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("load config %q: %w", path, err)
	}
	return c, nil
}

// decode sets the keys the TOML document data sets. Sections are read as
// raw values first because the VMM sections are known only at run time;
// whatever no key claims stays undecoded and is reported as unknown.
func (c *Config) decode(data string) error {
	var top map[string]toml.Primitive
	md, err := toml.Decode(data, &top)
	if err != nil {
		return err
	}
	keys, old := c.keys(), aliases()
	sections := map[string]bool{}
	for k := range keys {
		sections[sectionOf(k)] = true
	}
	for k := range old {
		sections[sectionOf(k)] = true
	}
	// Every key the file sets, in a known section, with its raw value.
	set := map[string]toml.Primitive{}
	for _, sec := range sortedKeys(top) {
		if !sections[sec] {
			continue // left undecoded: reported with its keys below
		}
		if typ := md.Type(sec); typ != "Hash" {
			return fmt.Errorf("%w: [%s] is a %s, not a section", ErrInvalidValue, sec, typ)
		}
		var fields map[string]toml.Primitive
		if err := md.PrimitiveDecode(top[sec], &fields); err != nil {
			return fmt.Errorf("[%s]: %w", sec, err)
		}
		for name, v := range fields {
			set[sec+"."+name] = v
		}
	}
	for _, k := range sortedKeys(set) {
		if dst, ok := keys[k]; ok {
			if err := md.PrimitiveDecode(set[k], dst); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	for _, k := range sortedKeys(set) {
		current, ok := old[k]
		if !ok {
			continue
		}
		if _, both := set[current]; both {
			return fmt.Errorf("%w: %s and %s are the same setting (%s is its deprecated name): keep only %s",
				ErrConflict, bracket(k), bracket(current), bracket(k), bracket(current))
		}
		dst, ok := keys[current]
		if !ok {
			continue // cannot happen: every alias names a key
		}
		if err := md.PrimitiveDecode(set[k], dst); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if c.source == nil {
			c.source = map[string]string{}
		}
		c.source[current] = k
		c.Deprecations = append(c.Deprecations,
			fmt.Sprintf("%s is deprecated: use %s in %s", bracket(k), bracket(current), c.Path))
	}
	return unknownKeys(md, keys, old, sections)
}

// unknownKeys reports the keys of the file that no key or alias claims.
// (md.Undecoded cannot tell: decoding the sections into maps marks every
// key in them as decoded.)
func unknownKeys(md toml.MetaData, keys map[string]any, old map[string]string, sections map[string]bool) error {
	var unknown []string
	for _, k := range md.Keys() {
		known := len(k) == 1 && sections[k[0]]
		if len(k) >= 2 {
			_, isKey := keys[k[0]+"."+k[1]]
			_, isAlias := old[k[0]+"."+k[1]]
			known = isKey || isAlias
		}
		if known {
			continue
		}
		// An unknown name in [binaries] is a VMM urunc does not have,
		// which deserves the list of those it has.
		if len(k) == 2 && k[0] == legacyBinaries {
			return invalidKey(k.String(), "unknown hypervisor (known: %v)", vmm.Supported())
		}
		unknown = append(unknown, k.String())
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%w: %s", ErrUnknownKey, quoteAll(unknown))
	}
	return nil
}

// Validate checks the values; each error names the key, as the file set it.
func (c *Config) Validate() error {
	v := c.VM
	switch {
	case v.Accel != vmm.AccelAuto && v.Accel != vmm.AccelKVM && v.Accel != vmm.AccelTCG:
		return c.invalid("vm.accel", "%q is not %q, %q or %q", v.Accel, vmm.AccelAuto, vmm.AccelKVM, vmm.AccelTCG)
	case v.DefaultMemoryMiB > maxMiB:
		return c.invalid("vm.default_memory_mib", "%d is above %d", v.DefaultMemoryMiB, uint64(maxMiB))
	case v.MinMemoryMiB == 0:
		return c.invalid("vm.min_memory_mib", "must be at least 1")
	case v.DefaultMemoryMiB < v.MinMemoryMiB:
		return c.invalid("vm.default_memory_mib", "%d is below %s (%d)", v.DefaultMemoryMiB, c.key("vm.min_memory_mib"), v.MinMemoryMiB)
	case v.DefaultVCPUs < 1:
		return c.invalid("vm.default_vcpus", "%d is below 1", v.DefaultVCPUs)
	case !filepath.IsAbs(c.Linux.Urunit):
		return c.invalid("linux.urunit", "%q is not an absolute path", c.Linux.Urunit)
	case c.Linux.StopGraceSeconds < 0:
		return c.invalid("linux.stop_grace_seconds", "%d is below 0", c.Linux.StopGraceSeconds)
	case !filepath.IsAbs(c.Host.KVMDevice):
		return c.invalid("host.kvm_device", "%q is not an absolute path", c.Host.KVMDevice)
	case c.Limits.InitrdMaxBytes < MinInitrdMaxBytes:
		return c.invalid("limits.initrd_max_bytes", "%d is below %d (16 MiB)", c.Limits.InitrdMaxBytes, MinInitrdMaxBytes)
	case !filepath.IsAbs(c.Templates.Dir) || filepath.Clean(c.Templates.Dir) == "/":
		return c.invalid("templates.dir", "%q is not an absolute path below /", c.Templates.Dir)
	case c.Templates.MaxBytes < 0:
		return c.invalid("templates.max_bytes", "%d is below 0", c.Templates.MaxBytes)
	case c.Templates.BuildTimeoutSeconds < 1:
		return c.invalid("templates.build_timeout_seconds", "%d is below 1", c.Templates.BuildTimeoutSeconds)
	}
	for _, n := range vmm.Supported() {
		s := c.VMMs[n]
		if s == nil {
			return c.invalid(string(n), "section missing (build the Config with Default)")
		}
		if !filepath.IsAbs(s.Binary) {
			return c.invalid(string(n)+".binary", "%q is not an absolute path", s.Binary)
		}
		if s.MemoryOverheadMiB > maxMiB {
			return c.invalid(string(n)+".memory_overhead_mib", "%d is above %d", s.MemoryOverheadMiB, uint64(maxMiB))
		}
		if confined(n) {
			if _, err := vmmseccomp.ParseMode(string(s.Seccomp)); err != nil {
				return c.invalid(string(n)+".seccomp", "%v", err)
			}
		}
	}
	return nil
}

// key is the name key was set by in the file: its deprecated name when the
// file used that.
func (c *Config) key(key string) string {
	if old, ok := c.source[key]; ok {
		return old
	}
	return key
}

func (c *Config) invalid(key, format string, a ...any) error {
	return invalidKey(c.key(key), format, a...)
}

func invalidKey(key, format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidValue, key, fmt.Sprintf(format, a...))
}

// sectionOf is the section of a dotted key.
func sectionOf(key string) string {
	sec, _, _ := strings.Cut(key, ".")
	return sec
}

// bracket writes a dotted key the way the file does: "[vm] accel".
func bracket(key string) string {
	sec, name, _ := strings.Cut(key, ".")
	return "[" + sec + "] " + name
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
