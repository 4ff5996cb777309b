package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/network"
)

// testNet is a pair of network namespaces made by the test: "ctr" plays the
// container's namespace, "peer" the other end of a veth pair.
type testNet struct {
	t             *testing.T
	ctr, peer     string // namespace names under /var/run/netns
	ctrIP, peerIP string
}

func newTestNet(t *testing.T, n int) *testNet {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed: run `make deps`")
	}
	tn := &testNet{t: t, ctr: fmt.Sprintf("urunc-e2e-c%d-%d", n, os.Getpid()), peer: fmt.Sprintf("urunc-e2e-p%d-%d", n, os.Getpid()),
		ctrIP: fmt.Sprintf("10.213.%d.2", n), peerIP: fmt.Sprintf("10.213.%d.1", n)}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", tn.ctr).Run()
		exec.Command("ip", "netns", "del", tn.peer).Run()
	})
	veth, peer := fmt.Sprintf("ue%dc%d", n, os.Getpid()%10000), fmt.Sprintf("ue%dp%d", n, os.Getpid()%10000)
	for _, c := range [][]string{
		{"netns", "add", tn.ctr}, {"netns", "add", tn.peer},
		{"link", "add", veth, "type", "veth", "peer", "name", peer},
		{"link", "set", veth, "netns", tn.ctr, "name", "eth0"}, {"link", "set", peer, "netns", tn.peer, "name", "eth0"},
		{"-n", tn.ctr, "addr", "add", tn.ctrIP + "/24", "dev", "eth0"}, {"-n", tn.peer, "addr", "add", tn.peerIP + "/24", "dev", "eth0"},
		{"-n", tn.ctr, "link", "set", "eth0", "up"}, {"-n", tn.peer, "link", "set", "eth0", "up"},
		{"-n", tn.ctr, "link", "set", "lo", "up"}, {"-n", tn.peer, "link", "set", "lo", "up"},
		{"-n", tn.ctr, "route", "add", "default", "via", tn.peerIP},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", c, err, out)
		}
	}
	return tn
}

// in runs a command inside one of the namespaces.
func (tn *testNet) in(ns string, args ...string) string {
	out, _ := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	return string(out)
}

// joinNetns makes a bundle use the namespace as its network namespace,
// as CRI does with a pod's.
func joinNetns(b *bundle, name string) {
	for i, ns := range b.spec.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			b.spec.Linux.Namespaces[i].Path = "/var/run/netns/" + name
		}
	}
}

