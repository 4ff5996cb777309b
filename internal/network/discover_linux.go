package network

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// dumpRetries bounds retries of a netlink dump interrupted by a concurrent change.
const dumpRetries = 5

// Discover reads the IP configuration of a link in the current network
// namespace: its IPv4 address, its first global IPv6 address, or both.
//
// With a name, that link is used; a missing link or one with neither address
// is an error. Without a name, the candidates are the links that are not
// loopback, not named with TapPrefix and hold an IPv4 or a global IPv6
// address; the one holding the IPv4 default route wins, then the one holding
// the IPv6 default route, then one with an IPv4 address, then the lowest
// index. No candidate returns (nil, nil): the guest runs without network,
// which is not an error.
//
// The first IPv4 address listed by the kernel (the primary one) is used.
// The IPv6 address is the first of global scope (never link-local) whose
// duplicate address detection did not fail, preferring one that is neither
// tentative, deprecated nor temporary. Gateway and Gateway6 are the gateways
// of the main table's default routes through the chosen link; multipath
// default routes are ignored.
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
		if ifc != nil && (best == nil || rank(ifc) > rank(best)) {
			best = ifc
		}
	}
	return best, nil
}

// rank orders the candidate interfaces of Discover: IPv4 default route first,
// then IPv6 default route, then an IPv4 address.
func rank(i *Interface) int {
	r := 0
	if i.Gateway != nil {
		r += 4
	}
	if i.Gateway6 != nil {
		r += 2
	}
	if i.IP != nil {
		r++
	}
	return r
}

func discoverNamed(links []netlink.Link, routes []netlink.Route, name string) (*Interface, error) {
	for _, l := range links {
		if l.Attrs().Name != name {
			continue
		}
		ifc, err := describe(l, routes)
		if err == nil && ifc == nil {
			err = ErrNoAddress
		}
		if err != nil {
			return nil, fmt.Errorf("discover %q: %w", name, err)
		}
		return ifc, nil
	}
	return nil, fmt.Errorf("discover %q: %w", name, ErrLinkNotFound)
}

// describe returns the Interface for l, or nil when l has neither an IPv4
// nor a global IPv6 address.
func describe(l netlink.Link, routes []netlink.Route) (*Interface, error) {
	a := l.Attrs()
	var addrs []netlink.Addr
	err := retryDump(func() (err error) {
		addrs, err = netlink.AddrList(l, netlink.FAMILY_ALL)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list addresses of %q: %w", a.Name, err)
	}
	ifc := &Interface{
		Name: a.Name,
		MAC:  append(net.HardwareAddr(nil), a.HardwareAddr...),
		MTU:  a.MTU,
	}
	var v6 *netlink.Addr
	for i, ad := range addrs {
		if ad.IPNet == nil {
			continue
		}
		if ip4 := ad.IP.To4(); ip4 != nil {
			if ifc.IP == nil {
				ifc.IP = ip4
				ifc.PrefixLen, _ = ad.Mask.Size()
			}
			continue
		}
		if usableIPv6(ad) && (v6 == nil || (v6.Flags&unpreferred6 != 0 && ad.Flags&unpreferred6 == 0)) {
			v6 = &addrs[i]
		}
	}
	if v6 != nil {
		ifc.IP6 = v6.IP.To16()
		ifc.PrefixLen6, _ = v6.Mask.Size()
	}
	if ifc.IP == nil && ifc.IP6 == nil {
		return nil, nil
	}
	for _, r := range routes {
		if r.LinkIndex != a.Index || r.Gw == nil {
			continue
		}
		if gw := r.Gw.To4(); gw != nil {
			if ifc.IP != nil && ifc.Gateway == nil {
				ifc.Gateway = gw
			}
		} else if ifc.IP6 != nil && ifc.Gateway6 == nil {
			ifc.Gateway6 = r.Gw.To16()
		}
	}
	return ifc, nil
}

// unpreferred6 are the flags of an IPv6 address that another one without
// them beats: still in duplicate address detection, deprecated, or a
// temporary (privacy) address.
const unpreferred6 = unix.IFA_F_TENTATIVE | unix.IFA_F_DEPRECATED | unix.IFA_F_TEMPORARY

// usableIPv6 reports whether a is an IPv6 address the guest can take: of
// global scope, not link-local, and not failed duplicate address detection.
func usableIPv6(a netlink.Addr) bool {
	return len(a.IP) == net.IPv6len && a.IP.To4() == nil && a.Scope == int(netlink.SCOPE_UNIVERSE) &&
		a.IP.IsGlobalUnicast() && a.Flags&unix.IFA_F_DADFAILED == 0
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

// defaultRoutes returns the IPv4 and IPv6 default routes of the main table.
func defaultRoutes() ([]netlink.Route, error) {
	var all []netlink.Route
	err := retryDump(func() (err error) {
		all, err = netlink.RouteList(nil, netlink.FAMILY_ALL)
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
