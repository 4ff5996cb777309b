package network

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// testUID and testGID own the taps made in tests.
const testUID, testGID = 4242, 4343

func TestDiscover(t *testing.T) {
	tn := newTestNet(t)
	var got, aux *Interface
	var missingErr, noAddrErr error
	tn.inCtr(t, func() (err error) {
		if got, err = Discover(""); err != nil {
			return err
		}
		if aux, err = Discover("aux0"); err != nil {
			return err
		}
		_, missingErr = Discover("nope0")
		_, noAddrErr = Discover("aux1")
		return nil
	})
	want := Interface{Name: ctrIf, MAC: tn.ctrMAC, IP: tn.ctrIP, PrefixLen: 24, Gateway: tn.peerIP, MTU: tn.mtu}
	if got == nil || !sameInterface(*got, want) {
		t.Errorf("Discover(\"\") = %+v, want %+v (the link with the default route)", got, want)
	}
	if aux == nil || aux.Name != "aux0" || aux.Gateway != nil || aux.PrefixLen != 24 {
		t.Errorf("Discover(\"aux0\") = %+v, want aux0 /24 without gateway", aux)
	}
	if !errors.Is(missingErr, ErrLinkNotFound) || !strings.Contains(missingErr.Error(), `"nope0"`) {
		t.Errorf("Discover(\"nope0\") error = %v, want ErrLinkNotFound naming it", missingErr)
	}
	if !errors.Is(noAddrErr, ErrNoAddress) || !strings.Contains(noAddrErr.Error(), `"aux1"`) {
		t.Errorf("Discover(\"aux1\") error = %v, want ErrNoAddress naming it", noAddrErr)
	}
	if got != nil && (got.IP6 != nil || got.Gateway6 != nil) {
		t.Errorf("Discover(\"\") on an IPv4-only link = IPv6 %v/%d via %v, want none (link-local is not taken)",
			got.IP6, got.PrefixLen6, got.Gateway6)
	}
}

func TestDiscoverNoNetwork(t *testing.T) {
	tn := newTestNet(t)
	sh(t, "ip", "-n", tn.ctr, "addr", "flush", "dev", ctrIf)
	sh(t, "ip", "-n", tn.ctr, "addr", "flush", "dev", "aux0")
	var got *Interface
	tn.inCtr(t, func() (err error) {
		got, err = Discover("")
		return err
	})
	if got != nil {
		t.Errorf("Discover(\"\") = %+v, want nil: no link has IPv4 or global IPv6", got)
	}
}

func sameInterface(a, b Interface) bool {
	return a.Name == b.Name && bytes.Equal(a.MAC, b.MAC) && a.IP.Equal(b.IP) && a.PrefixLen == b.PrefixLen &&
		a.Gateway.Equal(b.Gateway) && a.MTU == b.MTU &&
		a.IP6.Equal(b.IP6) && a.PrefixLen6 == b.PrefixLen6 && a.Gateway6.Equal(b.Gateway6)
}

