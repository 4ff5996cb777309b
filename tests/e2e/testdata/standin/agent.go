package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urunc-runtime/urunc/internal/agent"
)

// The guest side the stand-in plays for a Linux guest on Firecracker and
// Cloud Hypervisor: the VMM's hybrid vsock socket and, behind it, urunit's
// agent (internal/agent) for an application that is examples/hello.
//
// The application is the guest's process as urunit's config in the initrd
// names it. Only hello is played, by its arguments:
//
//	hello [status [seconds [ignore-term]]]
//
// It exits with status at once, or after seconds; a signal passed through
// OpSignal ends it with 128+n unless its default action is to ignore it
// (SIGCHLD, SIGCONT, SIGURG, SIGWINCH) or it is SIGTERM and ignore-term
// is given. Any other program "exits" 127, as one not found. The guest's
// environment variable STANDIN_AGENT changes the guest:
//
//   - STANDIN_AGENT=silent: urunit answers OpWait but the VM stops (the
//     stand-in exits 0) without a FrameExit, as on a kernel panic;
//   - STANDIN_AGENT=absent: no agent listens: the stand-in exits 0 once it
//     has printed its report, as a VMM whose guest never came up.
//
// Processes exec'd through OpExec are the stand-in's built-ins: "echo
// ARGS" writes ARGS, "cat" copies stdin to stdout, "exit N" exits N,
// "standin-process" writes the agent.Process it was given as JSON; others
// are refused with status 127, as urunit refuses a program not found. A
// FrameSignal of a signal that terminates ends the process with 128+n.
//
// What the guest does is written on stderr (the VMM's, the container's),
// prefixed "standin: ", so tests can tell a status the host got from the
// guest from one it made up.

// vsockHostPort is what the stand-in answers a CONNECT with, as
// Firecracker names the host end's port.
const vsockHostPort = 1073741824

// waiterTimeout bounds how long a guest whose application has exited
// waits for the host's OpWait before it stops without reporting.
const waiterTimeout = 30 * time.Second

// GuestInfo is what the stand-in found of the guest it plays.
type GuestInfo struct {
	AgentSocket string   `json:"agentSocket"`
	Initrd      string   `json:"initrd"`
	Args        []string `json:"args,omitempty"` // the application's, from urunit's config
	Mode        string   `json:"mode,omitempty"` // STANDIN_AGENT
	Error       string   `json:"error,omitempty"`
}

// guestOf finds the agent socket and initrd in the VMM's argv (Cloud
// Hypervisor: --vsock cid=3,socket=<path>, --initramfs <path>) or its
// config file (Firecracker: vsock.uds_path, boot-source.initrd_path), and
// reads urunit's config from the initrd. nil when the VMM has no agent
// socket: then the stand-in only records.
func guestOf(args []string, configs map[string]string) *GuestInfo {
	g := &GuestInfo{}
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--vsock":
			for _, kv := range strings.Split(args[i+1], ",") {
				if v, ok := strings.CutPrefix(kv, "socket="); ok {
					g.AgentSocket = strings.Trim(v, `"`)
				}
			}
		case "--initramfs":
			g.Initrd = args[i+1]
		}
	}
	for _, data := range configs {
		var fc struct {
			Boot struct {
				Initrd string `json:"initrd_path"`
			} `json:"boot-source"`
			Vsock *struct {
				UDSPath string `json:"uds_path"`
			} `json:"vsock"`
		}
		if json.Unmarshal([]byte(data), &fc) == nil && fc.Vsock != nil {
			g.AgentSocket, g.Initrd = fc.Vsock.UDSPath, fc.Boot.Initrd
		}
	}
	if g.AgentSocket == "" {
		return nil
	}
	cfg, err := urunitConfig(g.Initrd)
	if err != nil {
		g.Error = err.Error()
		return g
	}
	g.Args = cfg.Args
	for _, kv := range cfg.Env {
		if v, ok := strings.CutPrefix(kv, "STANDIN_AGENT="); ok {
			g.Mode = v
		}
	}
	return g
}

