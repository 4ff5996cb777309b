package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"time"
)

// httpBlock is how many requests go to one server before switching to
// the other, so that both see the same machine load.
const httpBlock = 100

// http is section f: sequential GETs from a bench-made namespace to the
// guest's httpd (urunc) and to the same binary as a plain container (runc).
func (b *bench) http() *Section {
	s := &Section{}
	if _, err := exec.LookPath("ip"); err != nil {
		s.Skipped = "ip (iproute2) not installed"
		return s
	}
	mods := filepath.Join(filepath.Dir(b.o.kernel), "modules", "lib")
	u := b.urunc("f", b.baseConfig())
	rc := b.runc("f")
	un, err := b.newNetPair("u", 1)
	if err != nil {
		s.Skipped = err.Error()
		return s
	}
	rn, err := b.newNetPair("r", 2)
	if err != nil {
		s.Skipped = err.Error()
		return s
	}
	ub := b.appBundle(b.dir("f-uk"), b.o.kernel, "httpd", ":8080")
	if o := execCmd(b.ctx, time.Minute, nil, "cp", "-a", mods, ub.rootfs("")); !o.ok() {
		s.Skipped = fmt.Sprintf("guest kernel modules (virtio-net) from %s: %s (run `make kernel`)", mods, o)
		return s
	}
	joinNetns(ub, un.ctr)
	pb := b.plainBundle(b.dir("f-plain"), "httpd", ":8080")
	joinNetns(pb, rn.ctr)
	if _, err := b.startDetached(u, ub.write(), "f-u", "httpd: listening", 90*time.Second); err != nil {
		s.Skipped = "urunc httpd: " + err.Error()
		return s
	}
	if _, err := b.startDetached(rc, pb.write(), "f-r", "httpd: listening", 30*time.Second); err != nil {
		s.Skipped = "runc httpd: " + err.Error()
		return s
	}
	if st, err := u.state("f-u"); err == nil && st.Annotations["com.urunc.vm.accel"] != "" {
		b.accel = st.Annotations["com.urunc.vm.accel"]
	}
	uc, err := b.httpClient(un)
	if err != nil {
		s.Skipped = "urunc httpd: " + err.Error()
		return s
	}
	defer uc.d.close()
	rcl, err := b.httpClient(rn)
	if err != nil {
		s.Skipped = "runc httpd: " + err.Error()
		return s
	}
	defer rcl.d.close()
	for _, ka := range []bool{true, false} {
		ud, rd := b.requests(uc, rcl, ka, s)
		name := "HTTP GET, keep-alive on (one connection)"
		if !ka {
			name = "HTTP GET, keep-alive off (connect per request)"
		}
		s.Rows = append(s.Rows, &Row{Name: name, Unit: "ms", Urunc: ud, Runc: rd})
	}
	s.note("%d sequential GET / per server and mode from a peer namespace over a veth (urunc: tap + tc redirect into the guest, Debian cloud vmlinuz with virtio-net modules; runc: the same static bin/httpd); blocks of %d requests alternate between the servers; 20 warm-up requests each not counted", b.o.nHTTP, httpBlock)
	return s
}

// httpClient dials from the pair's peer namespace and waits for the server.
func (b *bench) httpClient(p *netPair) (*client, error) {
	d, err := newNSDialer(p.peer)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", p.peer, err)
	}
	c := &client{d: d, addr: p.ctrIP + ":8080"}
	if err := c.waitUp(b, 60*time.Second); err != nil {
		d.close()
		return nil, fmt.Errorf("GET http://%s/: %w", c.addr, err)
	}
	for i := 0; i < 20; i++ {
		c.get(true)
	}
	return c, nil
}

// requests sends nHTTP requests to each server in alternating blocks.
func (b *bench) requests(u, r *client, keepAlive bool, s *Section) (*Dist, *Dist) {
	var us, rs []float64
	var uf, rf int
	one := func(c *client, samples *[]float64, fails *int, name string) {
		for i := 0; i < httpBlock && b.ctx.Err() == nil; i++ {
			d, err := c.get(keepAlive)
			if err != nil {
				if *fails < 3 {
					s.note("%s request: %v", name, err)
				}
				*fails++
				continue
			}
			*samples = append(*samples, msOf(d))
		}
	}
	for done := 0; done < b.o.nHTTP && b.ctx.Err() == nil; done += httpBlock {
		one(u, &us, &uf, "urunc")
		one(r, &rs, &rf, "runc")
	}
	u.drop()
	r.drop()
	return newDist(us, uf), newDist(rs, rf)
}