func TestSetupTeardown(t *testing.T) {
	tn := newTestNet(t)
	tap := TapName(t.Name())
	var tapLink netlink.Link
	var w Wiring
	tn.inCtr(t, func() error {
		ifc, err := Discover("")
		if err != nil {
			return err
		}
		if w, err = Setup(ifc, tap, testUID, testGID); err != nil {
			return err
		}
		tapLink, err = netlink.LinkByName(tap)
		return err
	})
	if want := (Wiring{Interface: ctrIf, Tap: tap, IngressQdisc: true}); w != want {
		t.Errorf("Setup recorded %+v, want %+v", w, want)
	}
	tt, ok := tapLink.(*netlink.Tuntap)
	if !ok {
		t.Fatalf("link %q is %T, want *netlink.Tuntap", tap, tapLink)
	}
	if tt.Mode != netlink.TUNTAP_MODE_TAP || tt.Owner != testUID || tt.Group != testGID || tt.NonPersist ||
		tt.Flags&tapFlags != tapFlags || tt.Flags&netlink.TUNTAP_MULTI_QUEUE != 0 {
		t.Errorf("tap mode %v owner %d:%d nonpersist %v flags %#x, want tap, %d:%d, persistent, %#x single queue",
			tt.Mode, tt.Owner, tt.Group, tt.NonPersist, tt.Flags, testUID, testGID, tapFlags)
	}
	if tt.MTU != tn.mtu || tt.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("tap mtu %d flags %v, want mtu %d and up", tt.MTU, tt.Attrs().Flags, tn.mtu)
	}
	checkRedirect(t, tn, ctrIf, tap)
	checkRedirect(t, tn, tap, ctrIf)

	for i := range 2 {
		tn.inCtr(t, func() error { return Teardown(w) })
		if out := tn.tc(t, "qdisc", "show", "dev", ctrIf); strings.Contains(out, "ingress") {
			t.Errorf("teardown %d: ingress qdisc left on %s:\n%s", i+1, ctrIf, out)
		}
		if out := sh(t, "ip", "-n", tn.ctr, "-o", "link", "show"); strings.Contains(out, tap) {
			t.Errorf("teardown %d: tap %s left:\n%s", i+1, tap, out)
		}
	}
}

// checkRedirect checks that from has exactly one filter: match-all, redirect to to.
func checkRedirect(t *testing.T, tn *testNet, from, to string) {
	t.Helper()
	if out := tn.tc(t, "qdisc", "show", "dev", from, "ingress"); !strings.Contains(out, "qdisc ingress ffff:") {
		t.Errorf("no ingress qdisc on %s:\n%s", from, out)
	}
	out := tn.tc(t, "filter", "show", "dev", from, "ingress")
	for _, want := range []string{"u32", "match 00000000/00000000 at 0", "Egress Redirect to device " + to} {
		if !strings.Contains(out, want) {
			t.Errorf("filters on %s lack %q:\n%s", from, want, out)
		}
	}
	if n := strings.Count(out, "action order"); n != 1 {
		t.Errorf("filters on %s have %d actions, want 1:\n%s", from, n, out)
	}
}

// setupSuccessor wires container A's tap, then B's: A's VMM is gone by
// then (its tap has no carrier: nobody ever held it).
func setupSuccessor(t *testing.T, tn *testNet) (tapA, tapB string, wA, wB Wiring) {
	t.Helper()
	tapA, tapB = TapName(t.Name()+"A"), TapName(t.Name()+"B")
	tn.inCtr(t, func() error {
		ifc, err := Discover("")
		if err != nil {
			return err
		}
		if wA, err = Setup(ifc, tapA, testUID, testGID); err != nil {
			return err
		}
		wB, err = Setup(ifc, tapB, testUID, testGID)
		return err
	})
	return tapA, tapB, wA, wB
}

