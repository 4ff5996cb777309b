package vmm

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// baseSpec is a valid microvm/TCG spec that the cases below modify.
func baseSpec() Spec {
	return Spec{
		Binary:       "/usr/bin/qemu-system-x86_64",
		Kernel:       "/rootfs/boot/vmlinuz",
		KernelFormat: FormatBzImage,
		Cmdline:      "console=ttyS0 panic=-1",
		MemoryMiB:    128,
		VCPUs:        1,
		Accel:        AccelTCG,
	}
}

func TestQEMUArgsGolden(t *testing.T) {
	cases := map[string]func(s *Spec){
		"tcg-microvm":  func(s *Spec) {},
		"kvm-microvm":  func(s *Spec) { s.Accel = AccelKVM },
		"multiboot-pc": func(s *Spec) { s.KernelFormat = FormatMultiboot },
		"initrd":       func(s *Spec) { s.Initrd = "/rootfs/boot/initrd.img" },
		"exit-device":  func(s *Spec) { s.ExitDevice = true },
		"sandbox":      func(s *Spec) { s.Sandbox = true },
		"qmp":          func(s *Spec) { s.QMPSocket = "/run/urunc/ctr 1/qmp.sock" },
		"memory-vcpus": func(s *Spec) { s.MemoryMiB = 2048; s.VCPUs = 4 },
		"no-cmdline":   func(s *Spec) { s.Cmdline = "" },
		"shares-microvm": func(s *Spec) {
			s.Shares = []Share{{Path: "/urunc/rootfs", Tag: "rootfs"}, {Path: "/data,x y", Tag: "vol0", ReadOnly: true}}
		},
		"shares-pc":   func(s *Spec) { s.KernelFormat = FormatMultiboot; s.Shares = []Share{{Path: "/data", Tag: "vol0"}} },
		"net-microvm": func(s *Spec) { s.Net = &NetDevice{Tap: "urunc1a2b3c4d", MAC: "02:42:0a:04:00:05"} },
		"net-pc-vhost": func(s *Spec) {
			s.KernelFormat = FormatMultiboot
			s.Net = &NetDevice{Tap: "tap,0", MAC: "02:42:0a:04:00:05", VhostNet: true}
		},
		"agent-microvm": func(s *Spec) { s.AgentSocket = "/urunc/agent.sock" },
		"template-build": func(s *Spec) {
			s.QMPSocket = "/urunc/run/qmp.sock"
			s.Template = &TemplateSpec{MemoryFile: "/urunc/template/ab/build-1/ram", Shared: true}
		},
		"template-restore": func(s *Spec) {
			s.QMPSocket = "/urunc/run/qmp.sock"
			s.Template = &TemplateSpec{MemoryFile: "/urunc/template/a,b/current/ram", Incoming: true}
		},
		"agent-pc": func(s *Spec) {
			s.KernelFormat = FormatMultiboot
			s.AgentSocket = "/run/urunc/ctr,1/agent.sock"
		},
		"paths-with-space-and-comma": func(s *Spec) {
			s.Binary = "/opt/my qemu/qemu-system-x86_64"
			s.Kernel = "/root fs/boot/vmlinuz,v1"
			s.Initrd = "/root fs/initrd,a,b.img"
			s.QMPSocket = "/run/urunc/a,b c/qmp.sock"
			s.Cmdline = `console=ttyS0 init.arg="a b,c"`
		},
		"everything": func(s *Spec) {
			s.Accel = AccelKVM
			s.Initrd = "/rootfs/initrd"
			s.ExitDevice = true
			s.Sandbox = true
			s.QMPSocket = "/run/qmp.sock"
			s.MemoryMiB = 512
			s.VCPUs = 2
		},
	}
	q, err := Get(QEMU)
	if err != nil {
		t.Fatal(err)
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			s := baseSpec()
			mod(&s)
			args, err := q.Args(s)
			if err != nil {
				t.Fatalf("Args: %v", err)
			}
			if args[0] != s.Binary {
				t.Errorf("argv[0] = %q, want %q", args[0], s.Binary)
			}
			checkGolden(t, name, args)
		})
	}
}