// The VM is wired to the container's interface with a tap and a tc
// redirect, and delete leaves neither behind in a namespace that outlives it.
func TestNetworkTapWiring(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	tn := newTestNet(t, 1)
	b := e.linuxBundle(t, "0", "600")
	joinNetns(b, tn.ctr)
	r.ok("run", "-d", "--bundle", b.write(), "net1")
	s := r.waitStatus("net1", "running", 10*time.Second)
	if links := tn.in(tn.ctr, "ip", "-o", "link", "show", "type", "tun"); !tapName.MatchString(links) {
		t.Errorf("no tap in the container's namespace:\n%s", links)
	}
	if f := tn.in(tn.ctr, "tc", "filter", "show", "dev", "eth0", "ingress"); !strings.Contains(f, "mirred") {
		t.Errorf("no redirect on eth0's ingress:\n%s", f)
	}
	args := vmmArgv(s.Pid)
	if !strings.Contains(args, "-netdev tap") || !strings.Contains(args, "ip="+tn.ctrIP+"::"+tn.peerIP+":255.255.255.0") {
		t.Errorf("VMM argv lacks the tap or the guest's address:\n%s", args)
	}
	r.ok("delete", "--force", "net1")
	tn.assertNothingOfOurs("delete --force")

	// The VMM dies on its own (SIGKILL from outside urunc), then delete.
	r.ok("run", "-d", "--bundle", b.dir, "net2")
	s = r.waitStatus("net2", "running", 10*time.Second)
	if err := syscall.Kill(s.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.waitStatus("net2", "stopped", 10*time.Second)
	r.ok("delete", "net2")
	tn.assertNothingOfOurs("SIGKILL of the VMM and delete")
}

// tapName matches the names of urunc's taps (network.TapName).
var tapName = regexp.MustCompile(`\b` + network.TapPrefix + `[0-9a-f]{8}\b`)

// assertNothingOfOurs checks that no tap, ingress qdisc or filter of urunc
// is left in the container's namespace.
func (tn *testNet) assertNothingOfOurs(after string) {
	t := tn.t
	t.Helper()
	if links := tn.in(tn.ctr, "ip", "-o", "link", "show"); tapName.MatchString(links) {
		t.Errorf("tap left after %s:\n%s", after, links)
	}
	if q := tn.in(tn.ctr, "tc", "qdisc", "show", "dev", "eth0", "ingress"); strings.Contains(q, "ingress") {
		t.Errorf("ingress qdisc left after %s:\n%s", after, q)
	}
	if f := tn.in(tn.ctr, "tc", "filter", "show", "dev", "eth0", "ingress"); strings.TrimSpace(f) != "" {
		t.Errorf("tc filter left after %s:\n%s", after, f)
	}
}

// A Linux guest serving HTTP answers on the container's address, from the
// other end of the container's veth.
func TestNetworkGuestServesHTTP(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	tn := newTestNet(t, 2)
	b := e.httpdBundle(t, tn.ctr)
	out := r.detached("run", "--detach", "--bundle", b.write(), "web1")
	waitFor(t, out, "httpd: listening", 90*time.Second)
	body := tn.get(t, tn.peer, tn.ctrIP+":8080")
	if !strings.Contains(body, "hello from guest httpd") {
		b, _ := os.ReadFile(out)
		t.Errorf("HTTP answer %q; console:\n%s", body, b)
	}
	r.ok("kill", "web1", "KILL")
	r.waitStatus("web1", "stopped", 10*time.Second)
	r.ok("delete", "web1")
}

// httpdBundle is a Linux guest serving HTTP on :8080 in network namespace
// netns.
func (e *env) httpdBundle(t *testing.T, netns string) *bundle {
	b := e.linuxBundle(t)
	b.spec.Process.Args = []string{"/httpd", ":8080"}
	copyFile(t, filepath.Join(e.bin, "httpd"), b.rootfs("httpd"), 0o755)
	e.withModules(t, b)
	joinNetns(b, netns)
	return b
}

// get sends GET / to addr from inside namespace ns, retrying for a few
// seconds while the guest's server comes up. The socket is made on a
// thread switched into ns, so the request really crosses the veth.
func (tn *testNet) get(t *testing.T, ns, addr string) string {
	t.Helper()
	return tn.getFrom(t, ns, nil, addr)
}

// getFrom is get from the local address src of ns (nil: any).
func (tn *testNet) getFrom(t *testing.T, ns string, src net.IP, addr string) string {
	t.Helper()
	var body string
	var err error
	for i := 0; i < 20; i++ {
		err = network.InNamespace("/var/run/netns/"+ns, func() error {
			body, err = httpGetFrom(src, addr)
			return err
		})
		if err == nil {
			return body
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("GET http://%s/ from %s (source %v): %v", addr, ns, src, err)
	return ""
}

// testTargets are the only networks tests send traffic to: the namespaces
// of newTestNet (IPv4, and the IPv6 ULA prefix addIPv6 gives them) and the
// bridge networks harness.Containerd creates for the test's containerd
// (10.4.0.0/16 per its config).
var testTargets = []string{"10.213.0.0/16", testPrefix6, "10.4.0.0/16", "127.0.0.0/8", "::1/128"}

// checkTarget refuses an address outside the networks the tests made.
func checkTarget(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	for _, c := range testTargets {
		if _, n, _ := net.ParseCIDR(c); ip != nil && n.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("refusing to send traffic to %s: not a network the test created", addr)
}

// httpGet speaks just enough HTTP/1.0 to fetch / from addr, which must be
// an address the tests created.
func httpGet(addr string) (string, error) {
	return httpGetFrom(nil, addr)
}

// httpGetFrom is httpGet from the local address src (nil: any).
func httpGetFrom(src net.IP, addr string) (string, error) {
	if err := checkTarget(addr); err != nil {
		panic(err) // a test bug, never a retryable failure
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	if src != nil {
		d.LocalAddr = &net.TCPAddr{IP: src}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", addr); err != nil {
		return "", err
	}
	resp, err := io.ReadAll(conn)
	return string(resp), err
}

func TestCheckTarget(t *testing.T) {
	for addr, ok := range map[string]bool{
		"10.213.1.2:8080": true, "10.4.7.3:80": true, "127.0.0.1:1": true,
		"10.0.0.1:80": false, "192.168.1.1:80": false, "8.8.8.8:53": false,
		"[fd00:213:5::2]:8080": true, "[fd00:213:105::1]:80": true, "[::1]:80": true,
		"[fd00::1]:80": false, "[fd00:214::1]:80": false, "[2001:4860:4860::8888]:53": false, "[fe80::1]:80": false,
		"[::ffff:8.8.8.8]:53": false,
	} {
		if err := checkTarget(addr); (err == nil) != ok {
			t.Errorf("checkTarget(%s) = %v, want allowed %v", addr, err, ok)
		}
	}
}

// A second guest in the same network namespace (a pod) is refused at
// start instead of cutting the first one off.
func TestNetworkOneGuestPerNamespace(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	tn := newTestNet(t, 3)
	web := func(id string) string {
		b := e.linuxBundle(t)
		b.spec.Process.Args = []string{"/httpd", ":8080"}
		copyFile(t, filepath.Join(e.bin, "httpd"), b.rootfs("httpd"), 0o755)
		e.withModules(t, b)
		joinNetns(b, tn.ctr)
		return b.write()
	}
	out := r.detached("run", "--detach", "--bundle", web("first"), "first")
	waitFor(t, out, "httpd: listening", 90*time.Second)
	tn.get(t, tn.peer, tn.ctrIP+":8080")

	res := r.urunc("run", "--detach", "--bundle", web("second"), "second")
	if res.code == 0 || !strings.Contains(res.stderr, "one guest per network namespace") {
		t.Errorf("second guest in the namespace: exit %d, stderr %q; want a refusal", res.code, res.stderr)
	}
	r.urunc("delete", "--force", "second")
	if body := tn.get(t, tn.peer, tn.ctrIP+":8080"); !strings.Contains(body, "hello from guest httpd") {
		t.Errorf("first guest no longer answers after the refused second: %q", body)
	}
	r.ok("delete", "--force", "first")
	tn.assertNothingOfOurs("delete of both")
}

// In a pod's namespace, guest A exits, guest B starts and takes the
// interface over, then A is deleted: B must go on serving, and B's delete
// leaves the namespace as it found it.
func TestNetworkPodSuccessor(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	tn := newTestNet(t, 12)
	a := e.linuxBundle(t)
	joinNetns(a, tn.ctr)
	outA := r.detached("run", "--detach", "--bundle", a.write(), "pod-a")
	waitFor(t, outA, "hello from guest", 90*time.Second)
	r.waitStatus("pod-a", "stopped", 30*time.Second)

	b := e.httpdBundle(t, tn.ctr)
	outB := r.detached("run", "--detach", "--bundle", b.write(), "pod-b")
	waitFor(t, outB, "httpd: listening", 90*time.Second)

	r.ok("delete", "pod-a")
	if body := tn.get(t, tn.peer, tn.ctrIP+":8080"); !strings.Contains(body, "hello from guest httpd") {
		t.Errorf("B's answer after A's delete: %q", body)
	}
	if f := tn.in(tn.ctr, "tc", "filter", "show", "dev", "eth0", "ingress"); !strings.Contains(f, network.TapName("pod-b")) {
		t.Errorf("B's redirect is gone after A's delete:\n%s", f)
	}
	r.ok("delete", "--force", "pod-b")
	tn.assertNothingOfOurs("delete of both")
}
