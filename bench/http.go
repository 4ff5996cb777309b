package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// benchNets are the only networks the bench sends traffic to: the
// namespaces it creates, and loopback.
var benchNets = []string{"10.214.0.0/16", "127.0.0.0/8"}

// checkTarget refuses an address outside the bench's own networks.
func checkTarget(addr string) {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	for _, c := range benchNets {
		if _, n, _ := net.ParseCIDR(c); ip != nil && n.Contains(ip) {
			return
		}
	}
	panic(fmt.Sprintf("refusing to send traffic to %s: not a network the bench created", addr))
}

// netPair is two namespaces joined by a veth: "ctr" for the container,
// "peer" for the client.
type netPair struct {
	ctr, peer     string
	ctrIP, peerIP string
}

// newNetPair makes namespaces ub<pid><tag>c/p on 10.214.<n>.0/24.
func (b *bench) newNetPair(tag string, n int) (*netPair, error) {
	pid := os.Getpid()
	p := &netPair{ctr: fmt.Sprintf("ub%d%sc", pid, tag), peer: fmt.Sprintf("ub%d%sp", pid, tag),
		ctrIP: fmt.Sprintf("10.214.%d.2", n), peerIP: fmt.Sprintf("10.214.%d.1", n)}
	b.defer_("netns "+tag, func() {
		execCmd(cleanCtx(), 30*time.Second, nil, "ip", "netns", "del", p.ctr)
		execCmd(cleanCtx(), 30*time.Second, nil, "ip", "netns", "del", p.peer)
	})
	veth, peer := fmt.Sprintf("ub%d%sc", pid%100000, tag), fmt.Sprintf("ub%d%sp", pid%100000, tag)
	for _, c := range [][]string{
		{"netns", "add", p.ctr}, {"netns", "add", p.peer},
		{"link", "add", veth, "type", "veth", "peer", "name", peer},
		{"link", "set", veth, "netns", p.ctr, "name", "eth0"}, {"link", "set", peer, "netns", p.peer, "name", "eth0"},
		{"-n", p.ctr, "addr", "add", p.ctrIP + "/24", "dev", "eth0"}, {"-n", p.peer, "addr", "add", p.peerIP + "/24", "dev", "eth0"},
		{"-n", p.ctr, "link", "set", "eth0", "up"}, {"-n", p.peer, "link", "set", "eth0", "up"},
		{"-n", p.ctr, "link", "set", "lo", "up"}, {"-n", p.peer, "link", "set", "lo", "up"},
		{"-n", p.ctr, "route", "add", "default", "via", p.peerIP},
	} {
		if o := execCmd(b.ctx, 30*time.Second, nil, "ip", c...); !o.ok() {
			return nil, fmt.Errorf("ip %v: %s", c, o)
		}
	}
	return p, nil
}

// nsDialer dials from inside a network namespace: one goroutine locked to
// a thread that joined the namespace serves every dial. The thread is
// never unlocked, so Go discards it when the goroutine ends.
type nsDialer struct {
	req chan dialReq
}

type dialReq struct {
	addr  string
	reply chan dialRes
}

type dialRes struct {
	conn net.Conn
	err  error
}

func newNSDialer(ns string) (*nsDialer, error) {
	d := &nsDialer{req: make(chan dialReq)}
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with us
		f, err := os.Open("/var/run/netns/" + ns)
		if err == nil {
			err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
			f.Close()
		}
		ready <- err
		if err != nil {
			return
		}
		for r := range d.req {
			c, err := net.DialTimeout("tcp", r.addr, 2*time.Second)
			r.reply <- dialRes{c, err}
		}
	}()
	return d, <-ready
}

func (d *nsDialer) dial(addr string) (net.Conn, error) {
	checkTarget(addr)
	r := dialReq{addr, make(chan dialRes, 1)}
	d.req <- r
	res := <-r.reply
	return res.conn, res.err
}

func (d *nsDialer) close() { close(d.req) }

// client sends GET / to one server, over one kept-alive connection or a
// new connection per request.
type client struct {
	d    *nsDialer
	addr string
	conn net.Conn
	br   *bufio.Reader
}

// get does one request and returns its latency.
func (c *client) get(keepAlive bool) (time.Duration, error) {
	t0 := time.Now()
	if c.conn == nil || !keepAlive {
		conn, err := c.d.dial(c.addr)
		if err != nil {
			return 0, err
		}
		c.conn, c.br = conn, bufio.NewReader(conn)
	}
	conn := c.conn
	if !keepAlive {
		defer func() { conn.Close(); c.conn = nil }()
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	hdr := "Connection: keep-alive"
	if !keepAlive {
		hdr = "Connection: close"
	}
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\n%s\r\n\r\n", c.addr, hdr); err != nil {
		c.drop()
		return 0, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.drop()
		return 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), "hello from guest httpd") {
		c.drop()
		return 0, fmt.Errorf("status %d, body %q, err %v", resp.StatusCode, body, err)
	}
	return time.Since(t0), nil
}

func (c *client) drop() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// waitUp retries until the server answers.
func (c *client) waitUp(b *bench, d time.Duration) error {
	var err error
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		if _, err = c.get(false); err == nil {
			return nil
		}
		if !b.sleep(250 * time.Millisecond) {
			return b.ctx.Err()
		}
	}
	return err
}

// startDetached runs `<oci> run -d` with the console in a file and waits
// for want in it.
func (b *bench) startDetached(r *oci, bundle, id, want string, timeout time.Duration) (string, error) {
	log := filepath.Join(b.work, id+".console")
	f, err := os.Create(log)
	if err != nil {
		return log, err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	c := r.cmd(ctx, "run", "--detach", "--bundle", bundle, id)
	c.Stdout, c.Stderr = f, f
	if err := c.Run(); err != nil {
		data, _ := os.ReadFile(log)
		return log, fmt.Errorf("%s run -d: %v: %s", r.name, err, tail(string(data)))
	}
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		if data, _ := os.ReadFile(log); strings.Contains(string(data), want) {
			return log, nil
		}
		if !b.sleep(100 * time.Millisecond) {
			return log, b.ctx.Err()
		}
	}
	data, _ := os.ReadFile(log)
	return log, fmt.Errorf("no %q after %v: %s", want, timeout, tail(string(data)))
}
