package network

import (
	"net"
	"slices"
	"strings"
	"testing"
)

func TestTapName(t *testing.T) {
	ids := []string{"", "a", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", strings.Repeat("x", 1000)}
	seen := map[string]string{}
	for _, id := range ids {
		name := TapName(id)
		if len(name) > maxIfName {
			t.Errorf("TapName(%q) = %q: %d bytes, want <= %d", id, name, len(name), maxIfName)
		}
		if !strings.HasPrefix(name, TapPrefix) {
			t.Errorf("TapName(%q) = %q: missing prefix %q", id, name, TapPrefix)
		}
		if again := TapName(id); again != name {
			t.Errorf("TapName(%q) not stable: %q then %q", id, name, again)
		}
		if prev, ok := seen[name]; ok {
			t.Errorf("TapName(%q) = TapName(%q) = %q", id, prev, name)
		}
		seen[name] = id
	}
	// Pinned so that a tap made by one urunc version is found by the next.
	if got, want := TapName("abc"), "uruncba7816bf"; got != want {
		t.Errorf("TapName(%q) = %q, want %q", "abc", got, want)
	}
}

func TestNameservers(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want []string
	}{
		{"empty", "", nil},
		{"one", "nameserver 10.0.0.2\n", []string{"10.0.0.2"}},
		{"order and duplicates", "nameserver 1.1.1.1\nnameserver 10.0.0.2\nnameserver 1.1.1.1\n", []string{"1.1.1.1", "10.0.0.2"}},
		{"ipv6 kept in order", "nameserver fd00::1\nnameserver 192.168.1.1\nnameserver 2001:db8::53", []string{"fd00::1", "192.168.1.1", "2001:db8::53"}},
		{"ipv6 normalised and deduplicated", "nameserver FD00:0::1\nnameserver fd00::1\n", []string{"fd00::1"}},
		{"ipv4-mapped is ipv4", "nameserver ::ffff:10.0.0.2\nnameserver 10.0.0.2\n", []string{"10.0.0.2"}},
		{"ipv6 loopback, unspecified and link-local skipped", "nameserver ::1\nnameserver ::\nnameserver fe80::1\nnameserver fe80::1%eth0\n", nil},
		{"ipv4 link-local kept (NodeLocal DNSCache)", "nameserver 169.254.20.10\n", []string{"169.254.20.10"}},
		{"loopback skipped", "nameserver 127.0.0.53\nnameserver 127.0.0.11\n", nil},
		{"comments and options", "# nameserver 9.9.9.9\n; nameserver 9.9.9.8\nsearch svc.cluster.local\noptions ndots:5\nnameserver 10.96.0.10 # kube-dns\n", []string{"10.96.0.10"}},
		{"whitespace", "  nameserver\t172.17.0.1  \r\n", []string{"172.17.0.1"}},
		{"malformed", "nameserver\nnameserver foo\nnameserver 300.1.1.1\nnameservers 10.0.0.1\nnameserver 0.0.0.0\n", nil},
		{"no trailing newline", "nameserver 8.8.4.4", []string{"8.8.4.4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Nameservers([]byte(tt.conf)); !slices.Equal(got, tt.want) {
				t.Errorf("Nameservers(%q) = %q, want %q", tt.conf, got, tt.want)
			}
		})
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		prefix int
		want   string
	}{{0, "0.0.0.0"}, {8, "255.0.0.0"}, {24, "255.255.255.0"}, {30, "255.255.255.252"}, {32, "255.255.255.255"}}
	for _, tt := range tests {
		got := net.IP(Interface{PrefixLen: tt.prefix}.Mask()).String()
		if got != tt.want {
			t.Errorf("Mask() for /%d = %s, want %s", tt.prefix, got, tt.want)
		}
	}
}

func TestProcessNamespacePath(t *testing.T) {
	if got, want := ProcessNamespacePath(42), "/proc/42/ns/net"; got != want {
		t.Errorf("ProcessNamespacePath(42) = %q, want %q", got, want)
	}
}
