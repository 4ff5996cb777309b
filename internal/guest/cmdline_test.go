package guest

import (
	"errors"
	"strings"
	"testing"
)

// TestImageCmdlineCannotOverride: for each guest, an image cmdline that
// would override a parameter urunc sets is refused with an error naming
// the annotation and the parameter; the harmless ones are kept.
func TestImageCmdlineCannotOverride(t *testing.T) {
	net := &Net{IP: "10.0.0.2", PrefixLen: 24, Gateway: "10.0.0.1", DNS: []string{"10.0.0.1"}}
	for _, tc := range []struct {
		guest   Type
		spec    Spec
		cmdline string
		want    string // "" to accept; else a word the error names
	}{
		{Unikraft, Spec{Net: net}, "netdev.ip=6.6.6.6/8:6.6.6.1 -- app", `"netdev.ip"`},
		{Unikraft, Spec{Net: net, Version: "0.15"}, "netdev.ipv4_addr=6.6.6.6 -- app", `"netdev.ipv4_addr"`},
		{Unikraft, Spec{Net: net}, `'netdev.ip'=6.6.6.6/8 -- app`, `"netdev.ip"`},
		{Unikraft, Spec{Net: net}, `x "--" netdev.ip=6.6.6.6/8`, ""}, // after its "--": app args
		{Unikraft, Spec{Net: net}, `netdev.ip=6.6.6.6/8 '--' x`, `"netdev.ip"`},
		{Unikraft, Spec{Net: net}, `"a -- b" netdev.ip=6.6.6.6/8`, ""}, // no stop token: all after urunc's "--"
		{Unikraft, Spec{Env: []string{"A=1"}}, `env.vars=[ "A=2" ] -- app`, `"env.vars"`},
		{Unikraft, Spec{}, `env.vars=[ "A=2" ] -- app`, ""}, // urunc sets no env.vars
		{Unikraft, Spec{Net: net}, `-- app "x`, "quote"},
		{Unikraft, Spec{Net: net}, "vfs.fstab=[ fs0:/:9pfs ] -- app", ""},
		{Hermit, Spec{Net: net}, "-ip 6.6.6.6 -- app", `"-ip"`},
		{Hermit, Spec{Net: net}, "'-gateway' 6.6.6.1 -- app", `"-gateway"`},
		{Hermit, Spec{Net: net}, `"-mask" 255.0.0.0 '--' app`, `"-mask"`},
		{Hermit, Spec{Env: []string{"A=1"}}, "env=A=2 -- app", `"env"`},
		{Hermit, Spec{Net: net}, "-freq 2000 -- -ip 6.6.6.6", ""},
		{Hermit, Spec{Net: net}, `"a -- b" -ip 6.6.6.6`, ""}, // no "--": after urunc's
		{Hermit, Spec{Net: net}, `app 'x`, "split"},
		{Hermit, Spec{Net: net}, `app x\`, "split"},
		{Mewz, Spec{Net: net}, "app ip=6.6.6.6/8", `"ip"`},
		{Mewz, Spec{Net: net}, "gateway=6.6.6.1 -- app", `"gateway"`},
		{Mewz, Spec{Net: net}, "-- app dns=6.6.6.6", `"dns"`},
		{Mewz, Spec{Net: net}, "epoch=1700000000 -- app", ""},
		{Mewz, Spec{Net: net}, "app\tip=6.6.6.6/8", ""}, // one word: Mewz splits at spaces only
	} {
		t.Run(string(tc.guest)+" "+tc.cmdline, func(t *testing.T) {
			g, _ := Get(tc.guest)
			s := tc.spec
			s.Cmdline = tc.cmdline
			b, err := g.Boot(s)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Boot: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Boot = %q, %v; want ErrInvalidSpec", b.Cmdline, err)
			}
			if !strings.Contains(err.Error(), "com.urunc.unikernel.cmdline") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the annotation and %s", err, tc.want)
			}
		})
	}
}

func TestShSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"a b\tc\nd", []string{"a", "b", "c", "d"}, true},
		{`'a b'"c d"e\ f`, []string{"a bc de f"}, true},
		{`"a\"b\$c\xd"`, []string{`a"b$c\xd`}, true},
		{"a #b c\nd", []string{"a", "d"}, true},
		{"a#b", []string{"a#b"}, true},
		{`''`, []string{""}, true},
		{`'a`, nil, false},
		{`"a`, nil, false},
		{`a\`, nil, false},
	} {
		got, ok := shSplit(tc.in)
		if ok != tc.ok || (ok && strings.Join(got, "|") != strings.Join(tc.want, "|")) {
			t.Errorf("shSplit(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
