package network

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
)

// dumpRetries bounds retries of a netlink dump interrupted by a concurrent change.
const dumpRetries = 5

// Discover reads the IPv4 configuration of a link in the current network
// namespace.
//
// With a name, that link is used; a missing link or one without an IPv4
// address is an error. Without a name, the candidates are the links that are
// not loopback, not named with TapPrefix and hold an IPv4 address; the one
// holding the IPv4 default route wins, else the lowest index. No candidate
// returns (nil, nil): the guest runs without network, which is not an error.
//
// The first IPv4 address listed by the kernel (the primary one) is used.
// Gateway is the gateway of the main table's IPv4 default route through the
// chosen link; multipath default routes are ignored.
func Discover(name string) (*Interface, error) {
	links, err := listLinks()
	if err != nil {
		return nil, err
	}
	routes, err := defaultRoutes()
	if err != nil {
		return nil, err
	}
	if name != "" {
		return discoverNamed(links, routes, name)
	}
	var best *Interface
	for _, l := range links {
		a := l.Attrs()
		if a.Flags&net.FlagLoopback != 0 || strings.HasPrefix(a.Name, TapPrefix) {
			continue
		}
		ifc, err := describe(l, routes)
		if err != nil {
			return nil, err
		}
		if ifc != nil && (best == nil || (best.Gateway == nil && ifc.Gateway != nil)) {
			best = ifc
		}
	}
	return best, nil
}

func discoverNamed(links []netlink.Link, routes []netlink.Route, name string) (*Interface, error) {
	for _, l := range links {
		if l.Attrs().Name != name {
			continue
		}
		ifc, err := describe(l, routes)
		if err == nil && ifc == nil {
			err = ErrNoIPv4
		}
		if err != nil {
			return nil, fmt.Errorf("discover %q: %w", name, err)
		}
		return ifc, nil
	}
	return nil, fmt.Errorf("discover %q: %w", name, ErrLinkNotFound)
}

// describe returns the Interface for l, or nil when l has no IPv4 address.
func describe(l netlink.Link, routes []netlink.Route) (*Interface, error) {
	a := l.Attrs()
	var addrs []netlink.Addr
	err := retryDump(func() (err error) {
		addrs, err = netlink.AddrList(l, netlink.FAMILY_V4)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list addresses of %q: %w", a.Name, err)
	}
	if len(addrs) == 0 {
		return nil, nil
	}
	ones, _ := addrs[0].Mask.Size()
	ifc := &Interface{
		Name:      a.Name,
		MAC:       append(net.HardwareAddr(nil), a.HardwareAddr...),
		IP:        addrs[0].IP.To4(),
		PrefixLen: ones,
		MTU:       a.MTU,
	}
	for _, r := range routes {
		if r.LinkIndex == a.Index && r.Gw != nil {
			ifc.Gateway = r.Gw.To4()
			break
		}
	}
	return ifc, nil
}

// listLinks returns all links ordered by index.
func listLinks() ([]netlink.Link, error) {
	var links []netlink.Link
	err := retryDump(func() (err error) {
		links, err = netlink.LinkList()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	slices.SortFunc(links, func(a, b netlink.Link) int {
		return cmp.Compare(a.Attrs().Index, b.Attrs().Index)
	})
	return links, nil
}

// defaultRoutes returns the IPv4 default routes of the main table.
func defaultRoutes() ([]netlink.Route, error) {
	var all []netlink.Route
	err := retryDump(func() (err error) {
		all, err = netlink.RouteList(nil, netlink.FAMILY_V4)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []netlink.Route
	for _, r := range all {
		if r.Dst == nil {
			out = append(out, r)
			continue
		}
		if ones, _ := r.Dst.Mask.Size(); ones == 0 && r.Dst.IP.IsUnspecified() {
			out = append(out, r)
		}
	}
	return out, nil
}

func retryDump(f func() error) error {
	var err error
	for range dumpRetries {
		if err = f(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}
