package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/urunc-dev/urunc/internal/vmm"
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
[qemu]
binary = "/opt/qemu/bin/qemu-system-x86_64"
accel = "tcg"
memory_overhead_mib = 32
sandbox = false

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
	want.QEMU.Binary = "/opt/qemu/bin/qemu-system-x86_64"
	want.QEMU.Accel = vmm.AccelTCG
	want.QEMU.MemoryOverheadMiB = 32
	want.QEMU.Sandbox = false
	want.Linux.KernelArgs = "loglevel=7"
	want.Linux.Urunit = "/opt/urunc/urunit"
	want.Host.KVMDevice = "/run/test/kvm"
	want.Limits.InitrdMaxBytes = 512 << 20
	want.Path = path
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
}

func TestLoadEnvPath(t *testing.T) {
	path := writeConfig(t, "[qemu]\ndefault_vcpus = 3\n")
	t.Setenv(PathEnv, path)
	if Path() != path {
		t.Fatalf("Path() = %q, want %q", Path(), path)
	}
	c, err := Load("")
	if err != nil || c.QEMU.DefaultVCPUs != 3 {
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
		{"unknown table", "[firecracker]\nbinary = \"/x\"\n", ErrUnknownKey, `"firecracker.binary"`},
		{"bad accel", "[qemu]\naccel = \"hvf\"\n", ErrInvalidValue, "qemu.accel"},
		{"relative binary", "[qemu]\nbinary = \"qemu-system-x86_64\"\n", ErrInvalidValue, "qemu.binary"},
		{"relative urunit", "[linux]\nurunit = \"bin/urunit\"\n", ErrInvalidValue, "linux.urunit"},
		{"zero vcpus", "[qemu]\ndefault_vcpus = 0\n", ErrInvalidValue, "qemu.default_vcpus"},
		{"zero min", "[qemu]\nmin_memory_mib = 0\n", ErrInvalidValue, "qemu.min_memory_mib"},
		{"default below min", "[qemu]\ndefault_memory_mib = 32\n", ErrInvalidValue, "qemu.default_memory_mib"},
		{"wrong type", "[qemu]\nsandbox = \"yes\"\n", nil, "sandbox"},
		{"syntax", "[qemu\n", nil, "config.toml"},
		{"unknown vmm binary", "[binaries]\nkvmtool = \"/x\"\n", ErrInvalidValue, "binaries.kvmtool"},
		{"relative vmm binary", "[binaries]\nfirecracker = \"firecracker\"\n", ErrInvalidValue, "binaries.firecracker"},
		{"relative kvm device", "[host]\nkvm_device = \"dev/kvm\"\n", ErrInvalidValue, "host.kvm_device"},
		{"initrd limit too small", "[limits]\ninitrd_max_bytes = 1024\n", ErrInvalidValue, "limits.initrd_max_bytes"},
		{"negative initrd limit", "[limits]\ninitrd_max_bytes = -1\n", ErrInvalidValue, "limits.initrd_max_bytes"},
		{"bad hvt seccomp mode", "[solo5]\nhvt_seccomp = \"permissive\"\n", ErrInvalidValue, "solo5.hvt_seccomp"},
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
