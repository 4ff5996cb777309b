package guest

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

func TestLinuxBoot(t *testing.T) {
	const base = "console=ttyS0 panic=-1 reboot=t quiet loglevel=3 rdinit=/.urunit/urunit"
	cases := []bootCase{
		{"plain", Spec{Args: []string{"/bin/sh"}}, base},
		{"annotation first, so that urunc's parameters win", Spec{Args: []string{"/app"}, Cmdline: "console=hvc0 loglevel=7"},
			"console=hvc0 loglevel=7 " + base},
		{"annotation may quote", Spec{Args: []string{"/app"}, Cmdline: `dyndbg="file a.c +p"`},
			`dyndbg="file a.c +p" ` + base},
		{"args stay off the cmdline", Spec{Args: []string{"/bin/echo", "a b", "--", "x=y"}, Env: []string{"A=1"}}, base},
		{"tsc", Spec{Args: []string{"/app"}, TSCkHz: 2596120}, base + " tsc_early_khz=2596120"},
		{"network", Spec{Args: []string{"/app"}, Net: &Net{IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", DNS: []string{"10.4.0.1", "9.9.9.9", "1.1.1.1"}, MTU: 1450}},
			base + " ip=10.4.0.5::10.4.0.1:255.255.255.0::eth0:off:10.4.0.1:9.9.9.9 urunit.mtu=1450"},
		{"network without gateway or dns, after the annotation", Spec{Args: []string{"/app"}, Cmdline: "x=1", Net: &Net{IP: "192.168.1.2", PrefixLen: 30}},
			"x=1 " + base + " ip=192.168.1.2:::255.255.255.252::eth0:off"},
		{"network dual stack", Spec{Args: []string{"/app"}, Net: &Net{IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", MTU: 1450,
			DNS: []string{"fd00:4::53", "10.4.0.1", "2001:db8::53", "9.9.9.9", "1.1.1.1"},
			IP6: "fd00:4::5", PrefixLen6: 64, Gateway6: "fe80::1"}},
			base + " ip=10.4.0.5::10.4.0.1:255.255.255.0::eth0:off:10.4.0.1:9.9.9.9 urunit.mtu=1450" +
				" urunit.ip6=fd00:4::5/64,fe80::1 urunit.dns6=fd00:4::53,2001:db8::53"},
		{"network dual stack, global IPv6 gateway, no IPv6 resolver", Spec{Args: []string{"/app"}, Net: &Net{IP: "10.4.0.5", PrefixLen: 24,
			DNS: []string{"10.4.0.1"}, IP6: "2001:db8:0:0::5", PrefixLen6: 56, Gateway6: "2001:db8::1"}},
			base + " ip=10.4.0.5:::255.255.255.0::eth0:off:10.4.0.1 urunit.ip6=2001:db8::5/56,2001:db8::1"},
		{"network IPv6 only: no ip=, no IPv4 resolver", Spec{Args: []string{"/app"}, Cmdline: "x=1", Net: &Net{MTU: 1500,
			DNS: []string{"10.96.0.10", "fd00:96::a"}, IP6: "fd00:4::5", PrefixLen6: 128}},
			"x=1 " + base + " urunit.mtu=1500 urunit.ip6=fd00:4::5/128 urunit.dns6=fd00:96::a"},
		{"network IPv6 resolvers capped", Spec{Args: []string{"/app"}, Net: &Net{IP6: "fd00::5", PrefixLen6: 64,
			DNS: []string{"fd00::1", "fd00::2", "fd00::3", "fd00::4"}}},
			base + " urunit.ip6=fd00::5/64 urunit.dns6=fd00::1,fd00::2,fd00::3"},
		{"cloud-hypervisor powers off", Spec{Args: []string{"/app"}, Platform: PlatformCloudHypervisor, Cmdline: "x=1"},
			"x=1 " + base + " urunit.halt=poweroff"},
		{"firecracker stops on the reboot", Spec{Args: []string{"/app"}, Platform: PlatformFirecracker}, base},
	}
	checkBoot(t, Linux, Boot{ExitDevice: true, Agent: true}, cases)
	if base != linuxBaseCmdline || urunit.BinaryPath != "/.urunit/urunit" {
		t.Errorf("base cmdline %q drifted from the documented one", linuxBaseCmdline)
	}
}

// TestLinuxBootImageCmdline: an image's command line cannot undo the
// parameters urunc sets; what ordering cannot protect is refused with an
// error naming the annotation (and the parameter, when there is one).
func TestLinuxBootImageCmdline(t *testing.T) {
	g, _ := Get(Linux)
	net := &Net{IP: "10.0.0.2", PrefixLen: 24, MTU: 1500}
	for _, tc := range []struct {
		name, cmdline, param string // param: "" to accept
	}{
		{"rdinit is overridden by urunc's", "rdinit=/bin/sh", ""},
		{"console and panic are overridden", "console=tty0 panic=0 reboot=a", ""},
		{"dashes", "a=1 -- x", `"--"`},
		{"quoted dashes", `a=1 "--" x`, `"--"`},
		{"unclosed quote", `a="b`, "unclosed"},
		{"unclosed quote in a name", `a"b`, "unclosed"},
		{"ip", "ip=6.6.6.6::6.6.6.1:255.0.0.0::eth0:off", `"ip"`},
		{"ip quoted", `"ip=6.6.6.6::6.6.6.1:255.0.0.0"`, `"ip"`},
		{"ip after a kernel blank", "x ip=6.6.6.6", `"ip"`},
		{"nfsaddrs", "nfsaddrs=6.6.6.6", `"nfsaddrs"`},
		{"urunit halt", "urunit.halt=poweroff", `"urunit.halt"`},
		{"urunit ip6", "urunit.ip6=fd00::6/64", `"urunit.ip6"`},
		{"urunit mtu", "urunit.mtu=68", `"urunit.mtu"`},
		{"newline", "a=1\nb=2", "line break"},
		{"nul", "a=1\x00b", "NUL"},
		{"too long", "x=" + strings.Repeat("a", LinuxMaxCmdline), "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := g.Boot(Spec{Args: []string{"/app"}, Cmdline: tc.cmdline, Net: net})
			if tc.param == "" {
				if err != nil {
					t.Fatalf("Boot: %v", err)
				}
				if !strings.HasSuffix(b.Cmdline, " "+linuxBaseCmdline+" ip=10.0.0.2:::255.255.255.0::eth0:off urunit.mtu=1500") {
					t.Errorf("cmdline %q does not end with urunc's parameters", b.Cmdline)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Boot(%q) = %q, %v; want ErrInvalidSpec", tc.cmdline, b.Cmdline, err)
			}
			if !strings.Contains(err.Error(), "com.urunc.unikernel.cmdline") || !strings.Contains(err.Error(), tc.param) {
				t.Errorf("error %q does not name the annotation and %s", err, tc.param)
			}
		})
	}
}

func TestLinuxBootBadNetwork(t *testing.T) {
	g, _ := Get(Linux)
	for name, n := range map[string]*Net{
		"ipv6":                   {IP: "fd00::2", PrefixLen: 64},
		"no prefix":              {IP: "10.0.0.2"},
		"bad prefix":             {IP: "10.0.0.2", PrefixLen: 33},
		"bad gw":                 {IP: "10.0.0.2", PrefixLen: 24, Gateway: "gw"},
		"ipv6 gw for ipv4":       {IP: "10.0.0.2", PrefixLen: 24, Gateway: "fd00::1"},
		"no address":             {MTU: 1500, DNS: []string{"10.0.0.1"}},
		"ip6 is ipv4":            {IP6: "10.0.0.2", PrefixLen6: 24},
		"ip6 is ipv4-mapped":     {IP6: "::ffff:10.0.0.2", PrefixLen6: 120},
		"ip6 is link-local":      {IP6: "fe80::2", PrefixLen6: 64},
		"ip6 is garbage":         {IP: "10.0.0.2", PrefixLen: 24, IP6: "fd00::2/64", PrefixLen6: 64},
		"ip6 without prefix":     {IP6: "fd00::2"},
		"ip6 prefix too long":    {IP6: "fd00::2", PrefixLen6: 129},
		"ip6 gateway is ipv4":    {IP6: "fd00::2", PrefixLen6: 64, Gateway6: "10.0.0.1"},
		"ip6 gateway is garbage": {IP6: "fd00::2", PrefixLen6: 64, Gateway6: "fe80::1%eth0"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := g.Boot(Spec{Args: []string{"/app"}, Net: n}); !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Boot = %v, want ErrInvalidSpec", err)
			}
		})
	}
}

