package lifecycle

import (
	"reflect"
	"testing"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestApplyResources(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	u16 := func(v uint16) *uint16 { return &v }
	base := func() *cgroups.Resources {
		return &cgroups.Resources{Memory: 1 << 30, MemorySwap: 2 << 30, CpuShares: 1024, CpuQuota: 100000, CpuPeriod: 100000,
			CpusetCpus: "0-1", PidsLimit: i64(100), BlkioWeight: 500}
	}
	cases := []struct {
		name    string
		res     *specs.LinuxResources
		want    func(*cgroups.Resources)
		ignored []string
	}{
		{"nil changes nothing", nil, func(*cgroups.Resources) {}, nil},
		{"empty changes nothing", &specs.LinuxResources{Memory: &specs.LinuxMemory{}, CPU: &specs.LinuxCPU{}},
			func(*cgroups.Resources) {}, nil},
		{"memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Reservation: i64(32 << 20)}},
			func(r *cgroups.Resources) { r.Memory, r.MemoryReservation = 64<<20, 32<<20 }, nil},
		{"unlimited memory lifts swap", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1)}},
			func(r *cgroups.Resources) { r.Memory, r.MemorySwap = -1, -1 }, nil},
		{"cpu", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(200000), Cpus: "1"}},
			func(r *cgroups.Resources) {
				r.CpuShares, r.CpuQuota, r.CpuPeriod, r.CpusetCpus = 512, 50000, 200000, "1"
				r.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(512)
			}, nil},
		{"pids and blkio", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1)}, BlockIO: &specs.LinuxBlockIO{Weight: u16(100)}},
			func(r *cgroups.Resources) { r.PidsLimit, r.BlkioWeight = i64(-1), 100 }, nil},
		{"unified merges", &specs.LinuxResources{Unified: map[string]string{"memory.high": "1G"}},
			func(r *cgroups.Resources) { r.Unified = map[string]string{"memory.high": "1G"} }, nil},
		{"what cannot be applied is named", &specs.LinuxResources{
			HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}},
			Memory:         &specs.LinuxMemory{Swappiness: u64(10)},
			BlockIO:        &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{}}},
		}, func(*cgroups.Resources) {}, []string{"memory.swappiness", "blockIO per-device limits", "hugepageLimits"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, want := base(), base()
			c.want(want)
			ignored := applyResources(got, c.res)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("resources\n got %+v\nwant %+v", got, want)
			}
			if !reflect.DeepEqual(ignored, c.ignored) {
				t.Errorf("ignored %q, want %q", ignored, c.ignored)
			}
		})
	}
}
