package planner

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

func TestPlanDevices(t *testing.T) {
	mode := os.FileMode(0o640)
	gid := uint32(6)
	blk := specs.LinuxDevice{Path: "/dev/xvdb", Type: "b", Major: 7, Minor: 3, FileMode: &mode, GID: &gid}
	chr := specs.LinuxDevice{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229}
	cases := []struct {
		name    string
		devices []specs.LinuxDevice
		g       guest.Type
		v       vmm.Name
		block   []vmm.BlockDevice
		guest   []guest.Device
		err     string
	}{
		{"none", nil, guest.Linux, vmm.QEMU, nil, nil, ""},
		{"char devices stay the VMM's", []specs.LinuxDevice{chr}, guest.Unikraft, vmm.Firecracker, nil, nil, ""},
		{"block devices become serial-tagged disks", []specs.LinuxDevice{chr, blk, {Path: "/dev/disk/data", Type: "b"}}, guest.Linux, vmm.QEMU,
			[]vmm.BlockDevice{{Path: "/urunc/block"}, {Path: "/dev/xvdb", Serial: "urunc-dev0"}, {Path: "/dev/disk/data", Serial: "urunc-dev1"}},
			[]guest.Device{{Path: "/dev/xvdb", Serial: "urunc-dev0", FileMode: 0o640, GID: 6}, {Path: "/dev/disk/data", Serial: "urunc-dev1", FileMode: 0o660}}, ""},
		{"not a linux guest", []specs.LinuxDevice{blk}, guest.Unikraft, vmm.QEMU, nil, nil, "linux guests on qemu only"},
		{"not qemu", []specs.LinuxDevice{blk}, guest.Linux, vmm.Firecracker, nil, nil, "linux guests on qemu only"},
		{"outside /dev", []specs.LinuxDevice{{Path: "/data/disk", Type: "b"}}, guest.Linux, vmm.QEMU, nil, nil, "under /dev"},
		{"unclean", []specs.LinuxDevice{{Path: "/dev/../etc/x", Type: "b"}}, guest.Linux, vmm.QEMU, nil, nil, "under /dev"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &specs.Spec{Linux: &specs.Linux{Devices: c.devices}}
			gs := &guest.Spec{}
			vs := &vmm.Spec{}
			if c.block != nil {
				vs.Block = []vmm.BlockDevice{{Path: "/urunc/block"}}
			}
			g, _ := guest.Get(c.g)
			d, _ := vmm.Describe(c.v)
			err := checkDevices(s, c.g, guest.NeedsOf(g), c.v, d)
			if err == nil {
				planDevices(s, gs, vs)
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "linux.devices[") {
					t.Fatalf("error %v, want one naming the device and saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(vs.Block, c.block) || !reflect.DeepEqual(gs.Devices, c.guest) {
				t.Errorf("block %+v\nguest %+v", vs.Block, gs.Devices)
			}
		})
	}
}
