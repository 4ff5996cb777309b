package vmmseccomp

import (
	"errors"
	"testing"
)

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Mode
		wantErr bool
	}{
		{"enforce", Enforce, false},
		{"log", Log, false},
		{"off", Off, false},
		{"", "", true},
		{"Enforce", "", true},
		{"permissive", "", true},
	} {
		got, err := ParseMode(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseMode(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestPolicies(t *testing.T) {
	if got := Confined(); len(got) != 1 || got[0] != "hvt" {
		t.Errorf("Confined() = %v, want [hvt]: the other VMMs filter themselves", got)
	}
	for _, vmm := range []string{"qemu", "firecracker", "spt", "cloud-hypervisor"} {
		if _, ok := For(vmm); ok {
			t.Errorf("For(%q) has a policy; that VMM installs its own filter", vmm)
		}
	}
	p, _ := For("hvt")
	seen := map[string]bool{}
	for _, n := range p.Allow {
		if seen[n] {
			t.Errorf("hvt policy lists %q twice", n)
		}
		seen[n] = true
	}
	// The calls that make a VMM escape or reach beyond its devices must
	// never be on the unconditional list.
	for _, n := range []string{"socket", "connect", "mount", "umount2", "pivot_root", "unshare", "setns",
		"ptrace", "process_vm_writev", "bpf", "perf_event_open", "keyctl", "kexec_load",
		"init_module", "finit_module", "userfaultfd", "io_uring_setup", "clone", "clone3", "prctl"} {
		if seen[n] {
			t.Errorf("hvt policy allows %q unconditionally", n)
		}
	}
}

// TestApplyOffNeedsNothing: Off never fails, whatever the build.
func TestApplyOffNeedsNothing(t *testing.T) {
	if err := Apply(hvtPolicy, Off); err != nil {
		t.Errorf("Apply(Off) = %v", err)
	}
	if !Available() {
		if err := Apply(hvtPolicy, Enforce); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Apply(Enforce) without seccomp support = %v, want ErrUnavailable", err)
		}
	}
}
