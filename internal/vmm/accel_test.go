package vmm

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveAccel(t *testing.T) {
	cases := []struct {
		want           Accel
		hwVirt, kvmDev bool
		got            Accel
		reason         string
		err            error
	}{
		{AccelAuto, true, true, AccelKVM, "vmx/svm present", nil},
		{AccelAuto, false, true, AccelTCG, "software kvm", nil}, // this machine
		{AccelAuto, true, false, AccelTCG, "kvm device is not usable", nil},
		{AccelAuto, false, false, AccelTCG, "kvm device is not usable", nil},
		{"", true, true, AccelKVM, "auto", nil},
		{AccelKVM, true, true, AccelKVM, "kvm requested", nil},
		{AccelKVM, false, true, AccelKVM, "software kvm", nil},
		{AccelKVM, true, false, "", "", ErrKVMUnavailable},
		{AccelTCG, true, true, AccelTCG, "tcg requested", nil},
		{"hvf", true, true, "", "", ErrNotSupported},
	}
	for _, c := range cases {
		name := string(c.want)
		if c.hwVirt {
			name += "/hw"
		}
		if c.kvmDev {
			name += "/dev"
		}
		t.Run(name, func(t *testing.T) {
			got, reason, err := ResolveAccel(c.want, c.hwVirt, c.kvmDev)
			if !errors.Is(err, c.err) || got != c.got || !strings.Contains(reason, c.reason) {
				t.Fatalf("ResolveAccel = %q, %q, %v; want %q, %q, %v", got, reason, err, c.got, c.reason, c.err)
			}
		})
	}
	_, _, err := ResolveAccel(AccelKVM, true, false)
	if err == nil || !strings.Contains(err.Error(), "kvm device") || !strings.Contains(err.Error(), `"tcg"`) {
		t.Errorf("kvm without /dev/kvm: error %v should name the kvm device and the tcg fix", err)
	}
}

// AccelFor asks [qemu] accel only of QEMU: the KVM-only VMMs need the
// device whatever it says, and solo5-spt never looks at it.
func TestAccelFor(t *testing.T) {
	cases := []struct {
		vmm            Name
		want           Accel
		hwVirt, kvmDev bool
		got            Accel
		err            error
	}{
		{QEMU, AccelAuto, false, false, AccelTCG, nil},
		{QEMU, AccelKVM, false, false, "", ErrKVMUnavailable},
		{QEMU, AccelKVM, false, true, AccelKVM, nil},
		{Firecracker, AccelTCG, true, true, AccelKVM, nil},
		{Firecracker, AccelAuto, false, true, AccelKVM, nil}, // software kvm: the only choice
		{Firecracker, AccelAuto, true, false, "", ErrKVMUnavailable},
		{CloudHypervisor, AccelKVM, true, false, "", ErrKVMUnavailable},
		{HVT, AccelTCG, false, true, AccelKVM, nil},
		{HVT, AccelAuto, false, false, "", ErrKVMUnavailable},
		{SPT, AccelKVM, false, false, AccelNone, nil},
		{SPT, "hvf", true, true, AccelNone, nil},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s/%s/hw=%v/dev=%v", c.vmm, c.want, c.hwVirt, c.kvmDev)
		t.Run(name, func(t *testing.T) {
			v, err := Get(c.vmm)
			if err != nil {
				t.Fatal(err)
			}
			got, reason, err := AccelFor(v, c.want, c.hwVirt, c.kvmDev)
			if !errors.Is(err, c.err) || got != c.got {
				t.Fatalf("AccelFor = %q, %q, %v; want %q, %v", got, reason, err, c.got, c.err)
			}
			if err != nil && (!strings.Contains(err.Error(), string(c.vmm)) && c.vmm != QEMU) {
				t.Errorf("error %q does not name the VMM", err)
			}
			if err == nil && reason == "" {
				t.Errorf("no reason given for %q", got)
			}
		})
	}
}

// TestHostProbes only checks the probes run; their answers depend on the host.
func TestHostProbes(t *testing.T) {
	if KVMUsable(filepath.Join(t.TempDir(), "kvm")) {
		t.Error("a missing kvm device is usable")
	}
	hw, dev := HasHWVirt(), KVMUsable(KVMDevice)
	accel, reason, err := ResolveAccel(AccelAuto, hw, dev)
	t.Logf("hwvirt=%v kvm=%v tsc=%dkHz -> %s (%s), %v", hw, dev, HostTSCkHz(), accel, reason, err)
	if err != nil {
		t.Fatal(err)
	}
}