// checkGolden compares args, one per line, with testdata/<name>.golden.
func checkGolden(t *testing.T, name string, args []string) {
	t.Helper()
	for _, a := range args {
		if strings.ContainsAny(a, "\n") {
			t.Fatalf("argument %q contains a newline; golden format cannot hold it", a)
		}
	}
	got := strings.Join(args, "\n") + "\n"
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./internal/vmm -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("argv differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestQEMUValidate(t *testing.T) {
	cases := []struct {
		name    string
		mod     func(s *Spec)
		field   string
		wantErr error
	}{
		{"no binary", func(s *Spec) { s.Binary = "" }, "Binary", ErrInvalidSpec},
		{"no kernel", func(s *Spec) { s.Kernel = "" }, "Kernel", ErrInvalidSpec},
		{"zero memory", func(s *Spec) { s.MemoryMiB = 0 }, "MemoryMiB", ErrInvalidSpec},
		{"zero vcpus", func(s *Spec) { s.VCPUs = 0 }, "VCPUs", ErrInvalidSpec},
		{"accel auto", func(s *Spec) { s.Accel = AccelAuto }, "Accel", ErrInvalidSpec},
		{"accel empty", func(s *Spec) { s.Accel = "" }, "Accel", ErrInvalidSpec},
		{"accel bogus", func(s *Spec) { s.Accel = "hvf" }, "Accel", ErrInvalidSpec},
		{"nul in cmdline", func(s *Spec) { s.Cmdline = "a\x00b" }, "Cmdline", ErrInvalidSpec},
		{"no format", func(s *Spec) { s.KernelFormat = "" }, "KernelFormat", ErrInvalidSpec},
		{"bogus format", func(s *Spec) { s.KernelFormat = "pe" }, "KernelFormat", ErrInvalidSpec},
		{"plain elf", func(s *Spec) { s.KernelFormat = FormatELF }, "elf", ErrNotSupported},
		{"multiboot2", func(s *Spec) { s.KernelFormat = FormatMultiboot2 }, "multiboot2", ErrNotSupported},
		{"share relative", func(s *Spec) { s.Shares = []Share{{Path: "data", Tag: "vol0"}} }, "Shares[0].Path", ErrInvalidSpec},
		{"share bad tag", func(s *Spec) { s.Shares = []Share{{Path: "/data", Tag: "a,b"}} }, "Shares[0].Tag", ErrInvalidSpec},
		{"share tag twice", func(s *Spec) { s.Shares = []Share{{Path: "/a", Tag: "t"}, {Path: "/b", Tag: "t"}} }, "Shares[1].Tag", ErrInvalidSpec},
		{"net without tap", func(s *Spec) { s.Net = &NetDevice{MAC: "02:00:00:00:00:01"} }, "Net.Tap", ErrInvalidSpec},
		{"net bad mac", func(s *Spec) { s.Net = &NetDevice{Tap: "t", MAC: "02:00"} }, "Net.MAC", ErrInvalidSpec},
		{"agent socket too long", func(s *Spec) { s.AgentSocket = "/" + strings.Repeat("a", 107) }, "AgentSocket", ErrInvalidSpec},
		{"multiboot initrd with a comma", func(s *Spec) { s.KernelFormat = FormatMultiboot; s.Initrd = "/a,/etc/shadow" }, "Initrd", ErrInvalidSpec},
		{"multiboot initrd with a space", func(s *Spec) { s.KernelFormat = FormatMultiboot; s.Initrd = "/a -x" }, "Initrd", ErrInvalidSpec},
		{"nul in agent socket", func(s *Spec) { s.AgentSocket = "/a\x00b" }, "AgentSocket", ErrInvalidSpec},
		{"template without memory file", func(s *Spec) { s.QMPSocket = "/q"; s.Template = &TemplateSpec{} }, "Template.MemoryFile", ErrInvalidSpec},
		{"template without qmp", func(s *Spec) { s.Template = &TemplateSpec{MemoryFile: "/ram"} }, "QMPSocket", ErrInvalidSpec},
		{"clone writing the template", func(s *Spec) {
			s.QMPSocket = "/q"
			s.Template = &TemplateSpec{MemoryFile: "/ram", Shared: true, Incoming: true}
		}, "Template", ErrInvalidSpec},
	}
	q := qemu{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := baseSpec()
			c.mod(&s)
			err := q.Validate(s)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("Validate = %v, want %v", err, c.wantErr)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("error %q does not name %q", err, c.field)
			}
			if _, aerr := q.Args(s); aerr == nil || aerr.Error() != err.Error() {
				t.Errorf("Args error = %v, want the Validate error", aerr)
			}
		})
	}
	if err := q.Validate(baseSpec()); err != nil {
		t.Errorf("valid spec: %v", err)
	}
}

func TestEscapeOptValue(t *testing.T) {
	for in, want := range map[string]string{
		"":        "",
		"a":       "a",
		"a,b":     "a,,b",
		",a,,b,":  ",,a,,,,b,,",
		"a b=c,d": "a b=c,,d",
	} {
		if got := EscapeOptValue(in); got != want {
			t.Errorf("EscapeOptValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRegistry runs the checks every registered VMM must pass.
func TestRegistry(t *testing.T) {
	for _, n := range Supported() {
		v, err := Get(n)
		if err != nil || v.Name() != n {
			t.Errorf("Get(%q) = %v, %v", n, v, err)
		}
		if _, err := v.Args(Spec{}); err == nil {
			t.Errorf("%s: Args(empty Spec) succeeded, want a validation error", n)
		}
	}
	if _, err := Get("bogus"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Get(bogus) = %v, want ErrNotSupported", err)
	}
}
