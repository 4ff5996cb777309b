package lifecycle

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/launcher"
	"github.com/urunc-runtime/urunc/internal/network"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

func TestDescribeNetwork(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x42, 0x0a, 0x04, 0x00, 0x05}
	cases := []struct {
		name string
		ifc  network.Interface
		want string // net.json
	}{
		{"ipv4", network.Interface{Name: "eth0", MAC: mac, IP: net.IPv4(10, 4, 0, 5), PrefixLen: 24, Gateway: net.IPv4(10, 4, 0, 1), MTU: 1500},
			`{"interface":"eth0","tap":"tap0","mac":"02:42:0a:04:00:05","ip":"10.4.0.5","prefixLen":24,"gateway":"10.4.0.1","mtu":1500}`},
		{"ipv4 without gateway", network.Interface{Name: "eth0", MAC: mac, IP: net.IPv4(10, 4, 0, 5).To4(), PrefixLen: 16, MTU: 1400},
			`{"interface":"eth0","tap":"tap0","mac":"02:42:0a:04:00:05","ip":"10.4.0.5","prefixLen":16,"mtu":1400}`},
		{"dual stack", network.Interface{Name: "eth0", MAC: mac, IP: net.IPv4(10, 4, 0, 5), PrefixLen: 24, Gateway: net.IPv4(10, 4, 0, 1), MTU: 1500,
			IP6: net.ParseIP("fd00:4::5"), PrefixLen6: 64, Gateway6: net.ParseIP("fe80::1")},
			`{"interface":"eth0","tap":"tap0","mac":"02:42:0a:04:00:05","ip":"10.4.0.5","prefixLen":24,"gateway":"10.4.0.1","mtu":1500,` +
				`"ip6":"fd00:4::5","prefixLen6":64,"gateway6":"fe80::1"}`},
		{"ipv6 only", network.Interface{Name: "net1", MAC: mac, MTU: 9000, IP6: net.ParseIP("2001:db8::5"), PrefixLen6: 128},
			`{"interface":"net1","tap":"tap0","mac":"02:42:0a:04:00:05","ip":"","prefixLen":0,"mtu":9000,"ip6":"2001:db8::5","prefixLen6":128}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			js, err := json.Marshal(describeNetwork(&tc.ifc, "tap0"))
			if err != nil {
				t.Fatal(err)
			}
			if string(js) != tc.want {
				t.Errorf("net.json =\n %s\nwant\n %s", js, tc.want)
			}
		})
	}
}

func TestCheckGuestNetwork(t *testing.T) {
	plan := func(g guest.Type, format vmm.KernelFormat, solo5 *vmm.Solo5Manifest) launcher.Plan {
		v := vmm.QEMU
		if solo5 != nil {
			v = vmm.HVT
		}
		return launcher.Plan{
			VMM: v,
			Spec: vmm.Spec{Binary: "/usr/bin/vmm", Kernel: "/urunc/kernel", KernelFormat: format,
				MemoryMiB: 128, VCPUs: 1, Accel: vmm.AccelKVM, RunDir: "/urunc/run", Solo5: solo5},
			Guest:     g,
			GuestSpec: guest.Spec{Args: []string{"/app"}},
		}
	}
	nic := vmm.Solo5Device{Name: "service", Type: vmm.Solo5NetBasic}
	dual := &launcher.Network{Interface: "eth0", Tap: "urunc0a0b0c0d", MAC: "02:42:0a:04:00:05", MTU: 1500,
		IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", DNS: []string{"fd00:4::53", "10.4.0.1"},
		IP6: "fd00:4::5", PrefixLen6: 64, Gateway6: "fe80::1"}
	only6 := &launcher.Network{Interface: "eth0", Tap: "urunc0a0b0c0d", MAC: "02:42:0a:04:00:05", MTU: 1500,
		DNS: []string{"fd00:4::53"}, IP6: "fd00:4::5", PrefixLen6: 64, Gateway6: "fe80::1"}
	cases := []struct {
		name    string
		plan    launcher.Plan
		net     *launcher.Network
		wantErr string // "" for none
	}{
		{"linux dual stack", plan(guest.Linux, vmm.FormatBzImage, nil), dual, ""},
		{"linux IPv6 only", plan(guest.Linux, vmm.FormatBzImage, nil), only6, ""},
		{"unikraft dual stack", plan(guest.Unikraft, vmm.FormatMultiboot, nil), dual, ""},
		{"unikraft IPv6 only", plan(guest.Unikraft, vmm.FormatMultiboot, nil), only6,
			`interface "eth0" has IPv6 only, fd00:4::5/64, and only linux guests take IPv6`},
		{"rumprun with a NIC, IPv6 only", plan(guest.Rumprun, vmm.FormatELF, &vmm.Solo5Manifest{Devices: []vmm.Solo5Device{nic}}), only6,
			"only linux guests take IPv6"},
		{"rumprun without a NIC gets no network", plan(guest.Rumprun, vmm.FormatELF, &vmm.Solo5Manifest{}), only6, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkGuestNetwork(tc.plan, tc.net)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("checkGuestNetwork = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, guest.ErrInvalidSpec) {
				t.Fatalf("checkGuestNetwork = %v, want ErrInvalidSpec saying %q", err, tc.wantErr)
			}
		})
	}
}

func TestCheckOwnNetns(t *testing.T) {
	other := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		ns   []specs.LinuxNamespace
		err  error
	}{
		{"new namespace", []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}}, nil},
		{"a pod's namespace", []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: other}}, nil},
		{"none: the host's", []specs.LinuxNamespace{{Type: specs.PIDNamespace}}, ErrHostNetwork},
		{"urunc's own, by path", []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/proc/self/ns/net"}}, ErrHostNetwork},
	}
	// init's namespace is the host's when the test runs there (as root, in CI).
	if same, err := sameFile("/proc/1/ns/net", "/proc/self/ns/net"); err == nil && same {
		cases = append(cases, struct {
			name string
			ns   []specs.LinuxNamespace
			err  error
		}{"init's", []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"}}, ErrHostNetwork})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &specs.Spec{Linux: &specs.Linux{Namespaces: c.ns}}
			err := checkOwnNetns(s)
			if !errors.Is(err, c.err) {
				t.Fatalf("checkOwnNetns = %v, want %v", err, c.err)
			}
			if err != nil && !strings.Contains(err.Error(), "linux.namespaces") {
				t.Errorf("error %q does not name linux.namespaces", err)
			}
		})
	}
}

func TestSameFileMissing(t *testing.T) {
	if _, err := sameFile(filepath.Join(t.TempDir(), "absent"), "/proc/self/ns/net"); err == nil {
		t.Error("a missing namespace path is not an error")
	}
}
