package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/network"
)

// TestConfigureLink applies command lines to an eth0 in a network
// namespace made for the test (as root only), as urunit does in the guest.
func TestConfigureLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip to create the namespace")
	}
	tests := []struct {
		name    string
		cmdline string
		addrs   []string // addresses of eth0 expected, with "nodad" for IPv6 ones
		routes  []string // default routes expected, as "<gw>[ onlink]"
	}{
		{"ipv4 only", "ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off urunit.mtu=1400",
			[]string{"10.0.0.2/24"}, []string{"10.0.0.1"}},
		{"dual stack, link-local gateway", "ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off urunit.ip6=fd00:1::2/64,fe80::1",
			[]string{"10.0.0.2/24", "fd00:1::2/64 nodad"}, []string{"10.0.0.1", "fe80::1"}},
		{"ipv6 only, gateway in the prefix", "urunit.ip6=fd00:1::2/64,fd00:1::1",
			[]string{"fd00:1::2/64 nodad"}, []string{"fd00:1::1"}},
		{"ipv6 only, gateway outside the prefix is on-link", "urunit.ip6=fd00:1::2/128,fd00:2::1",
			[]string{"fd00:1::2/128 nodad"}, []string{"fd00:2::1 onlink"}},
		{"ipv6 without gateway", "urunit.mtu=1500 urunit.ip6=fd00:1::2/64",
			[]string{"fd00:1::2/64 nodad"}, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseNetConfig(tc.cmdline)
			if err != nil {
				t.Fatal(err)
			}
			ns := fmt.Sprintf("urunit-test-%d-%d", os.Getpid(), i)
			if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
				t.Fatalf("ip netns add: %v: %s", err, out)
			}
			t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
			var addrs, routes []string
			err = network.InNamespace("/run/netns/"+ns, func() error {
				// A veth pair with its peer up: eth0 has a carrier, as in a guest.
				veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: c.device}, PeerName: "peer0"}
				if err := netlink.LinkAdd(veth); err != nil {
					return err
				}
				if err := linkUp("peer0"); err != nil {
					return err
				}
				l, err := netlink.LinkByName(c.device)
				if err != nil {
					return err
				}
				for range 2 { // twice: what is already there is no error
					if err := configureLink(l, c); err != nil {
						return err
					}
					if c.ip6 != nil {
						if err := configureIPv6(l, c.ip6, c.mtu); err != nil {
							return err
						}
					}
				}
				addrs, routes, err = linkState(l)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(addrs, ", "), strings.Join(tc.addrs, ", "); got != want {
				t.Errorf("addresses %q, want %q", got, want)
			}
			if got, want := strings.Join(routes, ", "), strings.Join(tc.routes, ", "); got != want {
				t.Errorf("default routes %q, want %q", got, want)
			}
		})
	}
}

// linkState lists the link's addresses (link-local ones left out) and
// default routes.
func linkState(l netlink.Link) (addrs, routes []string, err error) {
	list, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range list {
		if a.IP.IsLinkLocalUnicast() {
			continue
		}
		s := a.IPNet.String()
		if a.IP.To4() == nil {
			if a.Flags&unix.IFA_F_NODAD != 0 {
				s += " nodad"
			}
			if a.Flags&unix.IFA_F_TENTATIVE != 0 {
				s += " tentative"
			}
		}
		addrs = append(addrs, s)
	}
	rs, err := netlink.RouteList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rs {
		if r.Gw == nil || (r.Dst != nil && !r.Dst.IP.IsUnspecified()) {
			continue
		}
		s := r.Gw.String()
		if r.Flags&int(netlink.FLAG_ONLINK) != 0 {
			s += " onlink"
		}
		routes = append(routes, s)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if fresh, err := netlink.LinkByIndex(l.Attrs().Index); err != nil || fresh.Attrs().Flags&net.FlagUp == 0 {
			return nil, nil, fmt.Errorf("%s is not up", l.Attrs().Name)
		}
	}
	return addrs, routes, nil
}
