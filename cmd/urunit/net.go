package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// netConfig is the guest network the host put on the kernel command line,
// in the kernel's own ip= format (see internal/guest): urunit applies it
// because the kernels it runs on may lack IP_PNP.
type netConfig struct {
	device  string
	ip      net.IP
	mask    net.IPMask
	gateway net.IP
	dns     []net.IP
	mtu     int
}

// parseNetConfig reads ip=<client>:<server>:<gw>:<mask>:<host>:<dev>:<autoconf>:<dns0>:<dns1>
// and urunit.mtu=<n> from a kernel command line; nil when there is no ip=.
func parseNetConfig(cmdline string) (*netConfig, error) {
	var ipParam, mtuParam string
	for _, f := range strings.Fields(cmdline) {
		switch {
		case strings.HasPrefix(f, "ip="):
			ipParam = strings.TrimPrefix(f, "ip=")
		case strings.HasPrefix(f, "urunit.mtu="):
			mtuParam = strings.TrimPrefix(f, "urunit.mtu=")
		}
	}
	if ipParam == "" {
		return nil, nil
	}
	fields := strings.Split(ipParam, ":")
	for len(fields) < 9 {
		fields = append(fields, "")
	}
	c := &netConfig{device: fields[5], ip: net.ParseIP(fields[0]).To4()}
	if c.device == "" {
		c.device = "eth0"
	}
	if c.ip == nil {
		return nil, fmt.Errorf("ip=%s: client address %q is not IPv4", ipParam, fields[0])
	}
	mask := net.ParseIP(fields[3]).To4()
	if mask == nil {
		return nil, fmt.Errorf("ip=%s: netmask %q is not IPv4", ipParam, fields[3])
	}
	c.mask = net.IPMask(mask)
	if fields[2] != "" {
		if c.gateway = net.ParseIP(fields[2]).To4(); c.gateway == nil {
			return nil, fmt.Errorf("ip=%s: gateway %q is not IPv4", ipParam, fields[2])
		}
	}
	for _, d := range fields[7:9] {
		if ip := net.ParseIP(d); ip != nil {
			c.dns = append(c.dns, ip)
		}
	}
	if mtuParam != "" {
		mtu, err := strconv.Atoi(mtuParam)
		if err != nil || mtu < 68 {
			return nil, fmt.Errorf("urunit.mtu=%s: not an MTU", mtuParam)
		}
		c.mtu = mtu
	}
	return c, nil
}

// resolvConf renders the nameservers for /etc/resolv.conf.
func (c *netConfig) resolvConf() string {
	var b strings.Builder
	for _, d := range c.dns {
		fmt.Fprintf(&b, "nameserver %s\n", d)
	}
	return b.String()
}
