package guest

import (
	"errors"
	"testing"
)

func TestUnikraftBoot(t *testing.T) {
	env := []string{"PATH=/bin", "GREETING=hello world"}
	cases := []bootCase{
		{"nothing", Spec{}, ""},
		{"program only", Spec{Args: []string{"/unikernel/app"}}, ""},
		{"args", Spec{Args: []string{"/app", "-c", "/etc/nginx.conf"}}, "-- -c /etc/nginx.conf"},
		{"env and args", Spec{Args: []string{"/app", "-v"}, Env: env},
			`env.vars=[ PATH=/bin "GREETING=hello world" ] -- -v`},
		{"env only", Spec{Env: []string{"A=1"}}, "env.vars=[ A=1 ] --"},
		{"v0.16.1 is new", Spec{Env: []string{"A=1"}, Version: "v0.16.1"}, "env.vars=[ A=1 ] --"},
		{"1.0 is new", Spec{Env: []string{"A=1"}, Version: "1.0"}, "env.vars=[ A=1 ] --"},
		{"0.15.0 has no env.vars", Spec{Args: []string{"/app", "x"}, Env: env, Version: "0.15.0"}, "-- x"},
		{"annotation wins over args", Spec{Args: []string{"/app", "ignored"}, Cmdline: `-c "/a b.conf"`},
			`-- -c "/a b.conf"`},
		{"annotation with own params", Spec{Env: []string{"A=1"}, Cmdline: "vfs.fstab=[ initrd0:/:extract ] -- -x"},
			"env.vars=[ A=1 ] vfs.fstab=[ initrd0:/:extract ] -- -x"},
		{"quoting", Spec{Args: []string{"/app", "a b", `say "hi"`, "it's", `'"`, "tab\there", "--"}},
			`-- "a b" "say "'"'"hi"'"' "it's" "'"'"' "tab	here" --`},
		{"stop and help in app args", Spec{Args: []string{"/app", "--", "help"}}, "-- -- help"},
		{"network", Spec{Args: []string{"/app", "x"}, Net: &Net{IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", DNS: []string{"10.4.0.1", "9.9.9.9"}}},
			"netdev.ip=10.4.0.5/24:10.4.0.1:10.4.0.1 -- x"},
		{"network without gateway and dns", Spec{Net: &Net{IP: "10.4.0.5", PrefixLen: 16}}, "netdev.ip=10.4.0.5/16: --"},
		{"network before 0.16", Spec{Version: "0.15.2", Net: &Net{IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1"}},
			"netdev.ipv4_addr=10.4.0.5 netdev.ipv4_gw_addr=10.4.0.1 netdev.ipv4_subnet_mask=255.255.255.0 --"},
	}
	checkBoot(t, Unikraft, Boot{}, cases)
}

// TestUnikraftInitrdRoot: an image initrd becomes the root filesystem,
// unless the image's command line mounts a root itself.
func TestUnikraftInitrdRoot(t *testing.T) {
	checkBoot(t, Unikraft, Boot{}, []bootCase{
		{"extract driver, newest", Spec{Args: []string{"/app", "x"}, Initrd: true}, `vfs.fstab=[ "initrd0:/:extract::ramfs=1:" ] -- x`},
		{"extract driver from 0.17", Spec{Args: []string{"/app", "x"}, Initrd: true, Version: "0.17.0"}, `vfs.fstab=[ "initrd0:/:extract::ramfs=1:" ] -- x`},
		{"initrd driver in 0.16", Spec{Args: []string{"/app", "x"}, Initrd: true, Version: "v0.16.3"}, `vfs.fstab=[ "initrd0:/:initrd:::" ] -- x`},
		{"rootfs before 0.16", Spec{Args: []string{"/app"}, Initrd: true, Version: "0.15.0"}, "vfs.rootfs=initrd --"},
		{"image's own fstab wins", Spec{Initrd: true, Cmdline: `vfs.fstab=[ "fs0:/:9pfs" ] -- -x`}, `vfs.fstab=[ "fs0:/:9pfs" ] -- -x`},
		{"image's own root wins before 0.16", Spec{Initrd: true, Version: "0.10.0", Cmdline: "vfs.rootfs=9pfs -- -x"}, "vfs.rootfs=9pfs -- -x"},
	})
}

// TestUnikraftProgramName: only QEMU's multiboot loader supplies argv[0];
// elsewhere the first word would be eaten as the program name.
func TestUnikraftProgramName(t *testing.T) {
	network := &Net{IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1"}
	checkBoot(t, Unikraft, Boot{}, []bootCase{
		{"qemu", Spec{Args: []string{"/app", "x"}, Net: network, Platform: PlatformQEMU}, "netdev.ip=10.4.0.5/24:10.4.0.1 -- x"},
		{"firecracker", Spec{Args: []string{"/app", "x"}, Net: network, Platform: PlatformFirecracker},
			"unikraft netdev.ip=10.4.0.5/24:10.4.0.1 -- x"},
		{"firecracker, nothing to pass", Spec{Platform: PlatformFirecracker}, ""},
		{"firecracker, whole annotation", Spec{Platform: PlatformFirecracker, Cmdline: "vfs.fstab=[ initrd0:/:extract ] -- -x"},
			"unikraft vfs.fstab=[ initrd0:/:extract ] -- -x"},
	})
}

func TestUnikraftBootErrors(t *testing.T) {
	cases := map[string]Spec{
		"empty arg":          {Args: []string{"/app", ""}},
		"ipv6 network":       {Net: &Net{IP: "fd00::1", PrefixLen: 64}},
		"bad gateway":        {Net: &Net{IP: "10.0.0.2", PrefixLen: 24, Gateway: "x"}},
		"nul in arg":         {Args: []string{"/app", "a\x00b"}},
		"env ends list":      {Env: []string{"A=x]"}},
		"empty env":          {Env: []string{""}},
		"bad version":        {Version: "latest"},
		"bad version suffix": {Version: "0.16x"},
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if b, err := (unikraft{}).Boot(s); !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Boot = %+v, %v; want ErrInvalidSpec", b, err)
			}
		})
	}
}

func TestUKQuoteRoundTrip(t *testing.T) {
	for _, a := range []string{"plain", "a b", `"`, `""x""`, "'", `a'b"c d`, " lead", "trail ", "x\ny", "ü ñ"} {
		q, err := ukQuote(a)
		if err != nil {
			t.Fatalf("ukQuote(%q): %v", a, err)
		}
		if got, closed := ukSplit(q); !closed || len(got) != 1 || got[0] != a {
			t.Errorf("ukQuote(%q) = %s splits to %q", a, q, got)
		}
	}
}

func TestParseMajorMinor(t *testing.T) {
	for in, want := range map[string][2]int{
		"0.15.0": {0, 15}, "v0.16.1": {0, 16}, "0.16": {0, 16}, "1": {1, 0},
		"0.17.0~abc": {0, 17}, "0.16.1-rc1": {0, 16},
	} {
		maj, mnr, err := parseMajorMinor(in)
		if err != nil || maj != want[0] || mnr != want[1] {
			t.Errorf("parseMajorMinor(%q) = %d, %d, %v; want %v", in, maj, mnr, err, want)
		}
	}
}

// TestRegistry runs the checks every registered guest must pass.
func TestRegistry(t *testing.T) {
	for _, typ := range Supported() {
		g, err := Get(typ)
		if err != nil || g.Type() != typ {
			t.Errorf("Get(%q) = %v, %v", typ, g, err)
		}
	}
	if _, err := Get("bogus"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Get(bogus) = %v, want ErrNotSupported", err)
	}
}
