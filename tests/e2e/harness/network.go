package harness

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strings"

	"github.com/vishvananda/netlink"
)

// cniChainJump is a rule's jump to a per-container chain of the CNI plugins.
var cniChainJump = regexp.MustCompile(` -j (CNI-[0-9a-f]{24})$`)

// matchRules picks, from `iptables -S` output, the appended rules whose
// text contains one of pats, and the CNI-<hex> chains they jump to.
func matchRules(save string, pats []string) (rules, chains []string) {
	for _, rule := range strings.Split(save, "\n") {
		if !strings.HasPrefix(rule, "-A ") {
			continue
		}
		hit := false
		for _, p := range pats {
			hit = hit || strings.Contains(rule, p)
		}
		if !hit {
			continue
		}
		rules = append(rules, rule)
		if m := cniChainJump.FindStringSubmatch(rule); m != nil {
			chains = append(chains, m[1])
		}
	}
	return rules, chains
}

// splitRule splits one line of `iptables -S` into arguments. iptables
// quotes like a shell does (a comment is "name: \"bridge\" ..."): double
// quotes group, and a backslash inside them escapes ", \, $ and `;
// single quotes group literally; outside quotes a backslash escapes any
// character.
func splitRule(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	in := false // inside a word
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			in = true
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			in = true
			for i++; ; i++ {
				if i >= len(s) {
					return nil, errors.New("unterminated double quote")
				}
				if s[i] == '"' {
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		args = append(args, cur.String())
	}
	return args, nil
}

// cleanupIptables deletes the rules of table whose text contains one of
// pats, then flushes and deletes the CNI-<hex> chains they jump to.
func cleanupIptables(iptables, table string, pats []string, r *Report, l Logf) {
	save, err := exec.Command(iptables, "-w", "-t", table, "-S").Output()
	if err != nil {
		return
	}
	rules, chains := matchRules(string(save), pats)
	removeRules(iptables, table, rules, chains, r, l)
}

// removeRules deletes rules (lines of `iptables -S`), then flushes all of
// chains before deleting them (one may jump to another).
func removeRules(iptables, table string, rules, chains []string, r *Report, l Logf) {
	for _, rule := range rules {
		args, err := splitRule(rule)
		if err == nil && (len(args) < 2 || args[0] != "-A") {
			err = errors.New("not an appended rule")
		}
		if err != nil {
			r.warn(l, "cannot parse iptables rule %q: %v", rule, err)
			continue
		}
		args[0] = "-D"
		if out, err := exec.Command(iptables, append([]string{"-w", "-t", table}, args...)...).CombinedOutput(); err != nil {
			r.warn(l, "cannot delete iptables rule: %s: %v %s", rule, err, strings.TrimSpace(string(out)))
		}
	}
	for _, c := range chains {
		_ = exec.Command(iptables, "-w", "-t", table, "-F", c).Run()
	}
	for _, c := range chains {
		_ = exec.Command(iptables, "-w", "-t", table, "-X", c).Run()
	}
}

// deleteLink deletes the network interface name if it exists.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	return netlink.LinkDel(link)
}

// hostIPv4 is what the host's main routing table and interfaces use.
type hostIPv4 struct {
	nets []*net.IPNet // route destinations
	ips  []net.IP     // gateways, preferred sources, interface addresses
}

func readHostIPv4() (hostIPv4, error) {
	var h hostIPv4
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return h, fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst != nil {
			h.nets = append(h.nets, r.Dst)
		}
		for _, ip := range []net.IP{r.Gw, r.Src} {
			if ip != nil {
				h.ips = append(h.ips, ip)
			}
		}
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return h, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		h.ips = append(h.ips, a.IP)
	}
	return h, nil
}

// uses tells whether the host uses subnet: an address, gateway or source
// in it, or a route to it or to a part of it. Wider routes (a /16 or
// wider, such as a VPN's 10.0.0.0/8) leave it free: the bridge's own /24
// route is more specific.
func (h hostIPv4) uses(subnet *net.IPNet) bool {
	for _, ip := range h.ips {
		if subnet.Contains(ip) {
			return true
		}
	}
	for _, n := range h.nets {
		ones, _ := n.Mask.Size()
		if ones > 16 && (subnet.Contains(n.IP) || n.Contains(subnet.IP)) {
			return true
		}
	}
	return false
}

// freeSubnet picks a 10.4.X.0/24 the host does not use, starting at a
// place given by seed so that daemons of different folders spread out.
func freeSubnet(h hostIPv4, seed uint32) (*net.IPNet, error) {
	return freeSubnetIn(h, 4, seed)
}

// freeSubnetIn picks a 10.B.X.0/24 the host does not use, as freeSubnet.
func freeSubnetIn(h hostIPv4, b byte, seed uint32) (*net.IPNet, error) {
	x := int(seed%254) + 1
	for i := 0; i < 254; i++ {
		n := &net.IPNet{IP: net.IPv4(10, b, byte(x), 0).To4(), Mask: net.CIDRMask(24, 32)}
		if !h.uses(n) {
			return n, nil
		}
		x = x%254 + 1
	}
	return nil, fmt.Errorf("no free 10.%d.X.0/24 subnet", b)
}
