package vmm

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ResolveAccel turns the configured accelerator into the one to use, with a
// short reason to report. It is pure: the host facts come from HasHWVirt and
// KVMUsable.
//
//   - auto picks kvm only when the CPU advertises vmx/svm and /dev/kvm is
//     usable. A /dev/kvm without vmx/svm is a software KVM (e.g. kvm-pvm),
//     where some guests fault and most boot slower than under TCG.
//   - kvm is honoured whenever /dev/kvm is usable, and fails otherwise.
//   - tcg is always honoured.
func ResolveAccel(want Accel, hwVirt, kvmDev bool) (Accel, string, error) {
	switch want {
	case AccelTCG:
		return AccelTCG, "tcg requested", nil
	case AccelKVM:
		if !kvmDev {
			return "", "", fmt.Errorf("accel %q: %w: /dev/kvm cannot be opened read-write "+
				"(load the kvm module and give the runtime rw access to /dev/kvm, or set accel = %q)",
				want, ErrKVMUnavailable, AccelTCG)
		}
		if !hwVirt {
			return AccelKVM, "kvm requested (no vmx/svm cpu flag: software kvm)", nil
		}
		return AccelKVM, "kvm requested", nil
	case AccelAuto, "":
		switch {
		case hwVirt && kvmDev:
			return AccelKVM, "auto: vmx/svm present and /dev/kvm usable", nil
		case !kvmDev:
			return AccelTCG, "auto: /dev/kvm not usable", nil
		default:
			return AccelTCG, "auto: /dev/kvm usable but no vmx/svm cpu flag (software kvm)", nil
		}
	default:
		return "", "", fmt.Errorf("accel %q: %w (want %q, %q or %q)",
			want, ErrNotSupported, AccelAuto, AccelKVM, AccelTCG)
	}
}

// cpuInfoHasHWVirt reports whether any "flags" line of /proc/cpuinfo text
// lists vmx (Intel VT-x) or svm (AMD-V).
func cpuInfoHasHWVirt(r io.Reader) bool {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "flags" {
			continue
		}
		for _, f := range strings.Fields(val) {
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
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "cpu MHz" {
			continue
		}
		mhz, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || mhz <= 0 || math.IsInf(mhz, 0) {
			return 0
		}
		return uint64(math.Round(mhz * 1000))
	}
	return 0
}

// parseKHz parses a sysfs frequency file holding kHz, or returns 0.
func parseKHz(s string) uint64 {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0
	}
	return v
}
