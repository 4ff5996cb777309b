package planner

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// devicePrefix names the disks that carry the container's block devices:
// the guest finds each by this serial plus its index.
const devicePrefix = "urunc-dev"

// planDevices passes the container's block devices (linux.devices of type
// b, e.g. Kubernetes volumeDevices) to the guest as disks. The node stays
// in the container, where the VMM opens it; the guest's init makes a node
// at the same path for the disk with the matching serial. checkDevices
// has made sure the guest and the VMM can take them; other devices (char,
// fifo) stay the VMM's.
func planDevices(s *specs.Spec, gs *guest.Spec, vs *vmm.Spec) {
	n := 0
	for _, d := range blockDevices(s) {
		serial := devicePrefix + strconv.Itoa(n)
		n++
		vs.Block = append(vs.Block, vmm.BlockDevice{Path: d.Path, Serial: serial})
		gd := guest.Device{Path: d.Path, Serial: serial, FileMode: 0o660}
		if d.FileMode != nil {
			gd.FileMode = uint32(d.FileMode.Perm())
		}
		if d.UID != nil {
			gd.UID = *d.UID
		}
		if d.GID != nil {
			gd.GID = *d.GID
		}
		gs.Devices = append(gs.Devices, gd)
	}
}

// checkDevices refuses block devices that guest g on VMM v cannot take,
// naming the device.
func checkDevices(s *specs.Spec, g guest.Type, needs guest.Needs, v vmm.Name, d vmm.Descriptor) error {
	if s.Linux == nil {
		return nil
	}
	for i, dev := range s.Linux.Devices {
		if dev.Type != "b" {
			continue
		}
		field := fmt.Sprintf("linux.devices[%d] (%s)", i, dev.Path)
		switch {
		case !needs.Devices || !d.DiskSerials:
			return fmt.Errorf("%s: block devices reach %s guests on %s only, not %s on %s; remove the device or use such a guest",
				field, strings.Join(typesWith(func(n guest.Needs) bool { return n.Devices }), ", "),
				strings.Join(vmmsWith(func(d vmm.Descriptor) bool { return d.DiskSerials }), ", "), g, v)
		case !filepath.IsAbs(dev.Path) || filepath.Clean(dev.Path) != dev.Path || !strings.HasPrefix(dev.Path, "/dev/"):
			return fmt.Errorf("%s: a block device for the guest must be a clean path under /dev", field)
		}
	}
	return nil
}

// blockDevices are the spec's block devices, in order.
func blockDevices(s *specs.Spec) []specs.LinuxDevice {
	if s.Linux == nil {
		return nil
	}
	var out []specs.LinuxDevice
	for _, d := range s.Linux.Devices {
		if d.Type == "b" {
			out = append(out, d)
		}
	}
	return out
}
