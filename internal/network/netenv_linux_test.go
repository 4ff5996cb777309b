package network

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// testNet is a container network namespace wired to a peer namespace by a
// veth pair, as a CNI plugin would leave it:
//
//	peer ns: veth0 10.250.N.1/24  <──veth──>  ctr ns: eth0 10.250.N.2/24, default via .1
//	                                          ctr ns: aux0 10.251.N.2/24 (no route), aux1 (no address)
type testNet struct {
	ctrPath, peerPath string
	ctr, peer         string // namespace names for ip -n
	ctrIP, peerIP     net.IP
	ctrMAC, peerMAC   net.HardwareAddr
	mtu               int
}

const (
	ctrIf  = "eth0"
	peerIf = "veth0"
)

var netSeq atomic.Int32

// requireNetAdmin skips unless the test can create namespaces and taps.
func requireNetAdmin(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces and taps")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip to build the test namespaces")
	}
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("needs iproute2's tc to inspect qdiscs and filters")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("needs /dev/net/tun: %v", err)
	}
}

// newTestNet builds a fresh namespace pair, removed when the test ends.
func newTestNet(t *testing.T) *testNet {
	t.Helper()
	requireNetAdmin(t)
	n := int(netSeq.Add(1)) % 250
	tn := &testNet{
		ctr:     fmt.Sprintf("urunc-test-%d-%dc", os.Getpid(), n),
		peer:    fmt.Sprintf("urunc-test-%d-%dp", os.Getpid(), n),
		ctrIP:   net.IPv4(10, 250, byte(n), 2).To4(),
		peerIP:  net.IPv4(10, 250, byte(n), 1).To4(),
		ctrMAC:  net.HardwareAddr{0x02, 0x75, 0x72, byte(n), 0, 2},
		peerMAC: net.HardwareAddr{0x02, 0x75, 0x72, byte(n), 0, 1},
		mtu:     1400,
	}
	tn.ctrPath, tn.peerPath = "/run/netns/"+tn.ctr, "/run/netns/"+tn.peer
	for _, ns := range []string{tn.ctr, tn.peer} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	c, p := []string{"ip", "-n", tn.ctr}, []string{"ip", "-n", tn.peer}
	sh(t, append(c, "link", "set", "lo", "up")...)
	sh(t, append(c, "link", "add", "aux0", "type", "veth", "peer", "name", "aux1")...)
	sh(t, append(c, "addr", "add", fmt.Sprintf("10.251.%d.2/24", n), "dev", "aux0")...)
	sh(t, append(c, "link", "set", "aux0", "up")...)
	sh(t, append(p, "link", "add", peerIf, "address", tn.peerMAC.String(), "mtu", "1400",
		"type", "veth", "peer", "name", ctrIf, "address", tn.ctrMAC.String(), "mtu", "1400", "netns", tn.ctr)...)
	sh(t, append(p, "addr", "add", tn.peerIP.String()+"/24", "dev", peerIf)...)
	sh(t, append(p, "link", "set", peerIf, "up")...)
	sh(t, append(c, "addr", "add", tn.ctrIP.String()+"/24", "dev", ctrIf)...)
	sh(t, append(c, "link", "set", ctrIf, "up")...)
	sh(t, append(c, "route", "add", "default", "via", tn.peerIP.String())...)
	return tn
}

// inCtr runs f in the container namespace, failing the test on error.
func (tn *testNet) inCtr(t *testing.T, f func() error) {
	t.Helper()
	if err := InNamespace(tn.ctrPath, f); err != nil {
		t.Fatal(err)
	}
}

// tc runs tc in the container namespace and returns its output.
func (tn *testNet) tc(t *testing.T, args ...string) string {
	t.Helper()
	return sh(t, append([]string{"tc", "-n", tn.ctr}, args...)...)
}

func sh(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
