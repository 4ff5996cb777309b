package solo5elf_test

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/urunc-runtime/urunc/internal/testutil/solo5elf"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// A whole synthetic unikernel reads back through urunc's own inspection:
// a plain ELF (what the Solo5 tenders load) with its manifest and target.
func TestUnikernelRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		u    solo5elf.Unikernel
		want vmm.Solo5Manifest
	}{
		{"hvt net and block",
			solo5elf.Unikernel{Target: solo5elf.TargetHVT, ABIVersion: 2,
				Devices: []solo5elf.Entry{solo5elf.Net("service"), solo5elf.Block("storage")}},
			vmm.Solo5Manifest{Target: "hvt", ABIVersion: 2, Devices: []vmm.Solo5Device{
				{Name: "service", Type: vmm.Solo5NetBasic}, {Name: "storage", Type: vmm.Solo5BlockBasic}}}},
		{"spt without devices",
			solo5elf.Unikernel{Target: solo5elf.TargetSPT, ABIVersion: 1},
			vmm.Solo5Manifest{Target: "spt", ABIVersion: 1}},
		{"no abi note",
			solo5elf.Unikernel{Devices: []solo5elf.Entry{solo5elf.Block("disk")}},
			vmm.Solo5Manifest{Devices: []vmm.Solo5Device{{Name: "disk", Type: vmm.Solo5BlockBasic}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "unikernel")
			if err := c.u.Write(path); err != nil {
				t.Fatal(err)
			}
			if f, err := vmm.InspectKernel(path); err != nil || f != vmm.FormatELF {
				t.Errorf("InspectKernel = %q, %v; want %q", f, err, vmm.FormatELF)
			}
			got, err := vmm.ReadSolo5Manifest(path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("manifest %+v, want %+v", got, c.want)
			}
		})
	}
}
