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
