package planner

import "github.com/urunc-runtime/urunc/internal/vmm"

// HostFacts are what Plan needs to know of the host and of the image's
// files, gathered once before it. A probe that failed keeps its error,
// which Plan reports where the decision needs it, so errors come in the
// same order whatever was probed.
type HostFacts struct {
	// Binaries maps each VMM whose configured executable exists to its
	// absolute path.
	Binaries map[vmm.Name]string
	KVM      bool   // the configured KVM device opens read-write
	HWVirt   bool   // the CPU advertises vmx or svm
	TSCkHz   uint64 // the host's TSC frequency, 0 if unknown
	Seccomp  bool   // this build can install seccomp filters
	// NetnsErr refuses a spec without a network namespace of its own.
	NetnsErr error
	Kernel   KernelFacts
	// Folders holds the spec's bind-mount sources that are folders.
	Folders map[string]bool
	// BlockRoot is the block device the container's rootfs is mounted
	// from, nil for none.
	BlockRoot    *BlockRoot
	BlockRootErr error
	// BlockFileOnRoot: the image's block file is on the rootfs's file
	// system.
	BlockFileOnRoot    bool
	BlockFileOnRootErr error
}

// KernelFacts are what inspecting the image's kernel found.
type KernelFacts struct {
	Format    vmm.KernelFormat
	FormatErr error
	// Solo5 is the kernel's Solo5 manifest, read for a VMM whose
	// descriptor asks for it.
	Solo5    vmm.Solo5Manifest
	Solo5Err error
	// NineP: the kernel carries a 9p client (read when folders are to be
	// shared).
	NineP    bool
	NinePErr error
}

// BlockRoot is a container rootfs that a snapshotter mounted from a block
// device: containerd's blockfile snapshotter (a loop device) or devmapper
// (a device-mapper device).
type BlockRoot struct {
	Device string // /dev/loopN, /dev/mapper/..., /dev/dm-N
	FSType string
}
