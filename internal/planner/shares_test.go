package planner

import (
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/unikernel"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// TestServiceAccountVolume: the token volume the kubelet adds to every pod
// is left out, with a warning, for a guest that cannot take shares; it is
// shared where the guest can; any other volume is still refused.
func TestServiceAccountVolume(t *testing.T) {
	withVolumes := func(c bundleCase, dests ...string) bundleCase {
		c.spec = func(t *testing.T, s *specs.Spec, h *HostFacts) {
			for _, d := range dests {
				src := t.TempDir()
				s.Mounts = append(s.Mounts, specs.Mount{Destination: d, Source: src, Type: "bind", Options: []string{"rbind", "ro"}})
				h.Folders[src] = true
			}
		}
		return c
	}
	unikraft := bundleCase{ann: annotations(vmm.QEMU, guest.Unikraft), process: proc([]string{"/app"}), host: kernel(vmm.FormatMultiboot)}
	linuxNo9p := bundleCase{ann: annotations(vmm.QEMU, guest.Linux), process: proc([]string{"/app"}), host: kernel(vmm.FormatBzImage)}
	linux9p := bundleCase{ann: annotations(vmm.QEMU, guest.Linux), process: proc([]string{"/app"}),
		host: func(h *HostFacts) { h.Kernel.Format, h.Kernel.NineP = vmm.FormatPVH, true }}
	cases := []struct {
		name    string
		c       bundleCase
		shares  int    // shares planned
		warning string // in Result.Warnings ("" for none)
		err     string // Plan's error ("" for none)
	}{
		{"unikraft: token left out", withVolumes(unikraft, ServiceAccountDir), 0, "automountServiceAccountToken: false", ""},
		{"linux without 9p: token left out", withVolumes(linuxNo9p, ServiceAccountDir), 0, "no 9p support", ""},
		{"linux with 9p: token shared", withVolumes(linux9p, ServiceAccountDir, "/data"), 2, "", ""},
		{"unikraft: another volume still refused", withVolumes(unikraft, ServiceAccountDir, "/data"), 0, "", `volume "/data"`},
		{"unikraft: mountRootfs still refused", func() bundleCase {
			c := withVolumes(unikraft, ServiceAccountDir)
			c.ann = annotations(vmm.QEMU, guest.Unikraft, unikernel.KeyMountRootfs, "true")
			return c
		}(), 0, "", unikernel.KeyMountRootfs},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Plan(loadBundle(t, tc.c))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Plan: %v; want an error naming %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if n := len(res.Plan.Spec.Shares); n != tc.shares {
				t.Errorf("%d shares %+v; want %d", n, res.Plan.Spec.Shares, tc.shares)
			}
			got := strings.Join(res.Warnings, "\n")
			if tc.warning == "" && strings.Contains(got, ServiceAccountDir) || tc.warning != "" && !strings.Contains(got, tc.warning) {
				t.Errorf("warnings %q; want one saying %q", got, tc.warning)
			}
			for _, m := range res.Plan.GuestSpec.Mounts {
				if tc.shares == 0 {
					t.Errorf("guest mount %+v left in", m)
				}
			}
		})
	}
}