func TestLinuxInit(t *testing.T) {
	s := Spec{Args: []string{"/usr/bin/env", "-i"}, Env: []string{"PATH=/bin", "X=a b"},
		Cwd: "/srv", UID: 1000, GID: 100, Cmdline: "ignored=1"}
	got, err := LinuxInit(s)
	if err != nil {
		t.Fatal(err)
	}
	want := urunit.Config{Args: s.Args, Env: s.Env, Cwd: "/srv", UID: 1000, GID: 100}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LinuxInit = %+v, want %+v", got, want)
	}
	s.Args[0] = "mutated"
	if got.Args[0] != "/usr/bin/env" {
		t.Error("LinuxInit shares process.args with the Spec")
	}
	js, _ := json.Marshal(got)
	const wantJSON = `{"args":["/usr/bin/env","-i"],"env":["PATH=/bin","X=a b"],"cwd":"/srv","uid":1000,"gid":100}`
	if string(js) != wantJSON {
		t.Errorf("json = %s, want %s", js, wantJSON)
	}
}

// TestLinuxInitDevices: the container's block devices reach urunit.
func TestLinuxInitDevices(t *testing.T) {
	dev := Device{Path: "/dev/xvdb", Serial: "urunc-dev0", FileMode: 0o660, UID: 0, GID: 6}
	got, err := LinuxInit(Spec{Args: []string{"/app"}, Devices: []Device{dev}})
	if err != nil {
		t.Fatal(err)
	}
	want := []urunit.Device{{Path: "/dev/xvdb", Serial: "urunc-dev0", FileMode: 0o660, GID: 6}}
	if !reflect.DeepEqual(got.Devices, want) {
		t.Errorf("Devices = %+v, want %+v", got.Devices, want)
	}
}

func TestLinuxEmptyArgs(t *testing.T) {
	for name, args := range map[string][]string{"nil": nil, "empty": {}, "empty program": {""}} {
		t.Run(name, func(t *testing.T) {
			_, err := LinuxInit(Spec{Args: args})
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("LinuxInit: %v, want ErrInvalidSpec", err)
			}
			if _, err := (linux{}).Boot(Spec{Args: args}); !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("Boot: %v, want ErrInvalidSpec", err)
			}
		})
	}
	_, err := LinuxInit(Spec{})
	if err == nil || err.Error() != "linux guest: invalid guest spec: process.args is empty" {
		t.Errorf("error = %v", err)
	}
}
