package vmm

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// KVMDevice is the host's KVM device node, the default of [host]
// kvm_device.
const KVMDevice = "/dev/kvm"

// AccelFor resolves the accelerator VMM v runs its guest with on this host,
// with a short reason to report. want is the configured choice ([qemu]
// accel) and only matters to a VMM that can emulate (lists tcg): a VMM
// without an emulator needs KVM whatever want says, and a VMM that takes no
// accelerator (solo5-spt) gets AccelNone and never looks at the KVM device.
func AccelFor(v VMM, want Accel, hwVirt, kvmDev bool) (Accel, string, error) {
	switch {
	case len(v.Describe().Accels) == 0:
		return AccelNone, fmt.Sprintf("%s runs the guest as a process", v.Name()), nil
	case !KVMOnly(v):
		return ResolveAccel(want, hwVirt, kvmDev)
	case !kvmDev:
		return "", "", fmt.Errorf("%s: %w: the kvm device cannot be opened read-write, and %s has no "+
			"emulator to run guests without it (load the kvm module and give the runtime rw access "+
			"to the device, or run the image on qemu)", v.Name(), ErrKVMUnavailable, v.Name())
	default:
		return AccelKVM, fmt.Sprintf("%s runs guests only under kvm", v.Name()), nil
	}
}

// KVMOnly reports whether v runs guests only under KVM: it takes an
// accelerator and has no emulator (tcg) to fall back to.
func KVMOnly(v VMM) bool {
	a := v.Describe().Accels
	return len(a) > 0 && !slices.Contains(a, AccelTCG)
}

// ResolveAccel turns the configured accelerator of an emulating VMM (QEMU)
// into the one to use, with a short reason to report. It is pure: the host
// facts come from HasHWVirt and KVMUsable.
//
//   - auto picks kvm only when the CPU advertises vmx/svm and the KVM device
//     is usable. A KVM device without vmx/svm is a software KVM (e.g.
//     kvm-pvm), where some guests fault and most boot slower than under TCG.
//   - kvm is honoured whenever the KVM device is usable, and fails otherwise.
//   - tcg is always honoured.
func ResolveAccel(want Accel, hwVirt, kvmDev bool) (Accel, string, error) {
	switch want {
	case AccelTCG:
		return AccelTCG, "tcg requested", nil
	case AccelKVM:
		if !kvmDev {
			return "", "", fmt.Errorf("accel %q: %w: the kvm device cannot be opened read-write "+
				"(load the kvm module and give the runtime rw access to it, or set accel = %q)",
				want, ErrKVMUnavailable, AccelTCG)
		}
		if !hwVirt {
			return AccelKVM, "kvm requested (no vmx/svm cpu flag: software kvm)", nil
		}
		return AccelKVM, "kvm requested", nil
	case AccelAuto, "":
		switch {
		case hwVirt && kvmDev:
			return AccelKVM, "auto: vmx/svm present and the kvm device usable", nil
		case !kvmDev:
			return AccelTCG, "auto: the kvm device is not usable", nil
		default:
			return AccelTCG, "auto: the kvm device is usable but no vmx/svm cpu flag (software kvm)", nil
		}
	default:
		return "", "", fmt.Errorf("accel %q: %w (want %q, %q or %q)",
			want, ErrNotSupported, AccelAuto, AccelKVM, AccelTCG)
	}
}

// cpuInfoValues returns the values of every "key: value" line of
// /proc/cpuinfo text with that key, one per CPU.
func cpuInfoValues(r io.Reader, key string) []string {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		k, val, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			out = append(out, strings.TrimSpace(val))
		}
	}
	return out
}

// cpuInfoHasHWVirt reports whether any "flags" line of /proc/cpuinfo text
// lists vmx (Intel VT-x) or svm (AMD-V).
func cpuInfoHasHWVirt(r io.Reader) bool {
	for _, flags := range cpuInfoValues(r, "flags") {
		for _, f := range strings.Fields(flags) {
			if f == "vmx" || f == "svm" {
				return true
			}
		}
	}
	return false
}

// cpuInfoMHzkHz returns the first cpu's "cpu MHz" from /proc/cpuinfo text in
// kHz, or 0 when absent or malformed.
func cpuInfoMHzkHz(r io.Reader) uint64 {
	vals := cpuInfoValues(r, "cpu MHz")
	if len(vals) == 0 {
		return 0
	}
	mhz, err := strconv.ParseFloat(vals[0], 64)
	if err != nil || mhz <= 0 || math.IsInf(mhz, 0) {
		return 0
	}
	return uint64(math.Round(mhz * 1000))
}

// parseKHz parses a sysfs frequency file holding kHz, or returns 0.
func parseKHz(s string) uint64 {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0
	}
	return v
}
