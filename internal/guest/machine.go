package guest

// Platform is the machine a guest boots on, as far as the guest's own
// drivers see it: Solo5 tenders (hvt, spt) give Solo5 network and block
// devices, the other VMMs give virtio devices. The runtime sets it from the
// plan's VMM (hvt and spt → PlatformSolo5); "" lets the guest use its
// default, documented on each guest.
type Platform string

const (
	PlatformSolo5           Platform = "solo5" // solo5-hvt, solo5-spt
	PlatformQEMU            Platform = "qemu"
	PlatformFirecracker     Platform = "firecracker"
	PlatformCloudHypervisor Platform = "cloud-hypervisor"
)

// Block is a block image supplied by the container image
// (com.urunc.unikernel.block), attached by the VMM as the guest's first
// disk. The guest only needs to know where to mount it.
type Block struct {
	MountPoint string // com.urunc.unikernel.blkMntPoint; "" attaches without mounting
}
