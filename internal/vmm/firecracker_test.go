package vmm

import (
	"strings"
	"testing"
)

// fcSpec is a valid Firecracker spec that the cases below modify.
func fcSpec() Spec {
	return Spec{
		Binary:       "/usr/bin/firecracker",
		Kernel:       "/rootfs/boot/vmlinux",
		KernelFormat: FormatELF,
		Cmdline:      "console=ttyS0 reboot=k panic=1",
		MemoryMiB:    128,
		VCPUs:        1,
		Accel:        AccelKVM,
		RunDir:       "/run/urunc/ctr1",
	}
}

func TestFirecrackerGolden(t *testing.T) {
	v, err := Get(Firecracker)
	if err != nil {
		t.Fatal(err)
	}
	goldenCases(t, v, "firecracker", fcSpec, map[string]func(*Spec){
		"basic": func(s *Spec) {},
		"pvh-initrd-vcpus": func(s *Spec) {
			s.KernelFormat = FormatPVH
			s.Initrd = "/rootfs/boot/initrd.img"
			s.VCPUs, s.MemoryMiB = 3, 1024
		},
		"net-blocks": func(s *Spec) {
			s.Net = &NetDevice{Tap: "urunc1a2b3c4d", MAC: "02:42:0a:04:00:05"}
			s.Block = []BlockDevice{
				{Path: "/dev/mapper/ctr1-snap", Root: true},
				{Path: "/rootfs/data.img", ReadOnly: true, Name: "data"},
			}
		},
		"api-socket": func(s *Spec) { s.APISocket = "/run/urunc/ctr1/fc.sock" },
		"agent":      func(s *Spec) { s.AgentSocket = "/run/urunc/ctr1/agent.sock" },
		"paths-with-space-and-comma": func(s *Spec) {
			s.Binary = "/opt/my fc/firecracker"
			s.Kernel = "/root fs/boot/vmlinux,v1"
			s.Initrd = `/root fs/initrd "a,b".img`
			s.RunDir = "/run/urunc/a,b c"
			s.Cmdline = `console=ttyS0 init.arg="a b,c" x<y&z`
			s.Block = []BlockDevice{{Path: "/root fs/disk,1.img"}}
		},
	})
}

func TestFirecrackerValidate(t *testing.T) {
	v, _ := Get(Firecracker)
	runValidateCases(t, v, fcSpec, []validateCase{
		{"disk serial", func(s *Spec) { s.Block = []BlockDevice{{Path: "/d", Serial: "x"}} }, "Block[0].Serial", ErrNotSupported},
		{"tcg", func(s *Spec) { s.Accel = AccelTCG }, "Accel", ErrNotSupported},
		{"auto", func(s *Spec) { s.Accel = AccelAuto }, "Accel", ErrInvalidSpec},
		{"bzimage", func(s *Spec) { s.KernelFormat = FormatBzImage }, "KernelFormat", ErrNotSupported},
		{"multiboot", func(s *Spec) { s.KernelFormat = FormatMultiboot }, "KernelFormat", ErrNotSupported},
		{"no format", func(s *Spec) { s.KernelFormat = "" }, "KernelFormat", ErrInvalidSpec},
		{"too many vcpus", func(s *Spec) { s.VCPUs = 33 }, "VCPUs", ErrNotSupported},
		{"no rundir", func(s *Spec) { s.RunDir = "" }, "RunDir", ErrInvalidSpec},
		{"relative rundir", func(s *Spec) { s.RunDir = "run" }, "RunDir", ErrInvalidSpec},
		{"api socket too long", func(s *Spec) { s.APISocket = "/" + strings.Repeat("a", 107) }, "APISocket", ErrInvalidSpec},
		{"exit device", func(s *Spec) { s.ExitDevice = true }, "ExitDevice", ErrNotSupported},
		{"agent socket too long", func(s *Spec) { s.AgentSocket = "/" + strings.Repeat("a", 107) }, "AgentSocket", ErrInvalidSpec},
		{"qmp", func(s *Spec) { s.QMPSocket = "/q.sock" }, "QMPSocket", ErrNotSupported},
		{"vhost", func(s *Spec) { s.Net = &NetDevice{Tap: "t", MAC: "02:00:00:00:00:01", VhostNet: true} }, "Net.VhostNet", ErrNotSupported},
		{"tap too long", func(s *Spec) { s.Net = &NetDevice{Tap: strings.Repeat("t", 16), MAC: "02:00:00:00:00:01"} }, "Net.Tap", ErrInvalidSpec},
		{"relative block", func(s *Spec) { s.Block = []BlockDevice{{Path: "disk.img"}} }, "Block[0].Path", ErrInvalidSpec},
		{"two roots", func(s *Spec) { s.Block = []BlockDevice{{Path: "/a", Root: true}, {Path: "/b", Root: true}} }, "Root", ErrInvalidSpec},
		{"bad drive id", func(s *Spec) { s.Block = []BlockDevice{{Path: "/a", Name: "a-b"}} }, "Block[0].Name", ErrInvalidSpec},
		{"drive id clash", func(s *Spec) { s.Block = []BlockDevice{{Path: "/a"}, {Path: "/b", Name: "blk0"}} }, "Block[1].Name", ErrInvalidSpec},
	})
}

// The longest socket path that fits sun_path is accepted.
func TestFirecrackerSocketLimit(t *testing.T) {
	s := fcSpec()
	s.APISocket = "/" + strings.Repeat("a", maxSocketPath-1)
	if err := (firecracker{}).Validate(s); err != nil {
		t.Errorf("%d-byte socket path: %v", len(s.APISocket), err)
	}
}
