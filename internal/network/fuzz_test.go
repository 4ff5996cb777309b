package network

import (
	"net"
	"strings"
	"testing"
)

// FuzzNameservers: resolv.conf comes from the container's rootfs or its
// engine. Whatever it holds, Nameservers returns distinct, usable
// addresses, each named by a nameserver line of the input.
func FuzzNameservers(f *testing.F) {
	for _, seed := range []string{
		"nameserver 10.0.0.2\nnameserver 127.0.0.53\n",
		"# comment\nsearch example\nnameserver fd00::1\nnameserver fe80::1%eth0\nnameserver ::ffff:10.0.0.2\n",
		"nameserver\nnameserver 0.0.0.0\nnameserver 10.0.0.2 extra\n\x00nameserver 169.254.20.10",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, conf []byte) {
		out := Nameservers(conf)
		seen := map[string]bool{}
		for _, s := range out {
			ip := net.ParseIP(s)
			switch {
			case ip == nil:
				t.Fatalf("%q is no address", s)
			case ip.IsLoopback() || ip.IsUnspecified():
				t.Fatalf("%q is loopback or unspecified: the guest cannot reach it", s)
			case ip.To4() == nil && ip.IsLinkLocalUnicast():
				t.Fatalf("%q is IPv6 link-local: it needs a zone the guest does not share", s)
			case seen[s]:
				t.Fatalf("%q twice in %q", s, out)
			case ip.String() != s:
				t.Fatalf("%q is not in canonical form (%s)", s, ip)
			}
			seen[s] = true
			if !strings.Contains(string(conf), "nameserver") {
				t.Fatalf("%q returned from input without a nameserver line", s)
			}
		}
	})
}
