// Package network gives a VM guest the container's network.
//
// It runs on the host side, inside the container's network namespace, just
// before the VMM is executed there. The container interface (usually eth0,
// configured by CNI or the engine) is discovered, a tap device is created for
// the VMM, and tc ingress redirects (u32 match-all + mirred) splice the two
// together in both directions. The guest takes the interface's IP and MAC, so
// the splice is invisible to the rest of the network. The splice is at layer
// 2, so IPv6 passes as well as IPv4: a dual-stack interface's IPv6 address
// and gateway are handed to the guest too.
//
// The addresses stay on the container interface: CNI, kubelet and engines
// read them back from the namespace, and since every frame arriving on the
// interface is redirected to the tap at ingress, before the IP stack sees it,
// the host kernel never answers ARP or ICMP for the guest's address.
package network

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
)

// TapPrefix starts every tap name made by TapName. Discover skips links with
// this prefix so that a leftover tap is never mistaken for the container
// interface.
const TapPrefix = "urunc"

// tapHashLen is the number of hex digits of sha256(containerID) in a tap name:
// len(TapPrefix)+tapHashLen must stay within IFNAMSIZ-1 (15).
const tapHashLen = 8

// maxIfName is IFNAMSIZ-1, the longest Linux interface name.
const maxIfName = 15

// Interface is the IP configuration of a container interface, which the
// guest takes over as its own. It has an IPv4 address, a global IPv6
// address, or both.
type Interface struct {
	Name      string
	MAC       net.HardwareAddr
	IP        net.IP // IPv4 address; nil on an IPv6-only interface
	PrefixLen int
	Gateway   net.IP // nil when the interface holds no IPv4 default route
	MTU       int

	IP6        net.IP // first global IPv6 address; nil when there is none
	PrefixLen6 int
	// Gateway6 is the gateway of the IPv6 default route through the
	// interface, often link-local (fe80::/10, on-link); nil for none.
	Gateway6 net.IP
}

// Wiring is what Setup made in a namespace, recorded so that Teardown
// removes exactly that and no other container's redirect.
type Wiring struct {
	Interface string `json:"interface"`
	Tap       string `json:"tap"`
	// IngressQdisc: the interface's ingress qdisc is urunc's (Setup made
	// it, or it held only stale urunc redirects), so Teardown removes it
	// once no filter is left on it.
	IngressQdisc bool `json:"ingressQdisc,omitempty"`
}

// Mask returns the IPv4 netmask for PrefixLen.
func (i Interface) Mask() net.IPMask {
	return net.CIDRMask(i.PrefixLen, 8*net.IPv4len)
}

// TapName returns the tap device name for a container: TapPrefix followed by
// the first 8 hex digits of sha256(containerID). It is deterministic, so a
// later delete can find a tap without stored state, and at most 15 bytes.
// The tap lives in the container's own network namespace, so a hash
// collision matters only between containers sharing one namespace.
func TapName(containerID string) string {
	sum := sha256.Sum256([]byte(containerID))
	return TapPrefix + hex.EncodeToString(sum[:])[:tapHashLen]
}

// Nameservers returns the nameserver addresses of a resolv.conf, IPv4 and
// IPv6, in order and without duplicates (an IPv4-mapped IPv6 address counts
// as its IPv4 address). Malformed lines, loopback and unspecified addresses
// and IPv6 link-local ones are skipped: a loopback resolver on the host
// (systemd-resolved's 127.0.0.53, Docker's 127.0.0.11) is unreachable from
// the guest, and a link-local one needs a zone the guest does not share. No
// fallback resolver is ever added: an empty result means the guest gets none.
// Guests that take only IPv4 leave the IPv6 entries out.
func Nameservers(resolvConf []byte) []string {
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(resolvConf))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		ip := net.ParseIP(f[1])
		v4 := ip.To4()
		if v4 != nil {
			ip = v4
		}
		// IPv4 link-local stays: NodeLocal DNSCache listens on 169.254.20.10.
		if ip == nil || ip.IsLoopback() || ip.IsUnspecified() || (v4 == nil && ip.IsLinkLocalUnicast()) {
			continue
		}
		if s := ip.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// ProcessNamespacePath returns the path of the network namespace of process pid.
func ProcessNamespacePath(pid int) string {
	return "/proc/" + strconv.Itoa(pid) + "/ns/net"
}
