package e2e

import (
	"fmt"
	"github.com/urunc-runtime/urunc/internal/testutil/solo5elf"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPrefix6 is the IPv6 ULA prefix of the test namespaces: addIPv6 gives
// namespace pair n the on-link fd00:213:<n>::/64 and the peer a second,
// routed address fd00:213:<100+n>::1. Nothing outside it is ever addressed.
const testPrefix6 = "fd00:213::/32"

// gateway6 is the IPv6 default gateway of the container namespace: a
// link-local address of the peer, as routers advertise themselves.
const gateway6 = "fe80::1"

// net6 is the IPv6 half of a dual-stack testNet.
type net6 struct {
	ctrIP, peerIP net.IP // on-link, fd00:213:<n>::2 and ::1
	remoteIP      net.IP // the peer's routed address, reached through gateway6
	dns           string // a nameserver written to the container's resolv.conf, never queried
}

// addIPv6 makes the test namespaces dual-stack, or IPv6-only when only6
// (the container interface loses its IPv4 address and route). Addresses
// are added without duplicate address detection, as CNI plugins settle them
// before the container starts.
func addIPv6(t *testing.T, tn *testNet, n int, only6 bool) net6 {
	t.Helper()
	p := fmt.Sprintf("fd00:213:%d::", n)
	r := fmt.Sprintf("fd00:213:%d::", 100+n)
	v := net6{ctrIP: net.ParseIP(p + "2"), peerIP: net.ParseIP(p + "1"), remoteIP: net.ParseIP(r + "1"), dns: p + "53"}
	cmds := [][]string{
		{"-n", tn.peer, "addr", "add", p + "1/64", "dev", "eth0", "nodad"},
		{"-n", tn.peer, "addr", "add", gateway6 + "/64", "dev", "eth0", "nodad"},
		{"-n", tn.peer, "addr", "add", r + "1/64", "dev", "lo", "nodad"},
		{"-n", tn.ctr, "addr", "add", p + "2/64", "dev", "eth0", "nodad"},
		{"-n", tn.ctr, "-6", "route", "add", "default", "via", gateway6, "dev", "eth0"},
	}
	if only6 {
		cmds = append(cmds, []string{"-n", tn.ctr, "-4", "addr", "flush", "dev", "eth0"})
	}
	for _, c := range cmds {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", c, err, out)
		}
	}
	return v
}

// url6 is the host:port of an IPv6 address.
func url6(ip net.IP, port int) string {
	return net.JoinHostPort(ip.String(), fmt.Sprint(port))
}

// startHTTPGuest runs the Linux guest httpd in tn's container namespace,
// with resolv.conf listing nameservers, and waits for it to listen. It
// returns the VMM's command line and the console file.
func startHTTPGuest(t *testing.T, e *env, r *runtime, tn *testNet, id string, modules bool, nameservers ...string) (string, string) {
	t.Helper()
	return startHTTPGuestWith(t, e, r, tn, id, modules, nil, nameservers...)
}

// startHTTPGuestWith is startHTTPGuest with edit applied to the bundle.
func startHTTPGuestWith(t *testing.T, e *env, r *runtime, tn *testNet, id string, modules bool, edit func(*bundle), nameservers ...string) (string, string) {
	t.Helper()
	b := e.linuxBundle(t)
	if edit != nil {
		edit(b)
	}
	b.spec.Process.Args = []string{"/httpd", ":8080"}
	copyFile(t, filepath.Join(e.bin, "httpd"), b.rootfs("httpd"), 0o755)
	if modules {
		e.withModules(t, b)
	}
	withResolvConf(t, b, nameservers...)
	joinNetns(b, tn.ctr)
	out := r.detached("run", "--detach", "--bundle", b.write(), id)
	waitFor(t, out, "httpd: listening", 90*time.Second)
	s := r.waitStatus(id, "running", 10*time.Second)
	return vmmArgv(s.Pid), out
}

// withResolvConf binds a resolv.conf listing nameservers over the
// container's /etc/resolv.conf, as engines do.
func withResolvConf(t *testing.T, b *bundle, nameservers ...string) {
	t.Helper()
	if len(nameservers) == 0 {
		return
	}
	var conf strings.Builder
	for _, ns := range nameservers {
		fmt.Fprintf(&conf, "nameserver %s\n", ns)
	}
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	writeFile(t, resolv, conf.String())
	b.spec.Mounts = append(b.spec.Mounts, bindMount(resolv, "/etc/resolv.conf", true))
}

