package runtime

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-dev/urunc/internal/guest"
	"github.com/urunc-dev/urunc/internal/vmm"
)

// devicePrefix names the disks that carry the container's block devices:
// the guest finds each by this serial plus its index.
const devicePrefix = "urunc-dev"

// planDevices passes the container's block devices (linux.devices of type
// b, e.g. Kubernetes volumeDevices) to the guest as disks. The node stays
// in the container, where the VMM opens it; the guest's urunit makes a node
// at the same path for the disk with the matching serial. Only Linux
// guests on QEMU can take them; other devices (char, fifo) stay the VMM's.
func planDevices(s *specs.Spec, g guest.Type, v vmm.Name, gs *guest.Spec, vs *vmm.Spec) error {
	if err := checkDevices(s, g, v); err != nil {
		return err
	}
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
	return nil
}

// checkDevices is planDevices' validation alone, for create to run before
// it looks for the VMM and the kernel.
func checkDevices(s *specs.Spec, g guest.Type, v vmm.Name) error {
	if s.Linux == nil {
		return nil
	}
	for i, d := range s.Linux.Devices {
		if d.Type != "b" {
			continue
		}
		field := fmt.Sprintf("linux.devices[%d] (%s)", i, d.Path)
		switch {
		case g != guest.Linux || v != vmm.QEMU:
			return fmt.Errorf("%s: block devices reach linux guests on qemu only, not %s on %s; remove the device or use a linux guest", field, g, v)
		case !filepath.IsAbs(d.Path) || filepath.Clean(d.Path) != d.Path || !strings.HasPrefix(d.Path, "/dev/"):
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