// playGuest runs the guest until the VM would stop, and returns the
// VMM's exit status: 0, as Firecracker's and Cloud Hypervisor's when the
// guest reboots or powers off; 1 when the VMM itself fails.
func playGuest(info *GuestInfo) int {
	if info.Error != "" {
		logf("no guest to play: %s", info.Error)
		return 1
	}
	if info.Mode == "absent" {
		logf("no agent in this guest")
		return 0
	}
	// No removal of a file in the way: the VMMs fail then too.
	ln, err := net.Listen("unix", info.AgentSocket)
	if err != nil {
		logf("listen on the vsock socket: %v", err)
		return 1
	}
	g := &guest{app: startApp(info.Args), silent: info.Mode == "silent", stop: make(chan int, 1),
		waiter: make(chan struct{})}
	go g.accept(ln)
	go func() {
		<-g.app.done
		select {
		case <-g.waiter:
		case <-time.After(waiterTimeout):
			logf("no OpWait from the host within %v: stopping without reporting", waiterTimeout)
			g.stop <- 0
		}
	}()
	return <-g.stop
}

type guest struct {
	app    *app
	silent bool
	stop   chan int // the VMM's exit status, once the VM stops

	waitOnce sync.Once
	waiter   chan struct{} // closed once an OpWait stream is served
}

func (g *guest) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go g.conn(c)
	}
}

// conn does the VMM's half of the hybrid vsock handshake, then serves the
// session as urunit would.
func (g *guest) conn(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := readLine(c, 64)
	port, ok := strings.CutPrefix(line, "CONNECT ")
	if err != nil || !ok || port != strconv.Itoa(agent.VsockPort) {
		logf("vsock: refused %q (%v): no listener on that port", line, err)
		c.Close()
		return
	}
	if _, err := fmt.Fprintf(c, "OK %d\n", vsockHostPort); err != nil {
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	sess, err := agent.Server(c)
	if err != nil {
		c.Close()
		return
	}
	for {
		st, err := sess.Accept()
		if err != nil {
			return
		}
		go g.stream(st)
	}
}

// readLine reads up to '\n' a byte at a time, so that nothing after it is
// taken from the connection.
func readLine(c net.Conn, max int) (string, error) {
	var b []byte
	var one [1]byte
	for len(b) < max {
		if _, err := c.Read(one[:]); err != nil {
			return string(b), err
		}
		if one[0] == '\n' {
			return string(b), nil
		}
		b = append(b, one[0])
	}
	return string(b), errors.New("line too long")
}

func (g *guest) stream(st net.Conn) {
	defer st.Close()
	var q agent.Request
	if err := agent.ReadJSON(st, agent.FrameRequest, &q); err != nil {
		logf("bad request: %v", err)
		return
	}
	if err := q.Check(); err != nil {
		_ = agent.WriteJSON(st, agent.FrameReply, agent.Reply{Version: agent.Version, Error: err.Error()})
		return
	}
	switch q.Op {
	case agent.OpWait:
		g.wait(st)
	case agent.OpSignal:
		logf("signal %d to the application", q.Signal)
		g.app.signal(q.Signal)
		_ = agent.WriteJSON(st, agent.FrameReply, agent.Reply{Version: agent.Version})
	case agent.OpExec:
		g.exec(st, q.Process)
	}
}

// wait serves OpWait: the Reply, then the application's status once it
// has exited, then the VM stops once the host has closed the stream (or
// after agent.ExitAckTimeout).
func (g *guest) wait(st net.Conn) {
	if err := agent.WriteJSON(st, agent.FrameReply, agent.Reply{Version: agent.Version}); err != nil {
		return
	}
	logf("the host waits for the application's exit status")
	g.waitOnce.Do(func() { close(g.waiter) })
	<-g.app.done
	if g.silent {
		logf("stopping without reporting the exit status %d (silent)", g.app.status)
		g.stop <- 0
		return
	}
	if err := agent.WriteJSON(st, agent.FrameExit, agent.Exit{Status: g.app.status}); err != nil {
		logf("send the exit status: %v", err)
		return // the host may open another session
	}
	_ = st.SetReadDeadline(time.Now().Add(agent.ExitAckTimeout))
	_, err := io.Copy(io.Discard, st)
	if err != nil {
		logf("the host did not take the exit status %d: %v", g.app.status, err)
	} else {
		logf("the host took the exit status %d", g.app.status)
	}
	g.stop <- 0
}

// app is the guest's application as hello would behave.
type app struct {
	mu         sync.Mutex
	status     int // set once done is closed
	done       chan struct{}
	ignoreTerm bool
}

func startApp(args []string) *app {
	a := &app{done: make(chan struct{})}
	if len(args) == 0 || filepath.Base(args[0]) != "hello" {
		logf("the application %q is not hello: it exits 127", args)
		a.exit(127)
		return a
	}
	num := func(i int) int {
		if len(args) <= i {
			return 0
		}
		n, err := strconv.Atoi(args[i])
		if err != nil {
			return -1
		}
		return n
	}
	status, secs := num(1), num(2)
	if status < 0 || secs < 0 {
		a.exit(2) // hello: not a number
		return a
	}
	a.ignoreTerm = len(args) > 3 && args[3] == "ignore-term"
	time.AfterFunc(time.Duration(secs)*time.Second, func() { a.exit(status) })
	return a
}

func (a *app) exit(status int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-a.done:
	default:
		logf("application exited with status %d", status)
		a.status = status
		close(a.done)
	}
}

