package network

import (
	"fmt"
	"net"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Bounds on what one fuzz input decodes to: enough for every rule of pick to
// meet every other, small enough that an input stays a few dozen bytes.
const (
	fuzzMaxLinks  = 4
	fuzzMaxAddrs  = 4
	fuzzMaxRoutes = 4
	fuzzMaxIndex  = 6 // link indexes 0..5: links share them and routes miss them
)

// fuzzBytes hands out bytes of a fuzz input, zeros once it is used up, so
// that every input decodes to something.
type fuzzBytes []byte

func (b *fuzzBytes) next() byte {
	if len(*b) == 0 {
		return 0
	}
	c := (*b)[0]
	*b = (*b)[1:]
	return c
}

func (b *fuzzBytes) ip(n int) net.IP {
	ip := make(net.IP, n)
	for i := range ip {
		ip[i] = b.next()
	}
	return ip
}

// decodePick turns a fuzz input into pick's arguments, as netlink lists them.
//
//	links:  count; per link: flags (bit0 loopback, bit1 tap name), index, MTU, address count
//	addr:   kind (bit0 IPv6, bit1 no IPNet), prefix length, flags, scope, then 4 or 16 IP bytes
//	routes: count; per route: index, gateway kind (0 none, 1 IPv4, 2 IPv6), then its bytes
func decodePick(data []byte) ([]linkAddrs, []netlink.Route) {
	b := fuzzBytes(data)
	links := make([]linkAddrs, int(b.next())%(fuzzMaxLinks+1))
	for i := range links {
		flags, index, mtu := b.next(), b.next(), b.next()
		a := &netlink.LinkAttrs{Index: int(index) % fuzzMaxIndex, MTU: int(mtu) * 16,
			Name: fmt.Sprintf("eth%d", i), HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}}
		if flags&1 != 0 {
			a.Flags |= net.FlagLoopback
		}
		if flags&2 != 0 {
			a.Name = fmt.Sprintf("%s%d", TapPrefix, i)
		}
		links[i] = linkAddrs{Attrs: a, Addrs: make([]netlink.Addr, int(b.next())%(fuzzMaxAddrs+1))}
		for j := range links[i].Addrs {
			links[i].Addrs[j] = decodeAddr(&b)
		}
	}
	routes := make([]netlink.Route, int(b.next())%(fuzzMaxRoutes+1))
	for i := range routes {
		routes[i].LinkIndex = int(b.next()) % fuzzMaxIndex
		switch b.next() % 3 {
		case 1:
			routes[i].Gw = b.ip(net.IPv4len)
		case 2:
			routes[i].Gw = b.ip(net.IPv6len)
		}
	}
	return links, routes
}

func decodeAddr(b *fuzzBytes) netlink.Addr {
	kind, prefix, flags, scope := b.next(), b.next(), b.next(), b.next()
	bits := 8 * net.IPv4len
	if kind&1 != 0 {
		bits = 8 * net.IPv6len
	}
	ip := b.ip(bits / 8)
	if kind&2 != 0 {
		return netlink.Addr{}
	}
	ad := netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(int(prefix)%(bits+1), bits)}}
	// Only the flags and scopes discovery tells apart.
	for bit, f := range []int{unix.IFA_F_TENTATIVE, unix.IFA_F_DEPRECATED, unix.IFA_F_TEMPORARY, unix.IFA_F_DADFAILED} {
		if flags&(1<<bit) != 0 {
			ad.Flags |= f
		}
	}
	ad.Scope = []int{unix.RT_SCOPE_UNIVERSE, unix.RT_SCOPE_SITE, unix.RT_SCOPE_LINK, unix.RT_SCOPE_HOST}[scope%4]
	return ad
}

