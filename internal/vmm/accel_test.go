package vmm

import (
	"errors"
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
		{AccelAuto, true, false, AccelTCG, "/dev/kvm not usable", nil},
		{AccelAuto, false, false, AccelTCG, "/dev/kvm not usable", nil},
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
	if err == nil || !strings.Contains(err.Error(), "/dev/kvm") || !strings.Contains(err.Error(), `"tcg"`) {
		t.Errorf("kvm without /dev/kvm: error %v should name /dev/kvm and the tcg fix", err)
	}
}

const cpuinfoAMD = `processor	: 0
vendor_id	: AuthenticAMD
cpu MHz		: 2596.120
flags		: fpu vme de pse tsc msr pae svm_lock lm svm nx
bugs		: sysret_ss_attrs

processor	: 1
cpu MHz		: 1800.000
flags		: fpu vme de svm
`

const cpuinfoNoVirt = `processor	: 0
cpu MHz		: 2596.120
flags		: fpu vme hypervisor vmmcall svm_lock vmx_ept
`

func TestCPUInfoHasHWVirt(t *testing.T) {
	cases := map[string]struct {
		in   string
		want bool
	}{
		"amd svm":        {cpuinfoAMD, true},
		"intel vmx":      {"flags\t\t: fpu vmx sse\n", true},
		"lookalikes":     {cpuinfoNoVirt, false},
		"vmx in bugs":    {"bugs\t\t: vmx\nflags\t: fpu\n", false},
		"empty":          {"", false},
		"no colon":       {"flags vmx\n", false},
		"arm64 features": {"Features\t: fp asimd evtstrm\n", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := cpuInfoHasHWVirt(strings.NewReader(c.in)); got != c.want {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestCPUInfoMHzkHz(t *testing.T) {
	cases := map[string]struct {
		in   string
		want uint64
	}{
		"first cpu":   {cpuinfoAMD, 2596120},
		"rounding":    {"cpu MHz\t\t: 2999.9996\n", 3000000},
		"absent":      {"flags\t: fpu\n", 0},
		"malformed":   {"cpu MHz\t\t: fast\n", 0},
		"negative":    {"cpu MHz\t\t: -1\n", 0},
		"empty input": {"", 0},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := cpuInfoMHzkHz(strings.NewReader(c.in)); got != c.want {
				t.Fatalf("got %d, want %d", got, c.want)
			}
		})
	}
}

func TestParseKHz(t *testing.T) {
	for in, want := range map[string]uint64{"2596120\n": 2596120, "": 0, "x": 0, "-5": 0} {
		if got := parseKHz(in); got != want {
			t.Errorf("parseKHz(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestHostProbes only checks the probes run; their answers depend on the host.
func TestHostProbes(t *testing.T) {
	hw, dev := HasHWVirt(), KVMUsable()
	accel, reason, err := ResolveAccel(AccelAuto, hw, dev)
	t.Logf("hwvirt=%v kvm=%v tsc=%dkHz -> %s (%s), %v", hw, dev, HostTSCkHz(), accel, reason, err)
	if err != nil {
		t.Fatal(err)
	}
}