// stopGuest kills and deletes the guest, then checks that nothing of
// urunc's is left in the namespace.
func stopGuest(t *testing.T, r *runtime, tn *testNet, id string) {
	t.Helper()
	r.ok("kill", id, "KILL")
	r.waitStatus(id, "stopped", 10*time.Second)
	r.ok("delete", id)
	tn.assertNothingOfOurs("delete of " + id)
}

func console(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// A dual-stack container network: the Linux guest takes the IPv6 address,
// gateway and nameserver beside the IPv4 ones, and serves HTTP over both,
// on-link and, over IPv6, through its link-local default gateway.
func TestNetworkGuestServesHTTPDualStack(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	tn := newTestNet(t, 5)
	v6 := addIPv6(t, tn, 5, false)
	args, out := startHTTPGuest(t, e, r, tn, "web6", true, v6.dns, tn.peerIP)
	for _, w := range []string{
		"ip=" + tn.ctrIP + "::" + tn.peerIP + ":255.255.255.0::eth0:off:" + tn.peerIP + " ",
		"urunit.ip6=" + v6.ctrIP.String() + "/64," + gateway6 + " ",
		"urunit.dns6=" + v6.dns + " ",
	} {
		if !strings.Contains(args+" ", w) {
			t.Errorf("VMM argv lacks %q:\n%s", w, args)
		}
	}
	for _, c := range []struct {
		what string
		src  net.IP
		addr string
	}{
		{"IPv6 on-link", v6.peerIP, url6(v6.ctrIP, 8080)},
		{"IPv6 through the gateway", v6.remoteIP, url6(v6.ctrIP, 8080)},
		{"IPv4", nil, tn.ctrIP + ":8080"},
	} {
		if body := tn.getFrom(t, tn.peer, c.src, c.addr); !strings.Contains(body, "hello from guest httpd") {
			t.Errorf("%s: HTTP answer %q; console:\n%s", c.what, body, console(out))
		}
	}
	if strings.Contains(console(out), "urunit:") {
		t.Errorf("urunit complained:\n%s", console(out))
	}
	stopGuest(t, r, tn, "web6")
}

// An IPv6-only container network: no ip= at all, the guest is reached
// over IPv6 alone, and an IPv4 nameserver it could not reach is left out.
func TestNetworkGuestServesHTTPIPv6Only(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	tn := newTestNet(t, 6)
	v6 := addIPv6(t, tn, 6, true)
	args, out := startHTTPGuest(t, e, r, tn, "web6only", true, tn.peerIP, v6.dns)
	if strings.Contains(args, " ip=") || strings.Contains(args, tn.ctrIP) {
		t.Errorf("VMM argv has IPv4 on an IPv6-only network:\n%s", args)
	}
	if !strings.Contains(args, "urunit.ip6="+v6.ctrIP.String()+"/64,"+gateway6) || !strings.Contains(args, "urunit.dns6="+v6.dns) {
		t.Errorf("VMM argv lacks the guest's IPv6 address or nameserver:\n%s", args)
	}
	for _, src := range []net.IP{v6.peerIP, v6.remoteIP} {
		if body := tn.getFrom(t, tn.peer, src, url6(v6.ctrIP, 8080)); !strings.Contains(body, "hello from guest httpd") {
			t.Errorf("from %s: HTTP answer %q; console:\n%s", src, body, console(out))
		}
	}
	stopGuest(t, r, tn, "web6only")
}

// A guest kernel without IPv6 (built without it, or booted with
// ipv6.disable=1 as here, through the image's kernel parameters): on a
// dual-stack network urunit says so on the console and the guest keeps
// IPv4; on an IPv6-only one the application runs without network.
func TestNetworkKernelWithoutIPv6(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	noKernelIPv6 := func(b *bundle) { b.spec.Annotations["com.urunc.unikernel.cmdline"] = "ipv6.disable=1" }
	const noIPv6 = "the guest kernel has no IPv6 (CONFIG_IPV6)"
	t.Run("dual stack", func(t *testing.T) {
		tn := newTestNet(t, 7)
		addIPv6(t, tn, 7, false)
		_, out := startHTTPGuestWith(t, e, r, tn, "nokernel6", true, noKernelIPv6)
		if body := tn.get(t, tn.peer, tn.ctrIP+":8080"); !strings.Contains(body, "hello from guest httpd") {
			t.Errorf("IPv4 HTTP answer %q; console:\n%s", body, console(out))
		}
		if c := console(out); !strings.Contains(c, "urunit: set up IPv6 (the application has IPv4 only): ") || !strings.Contains(c, noIPv6) {
			t.Errorf("console does not say the guest has IPv4 only for lack of kernel IPv6:\n%s", c)
		}
		stopGuest(t, r, tn, "nokernel6")
	})
	t.Run("IPv6 only", func(t *testing.T) {
		tn := newTestNet(t, 9)
		addIPv6(t, tn, 9, true)
		_, out := startHTTPGuestWith(t, e, r, tn, "nokernel6only", true, noKernelIPv6)
		if c := console(out); !strings.Contains(c, "urunit: set up network (the application runs without it): ") || !strings.Contains(c, noIPv6) {
			t.Errorf("console does not say the guest has no network for lack of kernel IPv6:\n%s", c)
		}
		stopGuest(t, r, tn, "nokernel6only")
	})
}

// Inside a dual-stack guest urunit has set the IPv6 address without
// duplicate address detection (usable at once, never tentative), the
// default route through the link-local gateway, and both nameservers.
func TestNetworkGuestIPv6Config(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	tn := newTestNet(t, 8)
	v6 := addIPv6(t, tn, 8, false)
	b := e.shellBundle(t, "cat /etc/resolv.conf; /bin/busybox ip -6 addr show dev eth0; /bin/busybox ip -6 route show")
	e.withModules(t, b)
	withResolvConf(t, b, tn.peerIP, v6.dns)
	joinNetns(b, tn.ctr)
	res := r.urunc("run", "--bundle", b.write(), "cfg6")
	if res.code != 0 {
		t.Fatalf("run: exit %d\nstdout %s\nstderr %s", res.code, res.stdout, res.stderr)
	}
	out := strings.ReplaceAll(res.stdout, "\r", "")
	for _, w := range []string{
		"nameserver " + tn.peerIP + "\nnameserver " + v6.dns + "\n",
		// busybox prints the flags it has no name for in hex: 02 is IFA_F_NODAD.
		"inet6 " + v6.ctrIP.String() + "/64 scope global flags 02",
		"default via " + gateway6 + " dev eth0",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("guest output lacks %q:\n%s", w, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, v6.ctrIP.String()) && strings.Contains(line, "tentative") {
			t.Errorf("the guest's address is tentative: %q", line)
		}
	}
	if strings.Contains(out, "urunit:") {
		t.Errorf("urunit complained:\n%s", out)
	}
	tn.assertNothingOfOurs("run of cfg6")
}

// A guest that takes IPv4 only, on an IPv6-only network, fails start with
// the reason; start removes the tap and redirect it had made, and delete
// leaves nothing. (The stand-in plays solo5-spt: no KVM needed, and the
// start-time check runs before any VMM does.)
func TestNetworkIPv6OnlyRefusedCleanly(t *testing.T) {
	e := setup(t, false)
	dir := siInstallStandin(t)
	siConfig(t, e, "spt", filepath.Join(dir, "solo5-spt"), filepath.Join(t.TempDir(), "no-kvm"))
	r := e.runtime(t)
	tn := newTestNet(t, 10)
	addIPv6(t, tn, 10, true)
	b := siSolo5Bundle("spt", "mirage", solo5elf.TargetSPT, true)(t, e)
	joinNetns(b, tn.ctr)
	r.ok("create", "--bundle", b.write(), "only6")
	res := r.urunc("start", "only6")
	if res.code == 0 || !strings.Contains(res.stderr, "only linux guests take IPv6") {
		t.Errorf("start of a mirage guest on an IPv6-only network: exit %d, stderr %q; want the refusal", res.code, res.stderr)
	}
	tn.assertNothingOfOurs("the refused start")
	r.ok("delete", "--force", "only6")
	tn.assertNothingOfOurs("delete")
	r.assertClean()
}
