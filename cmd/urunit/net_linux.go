package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
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
	c, err := parseNetConfig(string(cmdline))
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
	if err := configureLink(link, c); err != nil {
		return err
	}
	if len(c.dns) == 0 {
		return nil
	}
	if err := os.MkdirAll("/etc", 0o755); err != nil {
		return fmt.Errorf("write resolv.conf: %w", err)
	}
	if err := os.WriteFile("/etc/resolv.conf", []byte(c.resolvConf()), 0o644); err != nil {
		return fmt.Errorf("write resolv.conf: %w", err)
	}
	return nil
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
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: c.ip, Mask: c.mask}}
	// A kernel with IP_PNP has applied ip= itself: EEXIST is success.
	if err := netlink.AddrAdd(l, addr); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add address %s to %s: %w", addr.IPNet, name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	if c.gateway == nil {
		return nil
	}
	route := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: c.gateway}
	if err := netlink.RouteAdd(route); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add default route via %s: %w", c.gateway, err)
	}
	return nil
}
