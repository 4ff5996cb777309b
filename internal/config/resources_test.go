package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/urunc-runtime/urunc/internal/vmm"
)

func TestGuestMemoryMiB(t *testing.T) {
	cases := []struct {
		name  string
		limit int64
		want  uint64
		err   bool
	}{
		{"no limit", 0, 256, false},
		{"unlimited -1", -1, 256, false},
		{"512 MiB", 512 * mib, 416, false},
		{"exact minimum", 192 * mib, 96, false},
		{"rounds down", 200*mib + 12345, 104, false},
		{"below minimum", 192*mib - 1, 0, true},
		{"tiny", 4096, 0, true},
	}
	c := Default()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.GuestMemoryMiB(vmm.QEMU, tc.limit)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("GuestMemoryMiB(%d) = %d, %v; want %d, err=%v", tc.limit, got, err, tc.want, tc.err)
			}
			if err != nil {
				if !errors.Is(err, ErrMemoryTooSmall) || !strings.Contains(err.Error(), "linux.resources.memory.limit") ||
					!strings.Contains(err.Error(), "192 MiB") {
					t.Errorf("error %q should name the limit field and the 192 MiB minimum", err)
				}
			}
		})
	}
}

// Each VMM's own overhead is subtracted, and named when the limit is too
// small.
func TestGuestMemoryPerVMM(t *testing.T) {
	c := Default()
	c.VMMs[vmm.Firecracker].MemoryOverheadMiB = 40
	for _, n := range vmm.Supported() {
		d, _ := vmm.Describe(n)
		over := c.MemoryOverheadMiB(n)
		if n != vmm.Firecracker && over != d.MemoryOverheadMiB {
			t.Errorf("%s overhead %d, want the descriptor's %d", n, over, d.MemoryOverheadMiB)
		}
		if got, err := c.GuestMemoryMiB(n, 512*mib); err != nil || got != 512-over {
			t.Errorf("GuestMemoryMiB(%s, 512 MiB) = %d, %v; want %d", n, got, err, 512-over)
		}
		if got, err := c.GuestMemoryMiB(n, 0); err != nil || got != 256 {
			t.Errorf("GuestMemoryMiB(%s, none) = %d, %v; want [vm] default_memory_mib", n, got, err)
		}
		_, err := c.GuestMemoryMiB(n, int64(over+95)*mib)
		if !errors.Is(err, ErrMemoryTooSmall) || !strings.Contains(err.Error(), "["+string(n)+"] memory_overhead_mib") ||
			!strings.Contains(err.Error(), "[vm] min_memory_mib") {
			t.Errorf("GuestMemoryMiB(%s, too small) = %v; want %v naming both keys", n, err, ErrMemoryTooSmall)
		}
	}
}

func TestVCPUs(t *testing.T) {
	cases := []struct {
		name   string
		quota  int64
		period uint64
		cpus   string
		want   int
	}{
		{"quota exact", 200000, 100000, "0-7", 2},
		{"quota rounds up", 150000, 100000, "", 2},
		{"quota below one cpu", 10000, 100000, "", 1},
		{"quota without period", 200000, 0, "0-2,5", 4},
		{"unlimited quota", -1, 100000, "0-2,5", 4},
		{"cpuset single", 0, 0, "3", 1},
		{"cpuset spaces", 0, 0, " 0-1, 4 ", 3},
		{"cpuset duplicates", 0, 0, "0-3,2-5", 6},
		{"bad cpuset", 0, 0, "a-b", 1},
		{"reversed cpuset", 0, 0, "5-2", 1},
		{"nothing", 0, 0, "", 1},
	}
	c := Default()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.VCPUs(tc.quota, tc.period, tc.cpus); got != tc.want {
				t.Fatalf("VCPUs(%d, %d, %q) = %d, want %d", tc.quota, tc.period, tc.cpus, got, tc.want)
			}
		})
	}
	c.VM.DefaultVCPUs = 2
	if got := c.VCPUs(0, 0, ""); got != 2 {
		t.Errorf("default vcpus = %d, want 2", got)
	}
}

func TestCountCPUs(t *testing.T) {
	for in, want := range map[string]int{"": 0, "0": 1, "0-2,5": 4, "0-8191": 8192} {
		if got, err := CountCPUs(in); err != nil || got != want {
			t.Errorf("CountCPUs(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0-", "-1", "1,,2", "0-8192", "x"} {
		if _, err := CountCPUs(in); err == nil {
			t.Errorf("CountCPUs(%q) succeeded", in)
		}
	}
}
