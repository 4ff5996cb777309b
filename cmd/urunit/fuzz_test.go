package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/urunc-runtime/urunc/internal/agent"
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

// FuzzAgentStream is one stream from an untrusted host: whatever it sends,
// urunit does not panic, answers a complete first frame with exactly one
// Reply, which carries an Error unless the frame was a valid Request, and
// ends the stream (after a FrameExit for OpWait). The guest here never
// runs a program: the application has already exited, so exec is refused.
func FuzzAgentStream(f *testing.F) {
	frame := func(t agent.FrameType, v any) []byte {
		var b bytes.Buffer
		_ = agent.WriteJSON(&b, t, v)
		return b.Bytes()
	}
	for _, seed := range [][]byte{
		frame(agent.FrameRequest, agent.Request{Version: agent.Version, Op: agent.OpWait}),
		frame(agent.FrameRequest, agent.Request{Version: agent.Version, Op: agent.OpSignal, Signal: 15}),
		frame(agent.FrameRequest, agent.Request{Version: agent.Version, Op: agent.OpExec, Process: &agent.Process{Args: []string{"/bin/echo"}}}),
		frame(agent.FrameRequest, agent.Request{Version: 7, Op: agent.OpWait}),
		append(frame(agent.FrameRequest, agent.Request{Version: agent.Version, Op: agent.OpWait}), 3, 0, 0, 0, 1, 'x'),
		frame(agent.FrameStdin, "x"),
		rawFrame(agent.FrameRequest, agent.MaxPayload+1, nil),
		{1, 0, 0, 0, 2, '{', '}'}, {1, 0, 0}, nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := internalErrors.Load()
		a := newAgentServer(&reaper{waiting: map[int]chan int{}, stopped: true}, &appSignals{queue: make(chan os.Signal, 8)}, io.Discard)
		a.reportExit(9) // no agent transport: returns at once
		host, guest := socketPair(t)
		served := make(chan struct{})
		go func() {
			a.serveStream(guest)
			close(served)
		}()
		go func() {
			_, _ = host.Write(data)
			_ = host.CloseWrite() // what a host that has said all does
		}()
		_ = host.SetReadDeadline(time.Now().Add(5 * time.Second))
		var frames []agent.FrameType
		var reply agent.Reply
		for {
			ft, p, err := agent.ReadFrame(host, nil)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("guest output after %v: %v", frames, err)
				}
				break
			}
			frames = append(frames, ft)
			if ft == agent.FrameReply {
				if err := json.Unmarshal(p, &reply); err != nil || reply.Version != agent.Version {
					t.Fatalf("reply %q: %v", p, err)
				}
			}
			if ft == agent.FrameExit || (ft == agent.FrameReply && reply.Error != "") {
				break // the host takes the status, or the refusal, and closes
			}
		}
		host.Close()
		<-served
		if n := internalErrors.Load() - before; n != 0 {
			t.Fatalf("%d panics serving %q", n, data)
		}
		ft, p, err := agent.ReadFrame(bytes.NewReader(data), nil)
		if err != nil && !errors.Is(err, agent.ErrFrameTooLarge) {
			if len(frames) != 0 {
				t.Fatalf("no complete first frame in %q, yet the guest sent %v", data, frames)
			}
			return
		}
		if len(frames) == 0 || frames[0] != agent.FrameReply {
			t.Fatalf("guest sent %v for %q, want a Reply first", frames, data)
		}
		var req agent.Request
		valid := err == nil && ft == agent.FrameRequest && json.Unmarshal(p, &req) == nil && req.Check() == nil
		if wantErr := !valid || req.Op == agent.OpExec; (reply.Error != "") != wantErr {
			t.Fatalf("request %q: reply %+v, want an error: %v", data, reply, wantErr)
		}
		if want := valid && req.Op == agent.OpWait; want != slices.Contains(frames, agent.FrameExit) {
			t.Fatalf("request %q: frames %v", data, frames)
		}
	})
}

// FuzzExecInput is what a host sends on an exec stream after the Reply:
// urunit never panics, and ends the stream with an error exactly for
// frames the protocol does not allow there.
func FuzzExecInput(f *testing.F) {
	var seed bytes.Buffer
	_ = agent.WriteFrame(&seed, agent.FrameStdin, []byte("hi"))
	_ = agent.WriteJSON(&seed, agent.FrameResize, agent.WindowSize{Rows: 2, Cols: 3})
	_ = agent.WriteJSON(&seed, agent.FrameSignal, agent.Signal{Signal: 2})
	_ = agent.WriteFrame(&seed, agent.FrameStdinEOF, nil)
	f.Add(seed.Bytes(), true)
	f.Add(seed.Bytes(), false)
	f.Add([]byte{7, 0, 0, 0, 1, '{'}, true)
	f.Add([]byte{8, 0, 0, 0, 13, '{', '"', 's', 'i', 'g', 'n', 'a', 'l', '"', ':', '6', '5', '}'}, false)
	f.Add(rawFrame(agent.FrameStdin, agent.MaxPayload+1, nil), false)
	f.Fuzz(func(t *testing.T, data []byte, terminal bool) {
		// Nothing runs: the pid is not the reaper's, so signals go nowhere,
		// and stdin goes to a pipe nobody reads (or a pty).
		e := &execProc{pid: 1 << 22, reaper: &reaper{waiting: map[int]chan int{}}, terminal: terminal}
		if terminal {
			master, slave, err := openPty(nil)
			if err != nil {
				t.Fatalf("open a pty (every Linux with devpts has them): %v", err)
			}
			defer master.Close()
			defer slave.Close()
			e.stdin, e.outs = master, []output{{master, agent.FrameStdout}}
		} else {
			e.stdin = nopWriteCloser{}
		}
		err := e.relayInput(bytes.NewReader(data))
		// Replay the frames to know whether the protocol allows them.
		r := bytes.NewReader(data)
		stdinOpen, wantErr := true, false
		for !wantErr {
			ft, p, ferr := agent.ReadFrame(r, nil)
			if ferr != nil {
				wantErr = !errors.Is(ferr, io.EOF) && !errors.Is(ferr, io.ErrUnexpectedEOF)
				break
			}
			switch ft {
			case agent.FrameStdin:
				wantErr = !stdinOpen
			case agent.FrameStdinEOF:
				stdinOpen = false
			case agent.FrameResize:
				var ws agent.WindowSize
				wantErr = !terminal || json.Unmarshal(p, &ws) != nil
			case agent.FrameSignal:
				var s agent.Signal
				wantErr = json.Unmarshal(p, &s) != nil || s.Signal < 1 || s.Signal > agent.MaxSignal
			default:
				wantErr = true
			}
		}
		if (err != nil) != wantErr {
			t.Fatalf("relayInput(%q, terminal %v) = %v, want an error: %v", data, terminal, err, wantErr)
		}
	})
}

type nopWriteCloser struct{}

func (nopWriteCloser) Write(p []byte) (int, error) { return len(p), nil }
func (nopWriteCloser) Close() error                { return nil }

// socketPair is a connected pair of UNIX stream sockets: unlike net.Pipe,
// one end can end its writes and go on reading.
func socketPair(t *testing.T) (*net.UnixConn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		conns[i], err = net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return conns[0].(*net.UnixConn), conns[1]
}
