package guest

import (
	"fmt"
	"net"
	"strings"
)

// ipv4Net is a container network checked to be IPv4 throughout.
type ipv4Net struct {
	ip      string // dotted quad
	prefix  int
	gateway string   // "" for none
	dns     []string // the IPv4 resolvers, in order; others are left out
}

// mask is the prefix as a dotted-quad netmask.
func (n ipv4Net) mask() string { return net.IP(net.CIDRMask(n.prefix, 32)).String() }

// checkIPv4 validates n for guest t. Resolvers that are not IPv4 (an IPv6
// nameserver in the container's resolv.conf) are dropped: none of these
// guests can reach them.
func checkIPv4(t Type, n *Net) (ipv4Net, error) {
	ip := net.ParseIP(n.IP).To4()
	if ip == nil || n.PrefixLen < 1 || n.PrefixLen > 32 {
		return ipv4Net{}, fmt.Errorf("%s guest: %w: network address %q/%d is not IPv4", t, ErrInvalidSpec, n.IP, n.PrefixLen)
	}
	out := ipv4Net{ip: ip.String(), prefix: n.PrefixLen}
	if n.Gateway != "" {
		gw := net.ParseIP(n.Gateway).To4()
		if gw == nil {
			return ipv4Net{}, fmt.Errorf("%s guest: %w: gateway %q is not IPv4", t, ErrInvalidSpec, n.Gateway)
		}
		out.gateway = gw.String()
	}
	for _, d := range n.DNS {
		if v4 := net.ParseIP(d).To4(); v4 != nil {
			out.dns = append(out.dns, v4.String())
		}
	}
	return out, nil
}

// checkEnvEntry checks that kv is KEY=VALUE with a non-empty key.
func checkEnvEntry(t Type, i int, kv string) error {
	if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
		return fmt.Errorf("%s guest: %w: process.env[%d] %q is not KEY=VALUE", t, ErrInvalidSpec, i, kv)
	}
	return nil
}

// checkLine refuses the bytes no single-line kernel command line carries:
// NUL ends it early, and line breaks are not part of any guest's syntax.
func checkLine(t Type, what, s string) error {
	if strings.ContainsAny(s, "\x00\n\r") {
		return fmt.Errorf("%s guest: %w: %s %q contains a NUL or line break", t, ErrInvalidSpec, what, s)
	}
	return nil
}