// signal delivers signal n to the application.
func (a *app) signal(n int) {
	switch {
	case n == int(syscall.SIGTERM) && a.ignoreTerm:
		logf("application ignores SIGTERM")
	case ignoredByDefault(n):
	default:
		a.exit(128 + n)
	}
}

func ignoredByDefault(n int) bool {
	switch syscall.Signal(n) {
	case syscall.SIGCHLD, syscall.SIGCONT, syscall.SIGURG, syscall.SIGWINCH:
		return true
	}
	return false
}

// exec serves OpExec with the stand-in's built-in programs.
func (g *guest) exec(st net.Conn, p *agent.Process) {
	reply := agent.Reply{Version: agent.Version}
	switch p.Args[0] {
	case "echo", "cat", "exit", "standin-process":
	default:
		reply.Error, reply.Status = fmt.Sprintf("exec %q: no such file or directory", p.Args[0]), 127
	}
	if err := agent.WriteJSON(st, agent.FrameReply, reply); err != nil || reply.Error != "" {
		return
	}
	logf("exec %q", p.Args)
	stdin, sigs := make(chan []byte, 16), make(chan int, 4)
	go hostFrames(st, stdin, sigs)
	out := agent.Writer{W: st, Type: agent.FrameStdout}
	status := 0
	switch p.Args[0] {
	case "echo":
		_, _ = fmt.Fprintln(out, strings.Join(p.Args[1:], " "))
	case "exit":
		status = 2
		if len(p.Args) == 2 {
			if n, err := strconv.Atoi(p.Args[1]); err == nil && n >= 0 && n <= 255 {
				status = n
			}
		}
	case "standin-process":
		data, _ := json.Marshal(p)
		_, _ = out.Write(append(data, '\n'))
	case "cat":
		status = cat(out, stdin, sigs)
	}
	_ = agent.WriteJSON(st, agent.FrameExit, agent.Exit{Status: status})
}

// cat copies stdin to out until stdin ends or a signal that terminates
// comes.
func cat(out io.Writer, stdin <-chan []byte, sigs <-chan int) int {
	for {
		select {
		case b, ok := <-stdin:
			if !ok {
				return 0
			}
			if _, err := out.Write(b); err != nil {
				return 1
			}
		case n := <-sigs:
			if !ignoredByDefault(n) {
				return 128 + n
			}
		}
	}
}

// hostFrames reads what the host sends an exec'd process: stdin (closed
// at FrameStdinEOF or when the stream ends) and signals.
func hostFrames(st net.Conn, stdin chan<- []byte, sigs chan<- int) {
	defer func() {
		if stdin != nil {
			close(stdin)
		}
	}()
	buf := make([]byte, agent.MaxPayload)
	for {
		t, p, err := agent.ReadFrame(st, buf)
		if err != nil {
			return
		}
		switch t {
		case agent.FrameStdin:
			if stdin != nil {
				stdin <- append([]byte(nil), p...)
			}
		case agent.FrameStdinEOF:
			if stdin != nil {
				close(stdin)
				stdin = nil
			}
		case agent.FrameSignal:
			var s agent.Signal
			if json.Unmarshal(p, &s) == nil {
				select {
				case sigs <- s.Signal:
				default:
				}
			}
		case agent.FrameResize:
		default:
			logf("exec: unexpected frame %d", t)
			return
		}
	}
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "standin: "+format+"\n", a...)
}
