package urunit

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Network parameters on a Linux guest's kernel command line.
//
// The IPv4 configuration travels in the kernel's own
// ip=<client>::<gateway>:<netmask>::eth0:off[:<dns0>[:<dns1>]], which a
// kernel with IP_PNP applies itself and urunit applies otherwise. What ip=
// cannot say travels in urunit's own parameters, read only by urunit:
//
//	urunit.mtu=<n>                         the MTU of eth0
//	urunit.ip6=<address>/<prefix>[,<gw>]   eth0's IPv6 address (added without
//	                                       duplicate address detection) and
//	                                       the IPv6 default gateway, which may
//	                                       be link-local (on-link via eth0)
//	urunit.dns6=<server>[,<server>...]     IPv6 nameservers, written to
//	                                       resolv.conf after ip='s IPv4 ones
//
// A guest with only IPv6 has urunit.ip6= and no ip=.
const (
	MTUParam  = "urunit.mtu="
	IP6Param  = "urunit.ip6="
	DNS6Param = "urunit.dns6="
)

// MaxDNS6 is the most IPv6 nameservers urunit.dns6= carries: resolv.conf
// users read at most three nameservers (glibc's MAXNS).
const MaxDNS6 = 3

// IP6 is the IPv6 configuration of urunit.ip6=.
type IP6 struct {
	Addr      net.IP // a global unicast IPv6 address
	PrefixLen int    // 1..128
	Gateway   net.IP // nil for no IPv6 default route
}

// String renders the value of urunit.ip6= (without the parameter name).
func (c IP6) String() string {
	s := c.Addr.String() + "/" + strconv.Itoa(c.PrefixLen)
	if c.Gateway != nil {
		s += "," + c.Gateway.String()
	}
	return s
}

// ParseIP6 reads the value of urunit.ip6=: <address>/<prefix>[,<gateway>].
func ParseIP6(v string) (IP6, error) {
	cidr, gw, hasGW := strings.Cut(v, ",")
	addr, prefix, ok := strings.Cut(cidr, "/")
	c := IP6{Addr: parseIPv6(addr)}
	if c.Addr == nil {
		return IP6{}, fmt.Errorf("%s%s: address %q is not IPv6", IP6Param, v, addr)
	}
	n, err := strconv.Atoi(prefix)
	if !ok || err != nil || n < 1 || n > 128 {
		return IP6{}, fmt.Errorf("%s%s: prefix length %q is not 1-128", IP6Param, v, prefix)
	}
	c.PrefixLen = n
	if hasGW {
		if c.Gateway = parseIPv6(gw); c.Gateway == nil {
			return IP6{}, fmt.Errorf("%s%s: gateway %q is not IPv6", IP6Param, v, gw)
		}
	}
	return c, nil
}

// FormatDNS6 renders the value of urunit.dns6= for servers, at most
// MaxDNS6 of them; "" when there are none.
func FormatDNS6(servers []net.IP) string {
	var out []string
	for _, s := range servers {
		if len(out) == MaxDNS6 {
			break
		}
		out = append(out, s.String())
	}
	return strings.Join(out, ",")
}

// ParseDNS6 reads the value of urunit.dns6=.
func ParseDNS6(v string) ([]net.IP, error) {
	var out []net.IP
	for _, s := range strings.Split(v, ",") {
		ip := parseIPv6(s)
		if ip == nil {
			return nil, fmt.Errorf("%s%s: nameserver %q is not IPv6", DNS6Param, v, s)
		}
		out = append(out, ip)
	}
	return out, nil
}

// parseIPv6 returns s as an IPv6 address; nil for anything else, IPv4 and
// IPv4-mapped IPv6 addresses included.
func parseIPv6(s string) net.IP {
	ip := net.ParseIP(s)
	if ip == nil || ip.To4() != nil {
		return nil
	}
	return ip
}
