package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/urunit"
)

// FuzzParseConfig: a config that parses satisfies what urunit relies on
// (args[0] set, absolute cwd, mounts with a tag and absolute target, a
// PATH), and parsing is idempotent: the parsed config encoded and parsed
// again is the same config.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{`{"args":["/bin/app"]}`,
		`{"args":["app","-v"],"env":["PATH=/bin","A=b"],"cwd":"/srv","uid":1000,"gid":100}`,
		`{"args":["a"],"mounts":[{"tag":"t","target":"/m","readOnly":true}],"devices":[{"path":"/dev/x","serial":"s","fileMode":420}]}`,
		`{"args":["a"],"cwd":"rel"}`, `{"args":[]}`, `{"args":["a"]} {}`, `{"args":["a"],"bogus":1}`, `null`, `{"args":["a"],"uid":-1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseConfig(data)
		if err != nil {
			return
		}
		if len(cfg.Args) == 0 || cfg.Args[0] == "" || !filepath.IsAbs(cfg.Cwd) {
			t.Fatalf("parseConfig(%q) = %+v: no program or a relative cwd", data, cfg)
		}
		if _, ok := lookupEnv(cfg.Env, "PATH"); !ok {
			t.Fatalf("parseConfig(%q): no PATH in %q", data, cfg.Env)
		}
		for _, m := range cfg.Mounts {
			if m.Tag == "" || !filepath.IsAbs(m.Target) {
				t.Fatalf("parseConfig(%q): mount %+v", data, m)
			}
		}
		again, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseConfig(again)
		if err != nil || !reflect.DeepEqual(back, cfg) {
			t.Fatalf("parseConfig(%q) = %+v; re-encoded %s parses to %+v, %v", data, cfg, again, back, err)
		}
	})
}

// FuzzLinuxCmdline is the property of the Linux guest's command line, read
// at both ends: whatever the image's cmdline annotation, either Boot refuses
// it, or urunit reads back from the line exactly the network and halt mode
// the host asked for, the kernel runs urunit as init, and no "--" or open
// quote cuts urunc's parameters off.
func FuzzLinuxCmdline(f *testing.F) {
	for _, s := range []string{"", "console=hvc0", "ip=6.6.6.6:::255.0.0.0", "urunit.halt=poweroff", "-- ip=1", `x="`, "a\xa0ip=1",
		`"urunit.mtu=68"`, "rdinit=/bin/sh init=/bin/sh", `a"b c"=d`, "nfsaddrs=1.2.3.4"} {
		f.Add(s, uint32(0x0a000002), uint8(24), uint32(0x0a000001), uint16(1500), true, false)
	}
	f.Fuzz(func(t *testing.T, image string, ip uint32, prefix uint8, gw uint32, mtu uint16, ch, v6 bool) {
		n := &guest.Net{IP: ipv4(ip).String(), PrefixLen: int(prefix%32) + 1, MTU: int(mtu)}
		if gw != 0 {
			n.Gateway = ipv4(gw).String()
		}
		if v6 {
			n.IP6, n.PrefixLen6, n.DNS = "fd00::5", 64, []string{"fd00::53"}
		}
		if n.MTU < 68 {
			n.MTU = 0
		}
		s := guest.Spec{Args: []string{"/app"}, Cmdline: image, Net: n}
		if ch {
			s.Platform = guest.PlatformCloudHypervisor
		}
		g, _ := guest.Get(guest.Linux)
		b, err := g.Boot(s)
		if err != nil {
			return
		}
		if len(b.Cmdline) > guest.LinuxMaxCmdline {
			t.Fatalf("cmdline of %d bytes", len(b.Cmdline))
		}
		k := urunit.ParseCmdline(b.Cmdline)
		if k.Dashes || k.OpenQuote {
			t.Fatalf("image %q: %q has a -- or an open quote", image, b.Cmdline)
		}
		if v, _ := k.Last("rdinit"); v != urunit.BinaryPath {
			t.Fatalf("image %q: rdinit=%q", image, v)
		}
		if v, _ := k.Last("console"); v != "ttyS0" {
			t.Fatalf("image %q: console=%q", image, v)
		}
		c, err := parseNetConfig(b.Cmdline)
		if err != nil || c == nil {
			t.Fatalf("image %q: parseNetConfig(%q) = %+v, %v", image, b.Cmdline, c, err)
		}
		if !c.ip.Equal(net.ParseIP(n.IP)) || c.device != "eth0" || c.mtu != n.MTU ||
			net.IP(c.mask).String() != net.IP(net.CIDRMask(n.PrefixLen, 32)).String() {
			t.Fatalf("image %q: urunit reads %+v from %q, host set %+v", image, c, b.Cmdline, n)
		}
		if (n.Gateway == "") != (c.gateway == nil) || (c.gateway != nil && !c.gateway.Equal(net.ParseIP(n.Gateway))) {
			t.Fatalf("image %q: gateway %v, host set %q", image, c.gateway, n.Gateway)
		}
		if (c.ip6 != nil) != v6 || (v6 && c.ip6.String() != "fd00::5/64") {
			t.Fatalf("image %q: ip6 %v, host set %q", image, c.ip6, n.IP6)
		}
		if exitActionFor(3, b.Cmdline).powerOff != ch {
			t.Fatalf("image %q: power off %v, host set %v", image, !ch, ch)
		}
	})
}

func ipv4(v uint32) net.IP { return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }

// FuzzServeControl feeds urunit's control loop what a host (or anything
// that reaches the socket) may write: it never panics, it passes on exactly
// the signals of the valid lines no longer than MaxControlLine, and answers
// each of them once.
func FuzzServeControl(f *testing.F) {
	for _, s := range []string{"signal 15\n", "signal 10\nsignal 12\r\n", "hello\nsignal 99\n\nsignal 1\n",
		strings.Repeat("x", 300) + "\nsignal 2\n", "signal 15", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want []os.Signal
		rest := string(data)
		for {
			line, tail, ok := strings.Cut(rest, "\n")
			if !ok {
				break // an unterminated last line is not taken
			}
			rest = tail
			if len(line)+1 > urunit.MaxControlLine {
				continue
			}
			if sig, err := urunit.ParseControlLine(line + "\n"); err == nil {
				want = append(want, sig)
			}
		}
		signals := make(chan os.Signal, len(data)+1)
		var ack bytes.Buffer
		serveControl(bytes.NewReader(data), &ack, signals, io.Discard)
		close(signals)
		var got []os.Signal
		for s := range signals {
			if s.(syscall.Signal) < 1 || s.(syscall.Signal) > urunit.MaxSignal {
				t.Fatalf("signal %v out of range", s)
			}
			got = append(got, s)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("serveControl(%q) passed %v, want %v", data, got, want)
		}
		if ack.String() != strings.Repeat(urunit.ControlAck, len(want)) {
			t.Fatalf("serveControl(%q) answered %q for %d signals", data, ack.String(), len(want))
		}
	})
}
