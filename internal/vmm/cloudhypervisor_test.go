package vmm

import "testing"

// chSpec is a valid Cloud Hypervisor spec that the cases below modify.
func chSpec() Spec {
	return Spec{
		Binary:       "/usr/bin/cloud-hypervisor",
		Kernel:       "/rootfs/boot/vmlinuz",
		KernelFormat: FormatBzImage,
		Cmdline:      "console=ttyS0 panic=-1",
		MemoryMiB:    256,
		VCPUs:        2,
		Accel:        AccelKVM,
	}
}

func TestCloudHypervisorGolden(t *testing.T) {
	v, err := Get(CloudHypervisor)
	if err != nil {
		t.Fatal(err)
	}
	goldenCases(t, v, "cloud-hypervisor", chSpec, map[string]func(*Spec){
		"basic":      func(s *Spec) {},
		"no-cmdline": func(s *Spec) { s.Cmdline = ""; s.KernelFormat = FormatPVH },
		"net-disks-initrd": func(s *Spec) {
			s.Initrd = "/rootfs/boot/initrd.img"
			s.Net = &NetDevice{Tap: "urunc1a2b3c4d", MAC: "02:42:0a:04:00:05"}
			s.Block = []BlockDevice{{Path: "/dev/vdb-snap"}, {Path: "/rootfs/data.img", ReadOnly: true}}
		},
		"api-socket": func(s *Spec) { s.APISocket = "/run/urunc/ctr1/ch.sock" },
		"agent":      func(s *Spec) { s.AgentSocket = "/run/urunc/ctr1/agent.sock" },
		"paths-with-space-and-comma": func(s *Spec) {
			s.Binary = "/opt/my ch/cloud-hypervisor"
			s.Kernel = "/root fs/boot/vmlinuz,v1"
			s.Initrd = "/root fs/initrd,a,b.img"
			s.Cmdline = `console=ttyS0 init.arg="a b,c"`
			s.Net = &NetDevice{Tap: "tap,0", MAC: "02:42:0a:04:00:05"}
			s.Block = []BlockDevice{{Path: "/root fs/disk,1.img", ReadOnly: true}, {Path: "/root fs/a=b.img"}}
		},
	})
}

func TestCloudHypervisorValidate(t *testing.T) {
	v, _ := Get(CloudHypervisor)
	runValidateCases(t, v, chSpec, []validateCase{
		{"tcg", func(s *Spec) { s.Accel = AccelTCG }, "Accel", ErrNotSupported},
		{"plain elf", func(s *Spec) { s.KernelFormat = FormatELF }, "KernelFormat", ErrNotSupported},
		{"multiboot", func(s *Spec) { s.KernelFormat = FormatMultiboot }, "KernelFormat", ErrNotSupported},
		{"exit device", func(s *Spec) { s.ExitDevice = true }, "ExitDevice", ErrNotSupported},
		{"agent socket with a quote", func(s *Spec) { s.AgentSocket = `/a"b.sock` }, "AgentSocket", ErrInvalidSpec},
		{"quote in disk", func(s *Spec) { s.Block = []BlockDevice{{Path: `/a"b`}} }, "Block[0].Path", ErrInvalidSpec},
		{"bracket in disk", func(s *Spec) { s.Block = []BlockDevice{{Path: "/a[1]"}} }, "Block[0].Path", ErrInvalidSpec},
		{"trailing space", func(s *Spec) { s.Block = []BlockDevice{{Path: "/a "}} }, "Block[0].Path", ErrInvalidSpec},
		{"cmdline dash", func(s *Spec) { s.Cmdline = "-- app" }, "Cmdline", ErrInvalidSpec},
		{"socket comma", func(s *Spec) { s.APISocket = "/run/a,b.sock" }, "APISocket", ErrInvalidSpec},
	})
}
