package network

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// addr is a netlink.Addr as the kernel lists it: a 4-byte IP for IPv4.
func addr(cidr string, flags int) netlink.Addr {
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil {
		panic(err)
	}
	if ip4 := ip.To4(); ip4 != nil && len(n.Mask) == net.IPv4len {
		ip = ip4
	}
	return netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: n.Mask}, Flags: flags}
}

func link(index int, name string, flags net.Flags, addrs ...netlink.Addr) linkAddrs {
	return linkAddrs{Attrs: &netlink.LinkAttrs{Index: index, Name: name, Flags: flags, MTU: 1500}, Addrs: addrs}
}

func defRoute(index int, gw string) netlink.Route {
	return netlink.Route{LinkIndex: index, Gw: net.ParseIP(gw)}
}

func TestPick(t *testing.T) {
	tests := []struct {
		name   string
		links  []linkAddrs
		routes []netlink.Route
		want   string // name of the link chosen, "" for none
		ip6    string // IPv6 address handed over, "" for none
	}{
		{name: "no links"},
		{
			name:  "loopback and taps are never candidates",
			links: []linkAddrs{link(1, "lo", net.FlagLoopback, addr("127.0.0.1/8", 0)), link(2, TapPrefix+"0", 0, addr("10.0.0.2/24", 0))},
		},
		{
			name:  "a link without address is no candidate",
			links: []linkAddrs{link(2, "eth0", 0), link(3, "eth1", 0, addr("fe80::1/64", 0))},
		},
		{
			name:   "the IPv4 default route wins over a lower index",
			links:  []linkAddrs{link(2, "eth0", 0, addr("10.0.0.2/24", 0)), link(3, "eth1", 0, addr("10.1.0.2/24", 0))},
			routes: []netlink.Route{defRoute(3, "10.1.0.1")},
			want:   "eth1",
		},
		{
			name:   "the IPv6 default route wins over an IPv4 address",
			links:  []linkAddrs{link(2, "eth0", 0, addr("10.0.0.2/24", 0)), link(3, "eth1", 0, addr("fd00::2/64", 0))},
			routes: []netlink.Route{defRoute(3, "fe80::1")},
			want:   "eth1", ip6: "fd00::2",
		},
		{
			name:  "on a tie the first (lowest index) wins",
			links: []linkAddrs{link(2, "eth0", 0, addr("10.0.0.2/24", 0)), link(3, "eth1", 0, addr("10.1.0.2/24", 0))},
			want:  "eth0",
		},
		{
			name: "a preferred IPv6 address beats a tentative one listed first",
			links: []linkAddrs{link(2, "eth0", 0, addr("fd00::3/64", unix.IFA_F_TENTATIVE), addr("fd00::2/64", 0),
				addr("fd00::4/64", 0))},
			want: "eth0", ip6: "fd00::2",
		},
		{
			name:  "failed duplicate address detection is never taken",
			links: []linkAddrs{link(2, "eth0", 0, addr("fd00::3/64", unix.IFA_F_DADFAILED))},
		},
		{
			name:  "an IPv4-mapped IPv6 address is no IPv4 address",
			links: []linkAddrs{link(2, "eth0", 0, addr("::ffff:10.1.2.3/96", 0)), link(3, "eth1", 0, addr("10.0.0.2/24", 0))},
			want:  "eth1",
		},
		{
			name:  "an address without IPNet is skipped",
			links: []linkAddrs{link(2, "eth0", 0, netlink.Addr{}, addr("10.0.0.2/24", 0))},
			want:  "eth0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pick(tt.links, tt.routes)
			name, ip6 := "", ""
			if got != nil {
				name = got.Name
				if got.IP6 != nil {
					ip6 = got.IP6.String()
				}
			}
			if name != tt.want || ip6 != tt.ip6 {
				t.Errorf("pick = %+v, want link %q with IPv6 %q", got, tt.want, tt.ip6)
			}
		})
	}
}
