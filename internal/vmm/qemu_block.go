package vmm

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
)

// QEMU block devices: each Spec.Block is a raw-format drive with no
// frontend of its own (if=none) and a virtio-blk device on the machine's
// transport, in Spec order (the first is the guest's vda):
//
//	-drive file=<path>,if=none,id=blk<i>,format=raw[,readonly=on]
//	-device virtio-blk-device,drive=blk<i>   (microvm: virtio-mmio)
//	-device virtio-blk-pci,drive=blk<i>      (pc)
//
// Paths are absolute (validateBlock), so QEMU never reads a "proto:"
// prefix from them; commas are doubled by EscapeOptValue. format=raw
// stops QEMU from probing the image format. Name and Root are not used:
// the guest's command line names its root device. A Serial becomes the
// device's serial= property.

// validateQEMUExtra checks what only QEMU looks at: APISocket, which it
// does not serve (its control socket is QMPSocket), disk serials and the
// 9p shares.
func validateQEMUExtra(s Spec) error {
	if s.APISocket != "" {
		return unsupported(QEMU, "APISocket", "QEMU's control socket is QMPSocket")
	}
	for i, b := range s.Block {
		if b.Serial != "" && !diskSerial.MatchString(b.Serial) {
			return invalid(fmt.Sprintf("Block[%d].Serial", i), "%q is not 1-20 letters, digits, '.', '-' or '_'", b.Serial)
		}
	}
	return validateShares(s.Shares)
}

// diskSerial is what a virtio-blk serial may hold here: the device keeps
// 20 bytes (VIRTIO_BLK_ID_BYTES), and QEMU's -device options are
// comma-separated.
var diskSerial = regexp.MustCompile(`^[A-Za-z0-9._-]{1,20}$`)

// shareTag is what a 9p mount tag may hold here: QEMU limits it to 31
// bytes, and the guest's mount options are comma-separated.
var shareTag = regexp.MustCompile(`^[A-Za-z0-9_-]{1,31}$`)

func validateShares(shares []Share) error {
	seen := map[string]bool{}
	for i, sh := range shares {
		field := fmt.Sprintf("Shares[%d]", i)
		switch {
		case !filepath.IsAbs(sh.Path):
			return invalid(field+".Path", "%q is not absolute", sh.Path)
		case !shareTag.MatchString(sh.Tag):
			return invalid(field+".Tag", "%q is not 1-31 letters, digits, '-' or '_'", sh.Tag)
		case seen[sh.Tag]:
			return invalid(field+".Tag", "%q is used twice", sh.Tag)
		}
		seen[sh.Tag] = true
	}
	return nil
}

// qemuShareArgs renders each share as a local fsdev and a virtio-9p
// device on the machine's transport. security_model=none: files are
// created as the VMM's user and ownership changes the host refuses are
// ignored, as the guest expects of a plain folder.
func qemuShareArgs(shares []Share, machine string) []string {
	dev := "virtio-9p-pci"
	if machine == machineMicroVM {
		dev = "virtio-9p-device"
	}
	var args []string
	for i, sh := range shares {
		id := "fs" + strconv.Itoa(i)
		fsdev := "local,id=" + id + ",path=" + EscapeOptValue(sh.Path) + ",security_model=none"
		if sh.ReadOnly {
			fsdev += ",readonly=on"
		}
		args = append(args, "-fsdev", fsdev, "-device", dev+",fsdev="+id+",mount_tag="+sh.Tag)
	}
	return args
}

// qemuBlockArgs renders the drives of s for machine.
func qemuBlockArgs(blocks []BlockDevice, machine string) []string {
	dev := "virtio-blk-pci"
	if machine == machineMicroVM {
		dev = "virtio-blk-device"
	}
	var args []string
	for i, b := range blocks {
		id := "blk" + strconv.Itoa(i)
		drive := "file=" + EscapeOptValue(b.Path) + ",if=none,id=" + id + ",format=raw"
		if b.ReadOnly {
			drive += ",readonly=on"
		}
		device := dev + ",drive=" + id
		if b.Serial != "" {
			device += ",serial=" + b.Serial
		}
		args = append(args, "-drive", drive, "-device", device)
	}
	return args
}
