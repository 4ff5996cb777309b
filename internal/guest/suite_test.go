package guest

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestGuestSuite runs the checks every registered guest must pass.
func TestGuestSuite(t *testing.T) {
	network := &Net{IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", DNS: []string{"10.4.0.1"}, MTU: 1500}
	specs := map[string]Spec{
		"args":    {Args: []string{"/app", "-v", "--name=x"}}, // no blanks: Mewz cannot carry them
		"env":     {Args: []string{"/app"}, Env: []string{"A=1", "B=two words"}},
		"network": {Args: []string{"/app"}, Net: network},
		"all":     {Args: []string{"/app", "x"}, Env: []string{"A=1"}, Net: network, Cmdline: "-x"},
	}
	for _, typ := range Supported() {
		g, _ := Get(typ)
		t.Run(string(typ), func(t *testing.T) {
			if _, err := g.Boot(Spec{}); err != nil && !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("Boot(empty Spec) = %v, want success or ErrInvalidSpec", err)
			}
			if _, err := g.Boot(Spec{Args: []string{"/app"}}); err != nil {
				t.Errorf("Boot(program only) = %v", err)
			}
			for name, s := range specs {
				checkSuiteBoot(t, g, name, s)
			}
			ipv6 := Spec{Args: []string{"/app"}, Net: &Net{IP: "fd00::2", PrefixLen: 64, Gateway: "fd00::1"}}
			if _, err := g.Boot(ipv6); !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("Boot(IPv6 network) = %v, want ErrInvalidSpec", err)
			}
		})
	}
}

func checkSuiteBoot(t *testing.T, g Guest, name string, s Spec) {
	t.Helper()
	args := slices.Clone(s.Args)
	b, err := g.Boot(s)
	if err != nil {
		t.Errorf("%s: Boot = %v", name, err)
		return
	}
	if strings.ContainsAny(b.Cmdline, "\x00\n\r") {
		t.Errorf("%s: cmdline %q has a NUL or line break", name, b.Cmdline)
	}
	if s.Net != nil && (!strings.Contains(b.Cmdline, s.Net.IP) || !strings.Contains(b.Cmdline, s.Net.Gateway)) {
		t.Errorf("%s: cmdline %q lacks the network's address or gateway", name, b.Cmdline)
	}
	if !slices.Equal(s.Args, args) {
		t.Errorf("%s: Boot changed process.args to %q", name, s.Args)
	}
	if again, _ := g.Boot(s); again != b {
		t.Errorf("%s: Boot is not deterministic: %+v, then %+v", name, b, again)
	}
}

// bootCase is one expected command line of a guest.
type bootCase struct {
	name string
	spec Spec
	want string
}

// checkBoot runs the cases against guest typ; every case must ask for the
// devices of dev (Cmdline ignored).
func checkBoot(t *testing.T, typ Type, dev Boot, cases []bootCase) {
	t.Helper()
	g, err := Get(typ)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := g.Boot(c.spec)
			if err != nil {
				t.Fatal(err)
			}
			want := dev
			want.Cmdline = c.want
			if b != want {
				t.Fatalf("Boot = %+v\nwant   %+v", b, want)
			}
		})
	}
}
