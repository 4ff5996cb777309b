package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// netConfig is the guest network the host put on the kernel command line
// (see internal/urunit): IPv4 in the kernel's own ip= format, which urunit
// applies because the kernels it runs on may lack IP_PNP, and IPv6 in
// urunit.ip6=. Either may be missing, not both.
type netConfig struct {
	device  string
	ip      net.IP // nil without ip=
	mask    net.IPMask
	gateway net.IP
	ip6     *urunit.IP6 // nil without urunit.ip6=
	dns     []net.IP    // ip='s IPv4 resolvers, then urunit.dns6='s
	mtu     int
}

// parseNetConfig reads ip=<client>:<server>:<gw>:<mask>:<host>:<dev>:<autoconf>:<dns0>:<dns1>,
// urunit.ip6=, urunit.dns6= and urunit.mtu= from a kernel command line; nil
// when there is neither ip= nor urunit.ip6=.
func parseNetConfig(cmdline string) (*netConfig, error) {
	// Read as the kernel splits it (quotes, "--"), so that nothing the
	// image put on the command line reads differently here than there;
	// the last occurrence wins, as the host's parameters come last.
	params := urunit.ParseCmdline(cmdline)
	ipParam, _ := params.Last("ip")
	ip6Param, _ := params.Last(strings.TrimSuffix(urunit.IP6Param, "="))
	dns6Param, _ := params.Last(strings.TrimSuffix(urunit.DNS6Param, "="))
	mtuParam, _ := params.Last(strings.TrimSuffix(urunit.MTUParam, "="))
	if ipParam == "" && ip6Param == "" {
		return nil, nil
	}
	c := &netConfig{device: "eth0"}
	if ipParam != "" {
		if err := c.parseIPv4(ipParam); err != nil {
			return nil, err
		}
	}
	if ip6Param != "" {
		ip6, err := urunit.ParseIP6(ip6Param)
		if err != nil {
			return nil, err
		}
		c.ip6 = &ip6
		if dns6Param != "" {
			dns, err := urunit.ParseDNS6(dns6Param)
			if err != nil {
				return nil, err
			}
			c.dns = append(c.dns, dns...)
		}
	}
	if mtuParam != "" {
		mtu, err := strconv.Atoi(mtuParam)
		if err != nil || mtu < 68 {
			return nil, fmt.Errorf("%s%s: not an MTU", urunit.MTUParam, mtuParam)
		}
		c.mtu = mtu
	}
	return c, nil
}

// parseIPv4 reads the value of ip=.
func (c *netConfig) parseIPv4(ipParam string) error {
	fields := strings.Split(ipParam, ":")
	for len(fields) < 9 {
		fields = append(fields, "")
	}
	if fields[5] != "" {
		c.device = fields[5]
	}
	if c.ip = net.ParseIP(fields[0]).To4(); c.ip == nil {
		return fmt.Errorf("ip=%s: client address %q is not IPv4", ipParam, fields[0])
	}
	mask := net.ParseIP(fields[3]).To4()
	if mask == nil {
		return fmt.Errorf("ip=%s: netmask %q is not IPv4", ipParam, fields[3])
	}
	c.mask = net.IPMask(mask)
	if fields[2] != "" {
		if c.gateway = net.ParseIP(fields[2]).To4(); c.gateway == nil {
			return fmt.Errorf("ip=%s: gateway %q is not IPv4", ipParam, fields[2])
		}
	}
	for _, d := range fields[7:9] {
		if ip := net.ParseIP(d); ip != nil {
			c.dns = append(c.dns, ip)
		}
	}
	return nil
}

// resolvConf renders the nameservers for /etc/resolv.conf.
func (c *netConfig) resolvConf() string {
	var b strings.Builder
	for _, d := range c.dns {
		fmt.Fprintf(&b, "nameserver %s\n", d)
	}
	return b.String()
}
