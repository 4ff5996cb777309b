package guest

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// TestIPv6OnlyForLinux checks every guest type with dual-stack and
// IPv6-only networks: Linux takes the IPv6 address, gateway and resolvers;
// every other guest boots exactly as on the IPv4 half of the network, never
// sees an IPv6 resolver where it expects IPv4, and refuses an IPv6-only
// network.
func TestIPv6OnlyForLinux(t *testing.T) {
	dual := &Net{IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", MTU: 1500,
		DNS: []string{"fd00:4::53", "10.4.0.1", "2001:db8::53", "9.9.9.9"},
		IP6: "fd00:4::5", PrefixLen6: 64, Gateway6: "fe80::1"}
	v4 := &Net{IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", MTU: 1500, DNS: []string{"10.4.0.1", "9.9.9.9"}}
	only6 := &Net{IP6: "fd00:4::5", PrefixLen6: 64, Gateway6: "fd00:4::1", DNS: []string{"fd00:4::53"}}
	ipv6Words := []string{"fd00:4::", "2001:db8::", "fe80::1"}
	for _, typ := range Supported() {
		g, _ := Get(typ)
		t.Run(string(typ), func(t *testing.T) {
			spec := func(n *Net) Spec { return Spec{Args: []string{"/app"}, Net: n} }
			got, err := g.Boot(spec(dual))
			if err != nil {
				t.Fatalf("Boot(dual stack) = %v", err)
			}
			if typ == Linux {
				for _, w := range []string{"ip=10.4.0.5::10.4.0.1:", ":10.4.0.1:9.9.9.9 ", "urunit.ip6=fd00:4::5/64,fe80::1",
					"urunit.dns6=fd00:4::53,2001:db8::53"} {
					if !strings.Contains(got.Cmdline+" ", w) {
						t.Errorf("dual-stack cmdline %q lacks %q", got.Cmdline, w)
					}
				}
				b, err := g.Boot(spec(only6))
				if err != nil || !strings.Contains(b.Cmdline, "urunit.ip6=fd00:4::5/64,fd00:4::1") || strings.Contains(b.Cmdline, "ip=") {
					t.Errorf("Boot(IPv6 only) = %q, %v; want urunit.ip6= and no ip=", b.Cmdline, err)
				}
				return
			}
			want, err := g.Boot(spec(v4))
			if err != nil {
				t.Fatalf("Boot(IPv4 half) = %v", err)
			}
			if got != want {
				t.Errorf("dual stack boots differently from its IPv4 half:\n got  %+v\n want %+v", got, want)
			}
			for _, w := range ipv6Words {
				if strings.Contains(got.Cmdline, w) {
					t.Errorf("cmdline %q carries IPv6 %q", got.Cmdline, w)
				}
			}
			if _, err := g.Boot(spec(only6)); !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("Boot(IPv6 only) = %v, want ErrInvalidSpec", err)
			}
		})
	}
}

// TestCheckIPv4DropsIPv6 pins the helper the IPv4-only guests share.
func TestCheckIPv4DropsIPv6(t *testing.T) {
	n, err := checkIPv4(Mewz, &Net{IP: "10.4.0.5", PrefixLen: 24, DNS: []string{"fd00::53", "10.4.0.1", "::ffff:9.9.9.9"},
		IP6: "fd00::5", PrefixLen6: 64, Gateway6: "fd00::1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range n.dns {
		if net.ParseIP(d).To4() == nil {
			t.Errorf("resolver %q is not IPv4", d)
		}
	}
	if len(n.dns) != 2 || n.dns[0] != "10.4.0.1" || n.dns[1] != "9.9.9.9" || n.gateway != "" {
		t.Errorf("checkIPv4 = %+v, want resolvers 10.4.0.1 9.9.9.9 and no gateway", n)
	}
}
