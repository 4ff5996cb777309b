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
	var cands []linkAddrs
	for _, l := range links {
		// Only candidates are asked for their addresses, as pick would
		// skip the others anyway.
		if !candidate(l.Attrs()) {
			continue
		}
		addrs, err := listAddrs(l)
		if err != nil {
			return nil, err
		}
		cands = append(cands, linkAddrs{Attrs: l.Attrs(), Addrs: addrs})
	}
	return pick(cands, routes), nil
}

// linkAddrs is a link as discovery sees it: its attributes and the
// addresses the kernel listed for it.
type linkAddrs struct {
	Attrs *netlink.LinkAttrs
	Addrs []netlink.Addr
}

// pick is the decision of Discover without a name, apart from netlink so
// that it can be tested and fuzzed: links are in index order, routes are
// the default routes. It returns nil when no link is a candidate with an
// address.
func pick(links []linkAddrs, routes []netlink.Route) *Interface {
	var best *Interface
	for _, l := range links {
		if !candidate(l.Attrs) {
			continue
		}
		ifc := describe(l.Attrs, l.Addrs, routes)
		if ifc != nil && (best == nil || rank(ifc) > rank(best)) {
			best = ifc
		}
	}
	return best
}

// candidate reports whether a link may be the container interface: neither
// loopback nor a tap of urunc's.
func candidate(a *netlink.LinkAttrs) bool {
	return a.Flags&net.FlagLoopback == 0 && !strings.HasPrefix(a.Name, TapPrefix)
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
		addrs, err := listAddrs(l)
		if err != nil {
			return nil, fmt.Errorf("discover %q: %w", name, err)
		}
		ifc := describe(l.Attrs(), addrs, routes)
		if ifc == nil {
			return nil, fmt.Errorf("discover %q: %w", name, ErrNoAddress)
		}
		return ifc, nil
	}
	return nil, fmt.Errorf("discover %q: %w", name, ErrLinkNotFound)
}

// listAddrs returns the IPv4 and IPv6 addresses of l.
func listAddrs(l netlink.Link) ([]netlink.Addr, error) {
	var addrs []netlink.Addr
	err := retryDump(func() (err error) {
		addrs, err = netlink.AddrList(l, netlink.FAMILY_ALL)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list addresses of %q: %w", l.Attrs().Name, err)
	}
	return addrs, nil
}

// describe returns the Interface for the link with attributes a and
// addresses addrs, or nil when it has neither an IPv4 nor a global IPv6
// address.
func describe(a *netlink.LinkAttrs, addrs []netlink.Addr, routes []netlink.Route) *Interface {
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
			// The mask tells the family: an IPv4-mapped IPv6 address
			// (::ffff:a.b.c.d/96) is no IPv4 address, and its prefix
			// length counts 128 bits.
			if ifc.IP == nil && len(ad.Mask) == net.IPv4len {
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
		return nil
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
	return ifc
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
