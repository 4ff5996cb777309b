package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/urunc-runtime/urunc/internal/vmm"
	"github.com/urunc-runtime/urunc/internal/vmmseccomp"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadMissingIsDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.toml")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != path {
		t.Errorf("Path = %q, want %q", c.Path, path)
	}
	c.Path = ""
	if !reflect.DeepEqual(*c, *Default()) {
		t.Fatalf("got %+v, want defaults %+v", c, Default())
	}
	if err := Default().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestLoadOverrides(t *testing.T) {
	path := writeConfig(t, `
[vm]
accel = "tcg"
default_memory_mib = 512
min_memory_mib = 128
default_vcpus = 2

[qemu]
binary = "/opt/qemu/bin/qemu-system-x86_64"
memory_overhead_mib = 32
sandbox = false

[firecracker]
binary = "/opt/fc/firecracker"
memory_overhead_mib = 48

[hvt]
seccomp = "log"

[linux]
kernel_args = "loglevel=7"
urunit = "/opt/urunc/urunit"

[host]
kvm_device = "/run/test/kvm"

[limits]
initrd_max_bytes = 536870912
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.VM = VM{Accel: vmm.AccelTCG, DefaultMemoryMiB: 512, MinMemoryMiB: 128, DefaultVCPUs: 2}
	want.VMMs[vmm.QEMU].Binary = "/opt/qemu/bin/qemu-system-x86_64"
	want.VMMs[vmm.QEMU].MemoryOverheadMiB = 32
	want.VMMs[vmm.QEMU].Sandbox = false
	want.VMMs[vmm.Firecracker].Binary = "/opt/fc/firecracker"
	want.VMMs[vmm.Firecracker].MemoryOverheadMiB = 48
	want.VMMs[vmm.HVT].Seccomp = vmmseccomp.Log
	want.Linux.KernelArgs = "loglevel=7"
	want.Linux.Urunit = "/opt/urunc/urunit"
	want.Host.KVMDevice = "/run/test/kvm"
	want.Limits.InitrdMaxBytes = 512 << 20
	want.Path = path
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	if len(c.Deprecations) != 0 {
		t.Errorf("current keys gave deprecation warnings: %q", c.Deprecations)
	}
}

func TestLoadEnvPath(t *testing.T) {
	path := writeConfig(t, "[vm]\ndefault_vcpus = 3\n")
	t.Setenv(PathEnv, path)
	if Path() != path {
		t.Fatalf("Path() = %q, want %q", Path(), path)
	}
	c, err := Load("")
	if err != nil || c.VM.DefaultVCPUs != 3 {
		t.Fatalf("Load(\"\") = %+v, %v", c, err)
	}
	t.Setenv(PathEnv, "")
	if Path() != DefaultPath {
		t.Errorf("Path() = %q without env, want %q", Path(), DefaultPath)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, body string
		err        error
		mention    string
	}{
		{"unknown key", "[qemu]\nbinray = \"/x\"\n", ErrUnknownKey, `"qemu.binray"`},
		{"unknown table", "[no-such-vmm]\nbinary = \"/x\"\n", ErrUnknownKey, `"no-such-vmm.binary"`},
		{"bad accel", "[qemu]\naccel = \"hvf\"\n", ErrInvalidValue, "qemu.accel"},
		{"relative binary", "[qemu]\nbinary = \"qemu-system-x86_64\"\n", ErrInvalidValue, "qemu.binary"},
		{"relative urunit", "[linux]\nurunit = \"bin/urunit\"\n", ErrInvalidValue, "linux.urunit"},
		{"zero vcpus", "[qemu]\ndefault_vcpus = 0\n", ErrInvalidValue, "qemu.default_vcpus"},
		{"zero min", "[qemu]\nmin_memory_mib = 0\n", ErrInvalidValue, "qemu.min_memory_mib"},
		{"default below min", "[qemu]\ndefault_memory_mib = 32\n", ErrInvalidValue, "qemu.default_memory_mib"},
		{"wrong type", "[qemu]\nsandbox = \"yes\"\n", nil, "sandbox"},
		{"syntax", "[qemu\n", nil, "config.toml"},
		{"unknown vmm binary", "[binaries]\nno-such-vmm = \"/x\"\n", ErrInvalidValue, "binaries.no-such-vmm"},
		{"relative vmm binary", "[binaries]\nfirecracker = \"firecracker\"\n", ErrInvalidValue, "binaries.firecracker"},
		{"relative kvm device", "[host]\nkvm_device = \"dev/kvm\"\n", ErrInvalidValue, "host.kvm_device"},
		{"initrd limit too small", "[limits]\ninitrd_max_bytes = 1024\n", ErrInvalidValue, "limits.initrd_max_bytes"},
		{"negative initrd limit", "[limits]\ninitrd_max_bytes = -1\n", ErrInvalidValue, "limits.initrd_max_bytes"},
		{"relative templates dir", "[templates]\ndir = \"templates\"\n", ErrInvalidValue, "templates.dir"},
		{"templates dir is the root", "[templates]\ndir = \"/\"\n", ErrInvalidValue, "templates.dir"},
		{"negative templates limit", "[templates]\nmax_bytes = -1\n", ErrInvalidValue, "templates.max_bytes"},
		{"no template build time", "[templates]\nbuild_timeout_seconds = 0\n", ErrInvalidValue, "templates.build_timeout_seconds"},
		{"bad hvt seccomp mode", "[solo5]\nhvt_seccomp = \"permissive\"\n", ErrInvalidValue, "solo5.hvt_seccomp"},
		// The current keys.
		{"bad vm accel", "[vm]\naccel = \"hvf\"\n", ErrInvalidValue, "vm.accel"},
		{"zero vm vcpus", "[vm]\ndefault_vcpus = 0\n", ErrInvalidValue, "vm.default_vcpus"},
		{"zero vm min", "[vm]\nmin_memory_mib = 0\n", ErrInvalidValue, "vm.min_memory_mib"},
		{"vm default below min", "[vm]\ndefault_memory_mib = 32\n", ErrInvalidValue, "vm.default_memory_mib"},
		{"alias below current min", "[vm]\nmin_memory_mib = 300\n[qemu]\ndefault_memory_mib = 200\n", ErrInvalidValue,
			"qemu.default_memory_mib: 200 is below vm.min_memory_mib (300)"},
		{"unknown vm key", "[vm]\nmemory = 1\n", ErrUnknownKey, `"vm.memory"`},
		{"relative vmm section binary", "[firecracker]\nbinary = \"firecracker\"\n", ErrInvalidValue, "firecracker.binary"},
		{"relative cloud-hypervisor binary", "[cloud-hypervisor]\nbinary = \"ch\"\n", ErrInvalidValue, "cloud-hypervisor.binary"},
		{"unknown vmm section key", "[spt]\nbinray = \"/x\"\n", ErrUnknownKey, `"spt.binray"`},
		{"sandbox of a vmm without one", "[firecracker]\nsandbox = true\n", ErrUnknownKey, `"firecracker.sandbox"`},
		{"seccomp of a vmm urunc does not confine", "[qemu]\nseccomp = \"off\"\n", ErrUnknownKey, `"qemu.seccomp"`},
		{"vm keys only in [vm] and their old home", "[firecracker]\naccel = \"kvm\"\n", ErrUnknownKey, `"firecracker.accel"`},
		{"bad vmm seccomp mode", "[hvt]\nseccomp = \"permissive\"\n", ErrInvalidValue, "hvt.seccomp"},
		{"negative overhead", "[hvt]\nmemory_overhead_mib = -1\n", ErrInvalidValue, "hvt.memory_overhead_mib"},
		{"unknown key in old platform section", "[solo5]\nspt_seccomp = \"off\"\n", ErrUnknownKey, `"solo5.spt_seccomp"`},
		{"top-level key", "accel = \"kvm\"\n", ErrUnknownKey, `"accel"`},
		{"negative default memory", "[vm]\ndefault_memory_mib = -1\n", ErrInvalidValue, "vm.default_memory_mib"},
		{"section not a table", "vm = 1\n", nil, "[vm]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeConfig(t, c.body)
			_, err := Load(path)
			if err == nil || (c.err != nil && !errors.Is(err, c.err)) {
				t.Fatalf("Load = %v, want %v", err, c.err)
			}
			if !strings.Contains(err.Error(), c.mention) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q should name %q and the file", err, c.mention)
			}
		})
	}
}

func TestLoadUnreadable(t *testing.T) {
	if _, err := Load(t.TempDir()); err == nil { // a directory
		t.Fatal("Load(directory) succeeded")
	}
}

// Every registered VMM has a section whose defaults are its descriptor's.
func TestDefaultsFromDescriptors(t *testing.T) {
	c := Default()
	if len(c.VMMs) != len(vmm.Supported()) {
		t.Errorf("%d VMM sections, want one per registered VMM %v", len(c.VMMs), vmm.Supported())
	}
	for _, n := range vmm.Supported() {
		d, err := vmm.Describe(n)
		if err != nil {
			t.Fatal(err)
		}
		s := c.VMMs[n]
		if s == nil {
			t.Errorf("no [%s] section", n)
			continue
		}
		_, confined := vmmseccomp.For(string(n))
		want := VMMSettings{Binary: d.DefaultBinary, MemoryOverheadMiB: d.MemoryOverheadMiB, Sandbox: d.OwnSandbox}
		if confined {
			want.Seccomp = vmmseccomp.Enforce
		}
		if *s != want {
			t.Errorf("[%s] = %+v, want %+v", n, *s, want)
		}
		if c.VMMBinary(n) != d.DefaultBinary || c.MemoryOverheadMiB(n) != d.MemoryOverheadMiB ||
			c.VMMSandbox(n) != d.OwnSandbox || c.BinaryKey(n) != "["+string(n)+"] binary" {
			t.Errorf("accessors of %s disagree with its descriptor", n)
		}
	}
	if c.VMMBinary("no-such-vmm") != "" || c.MemoryOverheadMiB("no-such-vmm") != 0 || c.VMMSandbox("no-such-vmm") {
		t.Error("an unknown VMM has settings")
	}
}

// A file setting every VMM's binary, by name, loads.
func TestLoadEveryVMMSection(t *testing.T) {
	var body strings.Builder
	for _, n := range vmm.Supported() {
		fmt.Fprintf(&body, "[%s]\nbinary = \"/opt/%s/bin\"\nmemory_overhead_mib = 7\n\n", n, n)
	}
	c, err := Load(writeConfig(t, body.String()))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range vmm.Supported() {
		if got := c.VMMBinary(n); got != "/opt/"+string(n)+"/bin" {
			t.Errorf("VMMBinary(%s) = %q", n, got)
		}
		if got := c.MemoryOverheadMiB(n); got != 7 {
			t.Errorf("MemoryOverheadMiB(%s) = %d, want 7", n, got)
		}
	}
}

// The keys of the old layout still work, each with one warning naming the
// old and the new key, and land where the new key does.
func TestLoadAliases(t *testing.T) {
	cases := []struct {
		body, old, current string
		check              func(*Config) bool
	}{
		{"[qemu]\naccel = \"tcg\"\n", "[qemu] accel", "[vm] accel",
			func(c *Config) bool { return c.Accel() == vmm.AccelTCG }},
		{"[qemu]\ndefault_memory_mib = 512\n", "[qemu] default_memory_mib", "[vm] default_memory_mib",
			func(c *Config) bool { return c.VM.DefaultMemoryMiB == 512 }},
		{"[qemu]\nmin_memory_mib = 64\n", "[qemu] min_memory_mib", "[vm] min_memory_mib",
			func(c *Config) bool { return c.VM.MinMemoryMiB == 64 }},
		{"[qemu]\ndefault_vcpus = 4\n", "[qemu] default_vcpus", "[vm] default_vcpus",
			func(c *Config) bool { return c.VCPUs(0, 0, "") == 4 }},
		{"[binaries]\nfirecracker = \"/opt/fc\"\n", "[binaries] firecracker", "[firecracker] binary",
			func(c *Config) bool { return c.VMMBinary(vmm.Firecracker) == "/opt/fc" }},
		{"[binaries]\nhvt = \"/opt/hvt\"\n", "[binaries] hvt", "[hvt] binary",
			func(c *Config) bool { return c.VMMBinary(vmm.HVT) == "/opt/hvt" }},
		{"[binaries]\nspt = \"/opt/spt\"\n", "[binaries] spt", "[spt] binary",
			func(c *Config) bool { return c.VMMBinary(vmm.SPT) == "/opt/spt" }},
		{"[binaries]\ncloud-hypervisor = \"/opt/ch\"\n", "[binaries] cloud-hypervisor", "[cloud-hypervisor] binary",
			func(c *Config) bool { return c.VMMBinary(vmm.CloudHypervisor) == "/opt/ch" }},
		{"[solo5]\nhvt_seccomp = \"off\"\n", "[solo5] hvt_seccomp", "[hvt] seccomp",
			func(c *Config) bool { return c.VMMSeccomp(vmm.HVT) == vmmseccomp.Off }},
	}
	for _, tc := range cases {
		t.Run(tc.old, func(t *testing.T) {
			path := writeConfig(t, tc.body)
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("%s did not set %s: %+v", tc.old, tc.current, c)
			}
			want := tc.old + " is deprecated: use " + tc.current + " in " + path
			if len(c.Deprecations) != 1 || c.Deprecations[0] != want {
				t.Errorf("Deprecations = %q, want [%q]", c.Deprecations, want)
			}
		})
	}
	// Keys that stayed where they were are not deprecated.
	c, err := Load(writeConfig(t, "[qemu]\nbinary = \"/q\"\nmemory_overhead_mib = 64\nsandbox = false\n"))
	if err != nil || len(c.Deprecations) != 0 || c.MemoryOverheadMiB(vmm.QEMU) != 64 {
		t.Errorf("Load = %+v, %v; want no deprecations", c, err)
	}
	// Several old keys give one warning each, in key order.
	c, err = Load(writeConfig(t, "[qemu]\naccel = \"kvm\"\ndefault_vcpus = 2\n[binaries]\nspt = \"/s\"\n"))
	if err != nil || len(c.Deprecations) != 3 || !strings.HasPrefix(c.Deprecations[0], "[binaries] spt") {
		t.Errorf("Load = %v, %v; want three warnings, [binaries] first", c.Deprecations, err)
	}
}

// Setting a key under its old and its new name is an error naming both,
// even when the values agree.
func TestLoadAliasConflicts(t *testing.T) {
	cases := []struct{ body, old, current string }{
		{"[vm]\naccel = \"tcg\"\n[qemu]\naccel = \"tcg\"\n", "[qemu] accel", "[vm] accel"},
		{"[vm]\ndefault_memory_mib = 300\n[qemu]\ndefault_memory_mib = 400\n", "[qemu] default_memory_mib", "[vm] default_memory_mib"},
		{"[vm]\nmin_memory_mib = 100\n[qemu]\nmin_memory_mib = 100\n", "[qemu] min_memory_mib", "[vm] min_memory_mib"},
		{"[vm]\ndefault_vcpus = 2\n[qemu]\ndefault_vcpus = 3\n", "[qemu] default_vcpus", "[vm] default_vcpus"},
		{"[firecracker]\nbinary = \"/a\"\n[binaries]\nfirecracker = \"/b\"\n", "[binaries] firecracker", "[firecracker] binary"},
		{"[binaries]\nqemu = \"/a\"\n[qemu]\nbinary = \"/a\"\n", "[binaries] qemu", "[qemu] binary"},
		{"[hvt]\nseccomp = \"log\"\n[solo5]\nhvt_seccomp = \"off\"\n", "[solo5] hvt_seccomp", "[hvt] seccomp"},
	}
	for _, tc := range cases {
		t.Run(tc.old, func(t *testing.T) {
			path := writeConfig(t, tc.body)
			_, err := Load(path)
			if !errors.Is(err, ErrConflict) {
				t.Fatalf("Load = %v, want %v", err, ErrConflict)
			}
			for _, s := range []string{tc.old, tc.current, path} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not name %q", err, s)
				}
			}
		})
	}
}

// The defaults docs/configuration.md shows are the defaults, in current
// keys only.
func TestDocumentedDefaults(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "```toml\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("no toml block in docs/configuration.md")
	}
	path := writeConfig(t, block)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Path = path
	if !reflect.DeepEqual(c, want) {
		t.Errorf("documented %+v\nwant %+v", c, want)
	}
	for _, n := range vmm.Supported() {
		if !strings.Contains(block, "["+string(n)+"]\n") {
			t.Errorf("no [%s] section documented", n)
		}
	}
}
