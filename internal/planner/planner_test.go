package planner

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/unikernel"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// linuxOn is a Linux guest bundle on VMM v, its kernel a vmlinux.
func linuxOn(v vmm.Name) bundleCase {
	return bundleCase{ann: annotations(v, guest.Linux), process: proc([]string{"/app"}), host: kernel(vmm.FormatPVH)}
}

func withHost(c bundleCase, f func(h *HostFacts)) bundleCase {
	prev := c.host
	c.host = func(h *HostFacts) {
		if prev != nil {
			prev(h)
		}
		f(h)
	}
	return c
}

func withSpec(c bundleCase, f func(s *specs.Spec)) bundleCase {
	c.spec = func(t *testing.T, s *specs.Spec, h *HostFacts) { f(s) }
	return c
}

var errProbe = errors.New("probe failed")

// TestPlanRefuses: each bad input fails planning with an error naming the
// field or setting and the way out.
func TestPlanRefuses(t *testing.T) {
	blk := specs.LinuxDevice{Path: "/dev/xvdb", Type: "b"}
	cases := []struct {
		name string
		c    bundleCase
		want []string
	}{
		{"device on a guest that takes none", withSpec(mewzCases(vmm.QEMU)[0], func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{blk} }),
			[]string{"linux.devices[0]", "linux guests on qemu only", "mewz on qemu"}},
		{"device on a VMM without disk serials", withSpec(linuxOn(vmm.Firecracker), func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{blk} }),
			[]string{"linux.devices[0]", "not linux on firecracker"}},
		{"host network", withHost(linuxOn(vmm.QEMU), func(h *HostFacts) { h.NetnsErr = errProbe }), []string{errProbe.Error()}},
		{"VMM binary missing", withHost(linuxOn(vmm.Firecracker), func(h *HostFacts) { delete(h.Binaries, vmm.Firecracker) }),
			[]string{"hypervisor firecracker", `"/usr/local/bin/firecracker" not found`, "[firecracker] binary", "releases"}},
		{"kernel unreadable", withHost(linuxOn(vmm.QEMU), func(h *HostFacts) { h.Kernel.FormatErr = errProbe }),
			[]string{unikernel.KeyBinary, `"/kernel"`, errProbe.Error()}},
		{"KVM-only VMM without KVM", withHost(linuxOn(vmm.CloudHypervisor), func(h *HostFacts) { h.KVM = false }),
			[]string{"accelerator", "cloud-hypervisor", "[host] kvm_device"}},
		// Not a refusal: with accel auto and no usable KVM, QEMU falls back
		// to TCG and gets no KVM device (checked below).
		{"auto without KVM falls back to tcg", withHost(linuxOn(vmm.QEMU), func(h *HostFacts) { h.KVM = false }), nil},
		{"memory limit below the minimum", withSpec(linuxOn(vmm.QEMU), func(s *specs.Spec) {
			limit := int64(64 << 20)
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
		}), []string{"linux.resources.memory.limit", "memory_overhead_mib"}},
		{"Solo5 manifest unreadable", withHost(mirageCases(vmm.HVT)[0], func(h *HostFacts) { h.Kernel.Solo5Err = errProbe }),
			[]string{unikernel.KeyBinary, errProbe.Error()}},
		{"share for a guest that mounts none", bundleCase{ann: annotations(vmm.QEMU, guest.Unikraft, unikernel.KeyMountRootfs, "true"),
			process: proc([]string{"/app"}), host: kernel(vmm.FormatMultiboot)},
			[]string{unikernel.KeyMountRootfs, "guest type unikraft cannot mount shared folders", "only linux guests"}},
		{"share without 9p in the kernel", bundleCase{ann: annotations(vmm.QEMU, guest.Linux, unikernel.KeyMountRootfs, "true"),
			process: proc([]string{"/app"}), host: kernel(vmm.FormatPVH)},
			[]string{"no 9p support", "CONFIG_9P_FS"}},
		{"hvt filter without seccomp", withHost(mirageCases(vmm.HVT)[0], func(h *HostFacts) { h.Seccomp = false }),
			[]string{"hvt", "[hvt] seccomp"}},
		{"image block file on the block root", withHost(linuxCases(vmm.QEMU)[0], func(h *HostFacts) {
			h.BlockRoot, h.BlockFileOnRoot = &BlockRoot{Device: "/dev/loop7", FSType: "ext4"}, true
		}), []string{unikernel.KeyBlock, "/dev/loop7", "overlayfs"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Plan(loadBundle(t, tc.c))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Plan: %v", err)
				}
				if res.Plan.Spec.Accel != vmm.AccelTCG || res.KVMDevice != "" {
					t.Errorf("accel %s, kvm device %q; want tcg and none", res.Plan.Spec.Accel, res.KVMDevice)
				}
				return
			}
			if err == nil {
				t.Fatalf("Plan succeeded: %+v", res.Plan)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestPlanChoices: what the planner decides from the descriptors and the
// host facts, beyond the argv the goldens hold.
func TestPlanChoices(t *testing.T) {
	t.Run("spt takes no accelerator and never gets the KVM device", func(t *testing.T) {
		c := withHost(mirageCases(vmm.SPT)[0], func(h *HostFacts) { h.KVM = false })
		in := loadBundle(t, c)
		in.Config.VM.Accel = vmm.AccelKVM
		res, err := Plan(in)
		if err != nil || res.Plan.Spec.Accel != vmm.AccelNone || res.KVMDevice != "" {
			t.Fatalf("Plan: %v; accel %v, kvm device %q; want none and none", err, res.Plan.Spec.Accel, res.KVMDevice)
		}
	})
	t.Run("KVM VMMs get the configured KVM device", func(t *testing.T) {
		in := loadBundle(t, linuxOn(vmm.Firecracker))
		in.Config.Host.KVMDevice = "/dev/kvm-test"
		res, err := Plan(in)
		if err != nil || res.KVMDevice != "/dev/kvm-test" {
			t.Fatalf("Plan: %v; kvm device %q", err, res.KVMDevice)
		}
	})
	t.Run("TSC only for a microvm kernel under TCG", func(t *testing.T) {
		for _, c := range []struct {
			v      vmm.Name
			format vmm.KernelFormat
			kvm    bool
			want   uint64
		}{
			{vmm.QEMU, vmm.FormatPVH, false, 2995200},
			{vmm.QEMU, vmm.FormatBzImage, false, 2995200},
			{vmm.QEMU, vmm.FormatPVH, true, 0},
		} {
			bc := withHost(linuxOn(c.v), func(h *HostFacts) { h.Kernel.Format, h.KVM = c.format, c.kvm })
			res, err := Plan(loadBundle(t, bc))
			if err != nil || res.Plan.GuestSpec.TSCkHz != c.want {
				t.Errorf("%s %s kvm=%v: %v, TSC %d; want %d", c.v, c.format, c.kvm, err, res.Plan.GuestSpec.TSCkHz, c.want)
			}
		}
	})
	t.Run("API socket kind from the descriptor", func(t *testing.T) {
		for v, qmp := range map[vmm.Name]bool{vmm.QEMU: true, vmm.Firecracker: false, vmm.CloudHypervisor: false} {
			in := loadBundle(t, linuxOn(v))
			in.Config.API.Socket = true
			res, err := Plan(in)
			if err != nil {
				t.Fatal(err)
			}
			got := res.Plan.Spec.QMPSocket != ""
			if got != qmp || (res.Plan.Spec.QMPSocket == "") == (res.Plan.Spec.APISocket == "") {
				t.Errorf("%s: QMP %q, API %q", v, res.Plan.Spec.QMPSocket, res.Plan.Spec.APISocket)
			}
		}
	})
	t.Run("rootfs initrd and host kernel args for guests that need them", func(t *testing.T) {
		in := loadBundle(t, linuxOn(vmm.QEMU))
		in.Config.Linux.KernelArgs = "loglevel=7"
		res, err := Plan(in)
		if err != nil || !res.RootfsInitrd || res.Plan.ExtraCmdline != "loglevel=7" || res.Plan.Spec.Initrd != MonitorInitrd {
			t.Fatalf("linux: %v, rootfs initrd %v, extra %q, initrd %q", err, res.RootfsInitrd, res.Plan.ExtraCmdline, res.Plan.Spec.Initrd)
		}
		in = loadBundle(t, mewzCases(vmm.QEMU)[0])
		in.Config.Linux.KernelArgs = "loglevel=7"
		res, err = Plan(in)
		if err != nil || res.RootfsInitrd || res.Plan.ExtraCmdline != "" || res.Plan.Spec.Initrd != "" {
			t.Fatalf("mewz: %v, rootfs initrd %v, extra %q, initrd %q", err, res.RootfsInitrd, res.Plan.ExtraCmdline, res.Plan.Spec.Initrd)
		}
	})
	t.Run("no block root without seccomp: a warning, no guard", func(t *testing.T) {
		c := withHost(linuxOn(vmm.QEMU), func(h *HostFacts) {
			h.BlockRoot, h.Seccomp = &BlockRoot{Device: "/dev/loop3", FSType: "ext4"}, false
		})
		res, err := Plan(loadBundle(t, c))
		if err != nil || res.BlockRoot == nil || res.Plan.LoopGuard || len(res.Warnings) != 1 || res.Plan.RootDisk != "/dev/loop3" {
			t.Fatalf("Plan: %v; block root %v, guard %v, warnings %q", err, res.BlockRoot, res.Plan.LoopGuard, res.Warnings)
		}
	})
	t.Run("block root is QEMU's only", func(t *testing.T) {
		c := withHost(linuxOn(vmm.Firecracker), func(h *HostFacts) { h.BlockRoot = &BlockRoot{Device: "/dev/loop3", FSType: "ext4"} })
		res, err := Plan(loadBundle(t, c))
		if err != nil || res.BlockRoot != nil {
			t.Fatalf("Plan: %v; block root %v, want none", err, res.BlockRoot)
		}
	})
}
