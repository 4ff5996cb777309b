package vmm

import "strconv"

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
// the guest's command line names its root device.

// validateQEMUExtra checks the Spec fields added after qemu.go's own
// Validate: Block, and APISocket, which QEMU does not serve (its control
// socket is QMPSocket).
func validateQEMUExtra(s Spec) error {
	if s.APISocket != "" {
		return unsupported(QEMU, "APISocket", "QEMU's control socket is QMPSocket")
	}
	return validateBlock(s.Block)
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
		args = append(args, "-drive", drive, "-device", dev+",drive="+id)
	}
	return args
}
