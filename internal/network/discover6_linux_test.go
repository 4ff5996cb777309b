package network

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
)

// TestDiscoverIPv6 builds dual-stack and IPv6-only variants of the test
// namespaces (ULA prefix fd00:N::/64, never routed anywhere) and checks what
// Discover hands to the guest.
func TestDiscoverIPv6(t *testing.T) {
	type want struct {
		name     string // link chosen
		ip4      bool   // the IPv4 address and gateway of newTestNet are kept
		ip6      string // "" for none; P stands for the test's fd00:N:: prefix
		prefix6  int
		gateway6 string
	}
	tests := []struct {
		name    string
		link    string     // Discover's argument
		ctr     [][]string // ip commands in the container namespace, P for the prefix
		peer    [][]string // ip commands in the peer namespace
		tent    string     // an address the fixture must leave tentative
		want    want
		wantErr error
	}{
		{
			name: "dual stack, global gateway",
			ctr:  [][]string{{"addr", "add", "P2/64", "dev", "eth0", "nodad"}, {"-6", "route", "add", "default", "via", "P1"}},
			peer: [][]string{{"addr", "add", "P1/64", "dev", "veth0", "nodad"}},
			want: want{name: "eth0", ip4: true, ip6: "P2", prefix6: 64, gateway6: "P1"},
		},
		{
			name: "dual stack, link-local gateway",
			ctr:  [][]string{{"addr", "add", "P2/64", "dev", "eth0", "nodad"}, {"-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0"}},
			want: want{name: "eth0", ip4: true, ip6: "P2", prefix6: 64, gateway6: "fe80::1"},
		},
		{
			name: "no IPv6 default route",
			ctr:  [][]string{{"addr", "add", "P2/120", "dev", "eth0", "nodad"}},
			want: want{name: "eth0", ip4: true, ip6: "P2", prefix6: 120},
		},
		{
			name: "IPv6 only: the IPv6 default route beats an IPv4 link without one",
			ctr: [][]string{{"-4", "addr", "flush", "dev", "eth0"}, {"addr", "add", "P2/64", "dev", "eth0", "nodad"},
				{"-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0"}},
			want: want{name: "eth0", ip6: "P2", prefix6: 64, gateway6: "fe80::1"},
		},
		{
			name: "IPv4 default route beats an IPv6 one",
			ctr: [][]string{{"addr", "add", "P9/64", "dev", "aux0", "nodad"},
				{"-6", "route", "add", "default", "via", "fe80::1", "dev", "aux0"}},
			want: want{name: "eth0", ip4: true},
		},
		{
			name: "deprecated address loses, listed first",
			ctr:  [][]string{{"addr", "add", "P2/64", "dev", "eth0", "nodad"}, {"addr", "add", "P3/64", "dev", "eth0", "nodad", "preferred_lft", "0"}},
			want: want{name: "eth0", ip4: true, ip6: "P2", prefix6: 64},
		},
		{
			name: "deprecated address loses, listed last",
			ctr:  [][]string{{"addr", "add", "P3/64", "dev", "eth0", "nodad", "preferred_lft", "0"}, {"addr", "add", "P2/64", "dev", "eth0", "nodad"}},
			want: want{name: "eth0", ip4: true, ip6: "P2", prefix6: 64},
		},
		{
			name: "named: a tentative address is taken when it is the only one",
			link: "aux0",
			ctr:  [][]string{{"-4", "addr", "flush", "dev", "aux0"}, {"addr", "add", "P5/64", "dev", "aux0"}},
			tent: "P5",
			want: want{name: "aux0", ip6: "P5", prefix6: 64},
		},
		{
			name: "named: a settled address beats a tentative one",
			link: "aux0",
			ctr: [][]string{{"-4", "addr", "flush", "dev", "aux0"}, {"addr", "add", "P5/64", "dev", "aux0"},
				{"addr", "add", "P6/64", "dev", "aux0", "nodad"}},
			tent: "P5",
			want: want{name: "aux0", ip6: "P6", prefix6: 64},
		},
		{
			name:    "named: link-local only is no address",
			link:    "eth0",
			ctr:     [][]string{{"-4", "addr", "flush", "dev", "eth0"}},
			wantErr: ErrNoAddress,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tn := newTestNet(t)
			p := fmt.Sprintf("fd00:%d::", tn.ctrIP[2])
			expand := func(args []string) []string {
				out := make([]string, len(args))
				for i, a := range args {
					if strings.HasPrefix(a, "P") {
						a = p + a[1:]
					}
					out[i] = a
				}
				return out
			}
			for _, c := range tc.ctr {
				sh(t, append([]string{"ip", "-n", tn.ctr}, expand(c)...)...)
			}
			for _, c := range tc.peer {
				sh(t, append([]string{"ip", "-n", tn.peer}, expand(c)...)...)
			}
			if tc.tent != "" {
				out := sh(t, "ip", "-n", tn.ctr, "-6", "addr", "show", "to", expand([]string{tc.tent})[0])
				if !strings.Contains(out, "tentative") {
					t.Fatalf("fixture: %s is not tentative:\n%s", tc.tent, out)
				}
			}
			var got *Interface
			var err error
			tn.inCtr(t, func() error {
				got, err = Discover(tc.link)
				return nil
			})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Discover(%q) = %+v, %v; want error %v", tc.link, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got == nil {
				t.Fatalf("Discover(%q) = %+v, %v", tc.link, got, err)
			}
			w := Interface{Name: tc.want.name, PrefixLen6: tc.want.prefix6, MTU: got.MTU, MAC: got.MAC}
			if tc.want.name == ctrIf {
				w.MAC, w.MTU = tn.ctrMAC, tn.mtu
			}
			if tc.want.ip4 {
				w.IP, w.PrefixLen, w.Gateway = tn.ctrIP, 24, tn.peerIP
			}
			if tc.want.ip6 != "" {
				w.IP6 = net.ParseIP(expand([]string{tc.want.ip6})[0])
			}
			if tc.want.gateway6 != "" {
				w.Gateway6 = net.ParseIP(expand([]string{tc.want.gateway6})[0])
			}
			if !sameInterface(*got, w) {
				t.Errorf("Discover(%q) =\n %+v\nwant\n %+v", tc.link, *got, w)
			}
			if got.IP6 != nil && (len(got.IP6) != net.IPv6len || got.IP6.To4() != nil) {
				t.Errorf("IP6 %v is not a 16-byte IPv6 address", got.IP6)
			}
		})
	}
}
