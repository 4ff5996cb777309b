package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// linkWait is how long the guest NIC may take to appear once its driver
// is loaded.
const linkWait = 5 * time.Second

// setupNetwork applies the network on the kernel command line, if any.
func setupNetwork() error {
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return fmt.Errorf("read kernel command line: %w", err)
	}
	return setupNetworkFrom(string(cmdline), nil)
}

// setupNetworkFrom applies the network parameters in params (as on a
// kernel command line), giving the link the address mac first when it is
// not nil.
func setupNetworkFrom(params string, mac net.HardwareAddr) error {
	c, err := parseNetConfig(params)
	if err != nil || c == nil {
		return err
	}
	if err := linkUp("lo"); err != nil {
		return err
	}
	link, err := waitLink(c.device)
	if err != nil {
		return err
	}
	if mac != nil && link.Attrs().HardwareAddr.String() != mac.String() {
		if err := netlink.LinkSetHardwareAddr(link, mac); err != nil {
			return fmt.Errorf("set %s address %s: %w", c.device, mac, err)
		}
	}
	if err := configureLink(link, c); err != nil {
		return err
	}
	// IPv6 comes last and does not hold back the rest: on a dual-stack
	// network a guest kernel without IPv6 still gets IPv4 and resolv.conf.
	var err6 error
	if c.ip6 != nil {
		err6 = configureIPv6(link, c.ip6, c.mtu)
	}
	if err6 != nil && c.ip != nil {
		fail("set up IPv6 (the application has IPv4 only)", err6, 0)
		err6 = nil
	}
	if len(c.dns) == 0 {
		return err6
	}
	if err := os.MkdirAll("/etc", 0o755); err != nil {
		return errors.Join(fmt.Errorf("write resolv.conf: %w", err), err6)
	}
	if err := os.WriteFile("/etc/resolv.conf", []byte(c.resolvConf()), 0o644); err != nil {
		return errors.Join(fmt.Errorf("write resolv.conf: %w", err), err6)
	}
	return err6
}

func linkUp(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// virtioNetDriver exists once the virtio-net driver is registered.
const virtioNetDriver = "/sys/bus/virtio/drivers/virtio_net"

// waitLink waits for the NIC: its driver may still be probing. Without a
// virtio-net driver it will never come, so that is said at once.
func waitLink(name string) (netlink.Link, error) {
	deadline := time.Now().Add(linkWait)
	noDriver := "the guest kernel needs virtio-net (built in, or its modules under /lib/modules/<release> in the image)"
	if _, err := os.Stat(virtioNetDriver); err != nil {
		if _, err := netlink.LinkByName(name); err != nil {
			return nil, fmt.Errorf("no network device %s: %s", name, noDriver)
		}
	}
	for {
		l, err := netlink.LinkByName(name)
		if err == nil {
			return l, nil
		}
		var notFound netlink.LinkNotFoundError
		if !errors.As(err, &notFound) {
			return nil, fmt.Errorf("find %s: %w", name, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("network device %s did not appear within %v: %s", name, linkWait, noDriver)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func configureLink(l netlink.Link, c *netConfig) error {
	name := l.Attrs().Name
	if c.mtu > 0 {
		if err := netlink.LinkSetMTU(l, c.mtu); err != nil {
			return fmt.Errorf("set %s mtu %d: %w", name, c.mtu, err)
		}
	}
	if c.ip != nil {
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: c.ip, Mask: c.mask}}
		// A kernel with IP_PNP has applied ip= itself: EEXIST is success.
		if err := netlink.AddrAdd(l, addr); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add address %s to %s: %w", addr.IPNet, name, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	if c.ip == nil || c.gateway == nil {
		return nil
	}
	route := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: c.gateway}
	if err := netlink.RouteAdd(route); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add default route via %s: %w", c.gateway, err)
	}
	return nil
}

// ipv6Sysctl exists when the kernel has IPv6.
const ipv6Sysctl = "/proc/sys/net/ipv6"

// minIPv6MTU is IPv6's minimum link MTU: below it the kernel disables IPv6
// on the link.
const minIPv6MTU = 1280

// configureIPv6 gives the link, already up, its IPv6 address and default
// route. The address is the container's, which the network has already
// vetted, so it is added without duplicate address detection (nodad): it is
// usable at once instead of a second later. A link-local gateway is on-link
// through the link, as is one inside the address's prefix; any other is
// declared on-link, as the container's own route had it.
func configureIPv6(l netlink.Link, c *urunit.IP6, mtu int) error {
	name := l.Attrs().Name
	if _, err := os.Stat(ipv6Sysctl); err != nil {
		return fmt.Errorf("IPv6 address %s/%d not set: the guest kernel has no IPv6 (CONFIG_IPV6)", c.Addr, c.PrefixLen)
	}
	prefix := &net.IPNet{IP: c.Addr, Mask: net.CIDRMask(c.PrefixLen, 8*net.IPv6len)}
	addr := &netlink.Addr{IPNet: prefix, Flags: unix.IFA_F_NODAD}
	if err := netlink.AddrAdd(l, addr); err != nil && !errors.Is(err, unix.EEXIST) {
		if mtu > 0 && mtu < minIPv6MTU {
			err = fmt.Errorf("%w (IPv6 needs an MTU of at least %d, %s has %d)", err, minIPv6MTU, name, mtu)
		}
		return fmt.Errorf("add address %s to %s: %w", addr.IPNet, name, err)
	}
	if c.Gateway == nil {
		return nil
	}
	route := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: c.Gateway}
	if !c.Gateway.IsLinkLocalUnicast() && !prefix.Contains(c.Gateway) {
		route.Flags = int(netlink.FLAG_ONLINK)
	}
	if err := netlink.RouteAdd(route); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add IPv6 default route via %s dev %s: %w", c.Gateway, name, err)
	}
	return nil
}