// In a pod's namespace, container A's guest exits, B starts and takes the
// interface over, then A is deleted: A's teardown removes A's tap alone,
// and B's redirect stays. A filter of another tool on the interface
// survives both.
func TestTeardownLeavesOthers(t *testing.T) {
	tn := newTestNet(t)
	tn.tc(t, "qdisc", "add", "dev", ctrIf, "ingress")
	tn.tc(t, "filter", "add", "dev", ctrIf, "ingress", "prio", "7", "protocol", "ip", "u32", "match", "u32", "0", "0", "flowid", "1:1")
	tapA, tapB, wA, wB := setupSuccessor(t, tn)
	if wA.IngressQdisc || wB.IngressQdisc {
		t.Errorf("the ingress qdisc another tool made is recorded as urunc's: %+v %+v", wA, wB)
	}
	tn.inCtr(t, func() error { return Teardown(wA) })
	out := tn.tc(t, "filter", "show", "dev", ctrIf, "ingress")
	if !strings.Contains(out, "Egress Redirect to device "+tapB) || strings.Contains(out, tapA) {
		t.Errorf("after A's teardown, filters on %s:\n%s\nwant B's redirect only (and the foreign filter)", ctrIf, out)
	}
	if !strings.Contains(out, "pref 7") {
		t.Errorf("the foreign filter is gone:\n%s", out)
	}
	if links := sh(t, "ip", "-n", tn.ctr, "-o", "link", "show"); strings.Contains(links, tapA) || !strings.Contains(links, tapB) {
		t.Errorf("links after A's teardown:\n%s\nwant %s gone and %s kept", links, tapA, tapB)
	}
	tn.inCtr(t, func() error { return Teardown(wB) })
	out = tn.tc(t, "filter", "show", "dev", ctrIf, "ingress")
	if strings.Contains(out, "Redirect") || !strings.Contains(out, "pref 7") {
		t.Errorf("after B's teardown, filters on %s:\n%s\nwant the foreign filter only", ctrIf, out)
	}
}

// A qdisc urunc made, taken over by the next container, goes with the
// last one.
func TestTeardownAdoptedQdisc(t *testing.T) {
	tn := newTestNet(t)
	_, tapB, wA, wB := setupSuccessor(t, tn)
	if !wA.IngressQdisc || !wB.IngressQdisc {
		t.Errorf("wirings %+v %+v: both should own the qdisc (A made it, B took it over)", wA, wB)
	}
	tn.inCtr(t, func() error { return Teardown(wA) })
	checkRedirect(t, tn, ctrIf, tapB)
	tn.inCtr(t, func() error { return Teardown(wB) })
	if out := tn.tc(t, "qdisc", "show", "dev", ctrIf); strings.Contains(out, "ingress") {
		t.Errorf("ingress qdisc left after the last teardown:\n%s", out)
	}
}

func TestSetupErrors(t *testing.T) {
	tn := newTestNet(t)
	ifc := &Interface{Name: ctrIf}
	var notTap, badName, noIfc, badOwner error
	tn.inCtr(t, func() error {
		_, notTap = Setup(ifc, "aux0", 0, 0)
		_, badName = Setup(ifc, "this-name-is-too-long", 0, 0)
		_, noIfc = Setup(nil, "tap0", 0, 0)
		_, badOwner = Setup(ifc, "tap0", 1000, -1)
		return nil
	})
	if !errors.Is(notTap, ErrNotTap) {
		t.Errorf("Setup over a veth: %v, want ErrNotTap", notTap)
	}
	for _, err := range []error{badName, noIfc, badOwner} {
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("got %v, want ErrInvalidArgument", err)
		}
	}
	if out := sh(t, "ip", "-n", tn.ctr, "-o", "link", "show", "aux0"); !strings.Contains(out, "aux0") {
		t.Errorf("aux0 was removed")
	}
	if out := tn.tc(t, "qdisc", "show", "dev", ctrIf); strings.Contains(out, "ingress") {
		t.Errorf("failed Setup left an ingress qdisc:\n%s", out)
	}
}

