package vmm

import (
	"strings"
	"testing"
)

// hvtSpec is a valid solo5-hvt spec for a unikernel that declares one NIC
// and one block device.
func hvtSpec() Spec {
	return Spec{
		Binary:       "/usr/bin/solo5-hvt",
		Kernel:       "/rootfs/redis.hvt",
		KernelFormat: FormatELF,
		Cmdline:      `{"cmdline":"redis-server /data/redis.conf","net":{"if":"ukvmif0","cloner":"True","type":"inet","method":"static","addr":"10.4.0.5","mask":"24","gw":"10.4.0.1"},"blk":{"source":"etfs","path":"/dev/ld0a","fstype":"blk","mountpoint":"/data"}}`,
		MemoryMiB:    256,
		VCPUs:        1,
		Accel:        AccelKVM,
		Net:          &NetDevice{Tap: "urunc1a2b3c4d", MAC: "02:42:0a:04:00:05"},
		Block:        []BlockDevice{{Path: "/rootfs/data.img"}},
		Solo5: &Solo5Manifest{Target: "hvt", ABIVersion: 2, Devices: []Solo5Device{
			{Name: "rootfs", Type: Solo5BlockBasic}, {Name: "service", Type: Solo5NetBasic},
		}},
	}
}

// sptSpec is the same unikernel built for solo5-spt, under TCG (spt uses
// no virtualization, so the accelerator does not matter).
func sptSpec() Spec {
	s := hvtSpec()
	s.Binary, s.Kernel, s.Accel = "/usr/bin/solo5-spt", "/rootfs/redis.spt", AccelTCG
	s.Solo5.Target = "spt"
	return s
}

func TestSolo5Golden(t *testing.T) {
	hvt, _ := Get(HVT)
	spt, _ := Get(SPT)
	goldenCases(t, hvt, "hvt", hvtSpec, map[string]func(*Spec){
		"net-block": func(s *Spec) {},
		"no-devices": func(s *Spec) {
			s.Solo5 = &Solo5Manifest{Target: "hvt"}
			s.Net, s.Block, s.Cmdline = nil, nil, ""
		},
		"net-only": func(s *Spec) {
			// The manifest declares no block device and one NIC.
			s.Solo5.Devices = s.Solo5.Devices[1:]
			s.Block = nil
		},
		"two-blocks-by-name": func(s *Spec) {
			s.Solo5.Devices = append(s.Solo5.Devices, Solo5Device{Name: "data2", Type: Solo5BlockBasic})
			s.Block = []BlockDevice{{Path: "/rootfs/b.img", Name: "data2"}, {Path: "/rootfs/a.img", Name: "rootfs"}}
		},
		"paths-with-space-and-dash": func(s *Spec) {
			s.Binary = "/opt/my solo5/solo5-hvt"
			s.Kernel = "-kernel with space,comma.hvt"
			s.Cmdline = "a  b -- c"
			s.Block = []BlockDevice{{Path: "/root,fs/data.img"}}
		},
	})
	goldenCases(t, spt, "spt", sptSpec, map[string]func(*Spec){
		"net-block": func(s *Spec) {},
		"no-abi-note": func(s *Spec) {
			s.Solo5.Target = ""
			s.Net = nil
			s.Solo5.Devices = s.Solo5.Devices[:1]
		},
	})
}

func TestSolo5Validate(t *testing.T) {
	hvt, _ := Get(HVT)
	runValidateCases(t, hvt, hvtSpec, []validateCase{
		{"no manifest", func(s *Spec) { s.Solo5 = nil }, "Solo5", ErrInvalidSpec},
		{"spt binary on hvt", func(s *Spec) { s.Solo5.Target = "spt" }, "Solo5.Target", ErrNotSupported},
		{"two nics", func(s *Spec) {
			s.Solo5.Devices = append(s.Solo5.Devices, Solo5Device{Name: "admin", Type: Solo5NetBasic})
		}, "admin", ErrNotSupported},
		{"nic without network", func(s *Spec) { s.Net = nil }, "service", ErrNotSupported},
		{"block not supplied", func(s *Spec) { s.Block = nil }, "rootfs", ErrNotSupported},
		{"block not declared", func(s *Spec) { s.Block = []BlockDevice{{Path: "/a", Name: "other"}} }, "other", ErrInvalidSpec},
		{"extra block", func(s *Spec) { s.Block = append(s.Block, BlockDevice{Path: "/b"}) }, "Block[1]", ErrInvalidSpec},
		{"ambiguous block", func(s *Spec) {
			s.Solo5.Devices = append(s.Solo5.Devices, Solo5Device{Name: "data2", Type: Solo5BlockBasic})
		}, "Block[0].Name", ErrInvalidSpec},
		{"read-only block", func(s *Spec) { s.Block[0].ReadOnly = true }, "Block[0].ReadOnly", ErrNotSupported},
		{"space in block path", func(s *Spec) { s.Block[0].Path = "/root fs/a.img" }, "Block[0].Path", ErrInvalidSpec},
		{"bad device name", func(s *Spec) { s.Solo5.Devices[1].Name = "service-net" }, "service-net", ErrNotSupported},
		{"initrd", func(s *Spec) { s.Initrd = "/i" }, "Initrd", ErrNotSupported},
		{"two vcpus", func(s *Spec) { s.VCPUs = 2 }, "VCPUs", ErrNotSupported},
		{"tcg", func(s *Spec) { s.Accel = AccelTCG }, "Accel", ErrNotSupported},
		{"sandbox", func(s *Spec) { s.Sandbox = true }, "Sandbox", ErrNotSupported},
		{"pvh kernel", func(s *Spec) { s.KernelFormat = FormatPVH }, "KernelFormat", ErrNotSupported},
		{"exit device", func(s *Spec) { s.ExitDevice = true }, "ExitDevice", ErrNotSupported},
		{"api socket", func(s *Spec) { s.APISocket = "/a.sock" }, "APISocket", ErrNotSupported},
		{"cmdline too long", func(s *Spec) { s.Cmdline = strings.Repeat("a", 8192) }, "Cmdline", ErrInvalidSpec},
	})
	spt, _ := Get(SPT)
	runValidateCases(t, spt, sptSpec, []validateCase{
		{"hvt binary on spt", func(s *Spec) { s.Solo5.Target = "hvt" }, "Solo5.Target", ErrNotSupported},
	})
	// spt sandboxes itself: Sandbox is accepted either way.
	s := sptSpec()
	s.Sandbox = true
	if err := spt.(Validator).Validate(s); err != nil {
		t.Errorf("spt with Sandbox: %v", err)
	}
}