// FuzzPick: the links, addresses and routes of the container's network
// namespace are set by its engine or CNI plugin. Whatever they are, pick
// hands the guest only what one candidate link holds.
func FuzzPick(f *testing.F) {
	f.Add([]byte{})
	// eth0 10.0.0.2/24 default via 10.0.0.1.
	f.Add([]byte{1, 0, 2, 94, 1, 0, 24, 0, 0, 10, 0, 0, 2, 1, 2, 1, 10, 0, 0, 1})
	// lo 127.0.0.1/8; eth1 fd00::2/64 tentative and fd00::3/64, default via fe80::1.
	f.Add([]byte{2, 1, 1, 0, 1, 0, 8, 0, 0, 127, 0, 0, 1, 0, 3, 94, 2,
		1, 64, 1, 0, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
		1, 64, 0, 0, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3,
		1, 3, 2, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	// eth0 with only ::ffff:10.1.2.3/96, which the kernel accepts as an IPv6 address.
	f.Add([]byte{1, 0, 2, 94, 1, 1, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		links, routes := decodePick(data)
		got := pick(links, routes)
		if got == nil {
			for _, l := range links {
				if candidate(l.Attrs) && describe(l.Attrs, l.Addrs, routes) != nil {
					t.Fatalf("pick = nil, but %q is a candidate with an address", l.Attrs.Name)
				}
			}
			return
		}
		i := slices.IndexFunc(links, func(l linkAddrs) bool { return l.Attrs.Name == got.Name })
		if i < 0 || !candidate(links[i].Attrs) {
			t.Fatalf("pick chose %q, which is no candidate link of the input", got.Name)
		}
		checkPicked(t, got, links[i], routes)
		for _, l := range links {
			if candidate(l.Attrs) {
				if o := describe(l.Attrs, l.Addrs, routes); o != nil && rank(o) > rank(got) {
					t.Fatalf("pick chose %+v, but %+v ranks higher", got, o)
				}
			}
		}
	})
}

// checkPicked fails t unless everything in got comes from link l and the
// routes through it.
func checkPicked(t *testing.T, got *Interface, l linkAddrs, routes []netlink.Route) {
	t.Helper()
	if got.IP == nil && got.IP6 == nil {
		t.Fatalf("pick chose %q with no address", got.Name)
	}
	if !slices.Equal(got.MAC, l.Attrs.HardwareAddr) || got.MTU != l.Attrs.MTU {
		t.Fatalf("pick chose %q with MAC %v MTU %d, the link has %v %d", got.Name, got.MAC, got.MTU,
			l.Attrs.HardwareAddr, l.Attrs.MTU)
	}
	has := func(ip net.IP, v4 bool) bool {
		return slices.ContainsFunc(l.Addrs, func(a netlink.Addr) bool {
			return a.IPNet != nil && a.IP.Equal(ip) && (a.IP.To4() != nil) == v4
		})
	}
	if got.IP != nil && (len(got.IP) != net.IPv4len || !has(got.IP, true) || got.PrefixLen < 0 || got.PrefixLen > 32) {
		t.Fatalf("pick chose IPv4 %v/%d, not an IPv4 address of %q", got.IP, got.PrefixLen, got.Name)
	}
	if got.IP6 != nil && (got.IP6.To4() != nil || !has(got.IP6, false) || got.PrefixLen6 < 0 || got.PrefixLen6 > 128) {
		t.Fatalf("pick chose IPv6 %v/%d, not an IPv6 address of %q", got.IP6, got.PrefixLen6, got.Name)
	}
	via := func(gw net.IP) bool {
		return slices.ContainsFunc(routes, func(r netlink.Route) bool {
			return r.LinkIndex == l.Attrs.Index && r.Gw.Equal(gw)
		})
	}
	if got.Gateway != nil && (got.IP == nil || got.Gateway.To4() == nil || !via(got.Gateway)) {
		t.Fatalf("pick chose IPv4 gateway %v, not a default route through %q with IPv4", got.Gateway, got.Name)
	}
	if got.Gateway6 != nil && (got.IP6 == nil || got.Gateway6.To4() != nil || !via(got.Gateway6)) {
		t.Fatalf("pick chose IPv6 gateway %v, not a default route through %q with IPv6", got.Gateway6, got.Name)
	}
}