// TestRedirect proves, without a VM, that the guest side of the tap sees
// the container's traffic and that what it writes leaves through the
// container interface, and that the container's own IP stack no longer
// answers for the address.
func TestRedirect(t *testing.T) {
	tn := newTestNet(t)
	const ctrPort, peerPort = 40001, 40002
	var ctrSock, peerSock *net.UDPConn
	tn.inCtr(t, func() (err error) {
		ctrSock, err = net.ListenUDP("udp4", &net.UDPAddr{IP: tn.ctrIP, Port: ctrPort})
		return err
	})
	defer ctrSock.Close()
	if err := InNamespace(tn.peerPath, func() (err error) {
		peerSock, err = net.ListenUDP("udp4", &net.UDPAddr{IP: tn.peerIP, Port: peerPort})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer peerSock.Close()
	toCtr := &net.UDPAddr{IP: tn.ctrIP, Port: ctrPort}

	// Before Setup the container stack answers: the fixture is sound.
	send(t, peerSock, toCtr, "before")
	if got := recv(ctrSock, time.Second); got != "before" {
		t.Fatalf("before setup: container socket got %q, want %q", got, "before")
	}

	tap := TapName(t.Name())
	var guest *os.File
	tn.inCtr(t, func() error {
		ifc, err := Discover("")
		if err != nil {
			return err
		}
		// The first Setup plays a crashed container's leftovers.
		if _, err := Setup(ifc, tap, testUID, testGID); err != nil {
			return err
		}
		if _, err := Setup(ifc, tap, testUID, testGID); err != nil {
			return err
		}
		guest, err = openTap(tap)
		return err
	})
	defer guest.Close()
	sh(t, "ip", "-n", tn.peer, "neigh", "flush", "dev", peerIf)

	// Peer → container: the ARP request reaches the guest, and nobody else answers it.
	send(t, peerSock, toCtr, "lost")
	if f, err := readFrame(guest, 3*time.Second, func(f []byte) bool { return isARPRequest(f, tn.ctrIP) }); f == nil {
		t.Fatalf("no ARP request for %s on the tap (err %v)", tn.ctrIP, err)
	}
	time.Sleep(300 * time.Millisecond)
	if st := neighState(t, tn); st&netlink.NUD_REACHABLE != 0 {
		t.Fatalf("peer resolved %s (state %#x) though the guest did not answer: the container stack replied", tn.ctrIP, st)
	}

	// Guest → peer: the guest's ARP reply resolves the address, then UDP flows to the guest.
	if err := writeFrame(guest, arpReply(tn.ctrMAC, tn.ctrIP, tn.peerMAC, tn.peerIP)); err != nil {
		t.Fatal(err)
	}
	var payload []byte
	for i := 0; i < 10 && payload == nil; i++ {
		send(t, peerSock, toCtr, "to-guest")
		f, err := readFrame(guest, 500*time.Millisecond, func(f []byte) bool {
			return string(udpPayload(f, tn.ctrIP, ctrPort)) == "to-guest"
		})
		if err != nil {
			t.Fatal(err)
		}
		payload = f
	}
	if payload == nil {
		t.Fatal("UDP datagram from the peer never reached the tap")
	}
	if got := recv(ctrSock, 200*time.Millisecond); got != "" {
		t.Errorf("container socket got %q after setup: traffic bypassed the tap", got)
	}

	// Guest → peer: a UDP frame written to the tap reaches the peer's socket.
	frame := udpFrame(tn.ctrMAC, tn.peerMAC, tn.ctrIP, tn.peerIP, ctrPort, peerPort, []byte("from-guest"))
	if err := writeFrame(guest, frame); err != nil {
		t.Fatal(err)
	}
	if got := recv(peerSock, 2*time.Second); got != "from-guest" {
		t.Errorf("peer socket got %q, want %q", got, "from-guest")
	}
}

func send(t *testing.T, c *net.UDPConn, to *net.UDPAddr, msg string) {
	t.Helper()
	if _, err := c.WriteToUDP([]byte(msg), to); err != nil {
		t.Fatalf("send %q to %s: %v", msg, to, err)
	}
}

// recv returns the next datagram, or "" after timeout.
func recv(c *net.UDPConn, timeout time.Duration) string {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 1500)
	n, _, err := c.ReadFromUDP(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// neighState returns the peer's neighbour state for the container address, 0 if none.
func neighState(t *testing.T, tn *testNet) int {
	t.Helper()
	state := 0
	err := InNamespace(tn.peerPath, func() error {
		neighs, err := netlink.NeighList(0, netlink.FAMILY_V4)
		for _, n := range neighs {
			if n.IP.Equal(tn.ctrIP) {
				state = n.State
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return state
}
