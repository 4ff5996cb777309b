package urunit

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestIP6RoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   IP6
		want string
	}{
		{"address only", IP6{Addr: net.ParseIP("fd00:1::2"), PrefixLen: 64}, "fd00:1::2/64"},
		{"global gateway", IP6{Addr: net.ParseIP("2001:db8::5"), PrefixLen: 64, Gateway: net.ParseIP("2001:db8::1")},
			"2001:db8::5/64,2001:db8::1"},
		{"link-local gateway", IP6{Addr: net.ParseIP("fd00::a"), PrefixLen: 128, Gateway: net.ParseIP("fe80::1")},
			"fd00::a/128,fe80::1"},
		{"long form shortened", IP6{Addr: net.ParseIP("fd00:0:0:0:0:0:0:2"), PrefixLen: 1}, "fd00::2/1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.String()
			if got != tc.want {
				t.Fatalf("String() = %q, want %q", got, tc.want)
			}
			back, err := ParseIP6(got)
			if err != nil {
				t.Fatal(err)
			}
			if !back.Addr.Equal(tc.in.Addr) || back.PrefixLen != tc.in.PrefixLen || !back.Gateway.Equal(tc.in.Gateway) {
				t.Fatalf("ParseIP6(%q) = %+v, want %+v", got, back, tc.in)
			}
		})
	}
}

func TestParseIP6Errors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "address"},
		{"10.0.0.2/24", "not IPv6"},
		{"::ffff:10.0.0.2/96", "not IPv6"},
		{"fd00::2", "prefix length"},
		{"fd00::2/", "prefix length"},
		{"fd00::2/0", "prefix length"},
		{"fd00::2/129", "prefix length"},
		{"fd00::2/x", "prefix length"},
		{"fd00::2/64,", "gateway"},
		{"fd00::2/64,10.0.0.1", "gateway"},
		{"fd00::2/64,fe80::1%eth0", "gateway"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseIP6(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), IP6Param) {
				t.Fatalf("ParseIP6(%q) error %v, want one naming %s about %q", tc.in, err, IP6Param, tc.want)
			}
		})
	}
}

func TestDNS6(t *testing.T) {
	ips := func(s ...string) []net.IP {
		var out []net.IP
		for _, a := range s {
			out = append(out, net.ParseIP(a))
		}
		return out
	}
	tests := []struct {
		name    string
		servers []net.IP
		want    string
	}{
		{"none", nil, ""},
		{"one", ips("fd00::53"), "fd00::53"},
		{"at most MaxDNS6", ips("fd00::1", "fd00::2", "fd00::3", "fd00::4"), "fd00::1,fd00::2,fd00::3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FormatDNS6(tc.servers)
			if got != tc.want {
				t.Fatalf("FormatDNS6 = %q, want %q", got, tc.want)
			}
			if got == "" {
				return
			}
			back, err := ParseDNS6(got)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(back) != fmt.Sprint(tc.servers[:len(back)]) || len(back) != min(len(tc.servers), MaxDNS6) {
				t.Fatalf("ParseDNS6(%q) = %v", got, back)
			}
		})
	}
	for _, bad := range []string{"", "fd00::1,", "10.0.0.1", "fd00::1,x"} {
		if _, err := ParseDNS6(bad); err == nil || !strings.Contains(err.Error(), DNS6Param) {
			t.Errorf("ParseDNS6(%q) error %v, want one naming %s", bad, err, DNS6Param)
		}
	}
}
