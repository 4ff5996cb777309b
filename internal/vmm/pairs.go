package vmm

import (
	"fmt"
	"sort"
)

// guestVMMs is the one table of which guest types (the
// com.urunc.unikernel.unikernelType values; strings, because vmm does not
// import guest) run on which VMM. Sources: upstream urunc's
// docs/unikernel-support.md and docs/hypervisor-support.md, and the
// guests' own docs as quoted there; entries marked "guess" are not
// verified against a boot.
var guestVMMs = map[string][]Name{
	// Linux boots on all three KVM VMMs (upstream urunc: QEMU, Firecracker,
	// Cloud Hypervisor). Solo5 tenders load only Solo5 ELF binaries.
	"linux": {QEMU, Firecracker, CloudHypervisor},
	// Unikraft's KVM platform supports QEMU and Firecracker (upstream urunc
	// and Unikraft docs). Cloud Hypervisor: guess-no, no Unikraft platform
	// documented for it; Solo5: Unikraft dropped its solo5 platform.
	"unikraft": {QEMU, Firecracker},
	// Rumprun as packaged for urunc is built for the Solo5 tenders.
	// Upstream urunc: "not yet for Qemu" (Rumprun's own hw target boots
	// there, but its images are different binaries).
	"rumprun": {HVT, SPT},
	// MirageOS: Solo5 hvt/spt, and QEMU for its virtio target (upstream
	// urunc lists all three).
	"mirage": {QEMU, HVT, SPT},
	// Mewz "can execute only on top of Qemu" (upstream urunc).
	"mewz": {QEMU},
	// Hermit: QEMU (upstream urunc). Firecracker: guess-no — Hermit's loader
	// has a Firecracker boot path, but it is not verified with urunc;
	// Cloud Hypervisor likewise unverified.
	"hermit": {QEMU},
}

// ValidGuest reports whether guests of guestType run on VMM v; the error
// wraps ErrNotSupported and lists the VMMs that do run them (or, for an
// unknown guest type, the known types).
func ValidGuest(v Name, guestType string) error {
	vmms, ok := guestVMMs[guestType]
	if !ok {
		return fmt.Errorf("unikernel type %q: %w (known: %v)", guestType, ErrNotSupported, knownGuests())
	}
	for _, n := range vmms {
		if n == v {
			return nil
		}
	}
	return fmt.Errorf("unikernel type %q on hypervisor %q: %w (%s runs on: %v)",
		guestType, v, ErrNotSupported, guestType, vmms)
}

// GuestVMMs lists the VMMs that run guestType, nil for an unknown type.
func GuestVMMs(guestType string) []Name {
	return append([]Name(nil), guestVMMs[guestType]...)
}

func knownGuests() []string {
	out := make([]string, 0, len(guestVMMs))
	for g := range guestVMMs {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}
