package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/urunc-runtime/urunc/internal/agent"
)

// The tests serve a real session, with urunit's own stream handlers, over
// a net.Pipe; the host's end is an agent.Client. They run as any user.

var (
	testReaperOnce sync.Once
	testReaperVal  *reaper
)

// testReaper is the reaper of all tests: it reaps only the children it
// started, leaving the test binary's others to os/exec.
func testReaper() *reaper {
	testReaperOnce.Do(func() { testReaperVal = newReaper(false) })
	return testReaperVal
}

// testGuest is an agentServer with a running application (none: signals
// wait in its queue) and the host's session to it.
type testGuest struct {
	a    *agentServer
	host *yamux.Session
	warn *syncBuffer
}

func newTestGuest(t *testing.T) *testGuest {
	t.Helper()
	g := &testGuest{warn: &syncBuffer{}}
	g.a = newAgentServer(testReaper(), &appSignals{queue: make(chan os.Signal, 8)}, g.warn)
	g.a.appStarted()
	g.host = serveTestSession(t, g.a)
	before := internalErrors.Load()
	t.Cleanup(func() {
		if n := internalErrors.Load() - before; n != 0 {
			t.Errorf("%d goroutines panicked; console:\n%s", n, g.warn.String())
		}
	})
	return g
}

// serveTestSession serves a on one end of a pipe and returns the host's
// session on the other.
func serveTestSession(t *testing.T, a *agentServer) *yamux.Session {
	t.Helper()
	hostEnd, guestEnd := net.Pipe()
	sess, err := agent.Server(guestEnd)
	if err != nil {
		t.Fatal(err)
	}
	go a.serveSession(sess)
	host, err := agent.Client(hostEnd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close(); sess.Close() })
	return host
}

// open opens a stream, sends req and returns the stream and the Reply.
func (g *testGuest) open(t *testing.T, req agent.Request) (net.Conn, agent.Reply) {
	t.Helper()
	st, err := g.host.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_ = st.SetDeadline(time.Now().Add(20 * time.Second))
	if err := agent.WriteJSON(st, agent.FrameRequest, req); err != nil {
		t.Fatal(err)
	}
	var r agent.Reply
	if err := agent.ReadJSON(st, agent.FrameReply, &r); err != nil {
		t.Fatalf("read reply: %v", err)
	}
	if r.Version != agent.Version {
		t.Errorf("reply version %d, want %d", r.Version, agent.Version)
	}
	return st, r
}

func execReq(p agent.Process) agent.Request {
	return agent.Request{Version: agent.Version, Op: agent.OpExec, Process: &p}
}

// result is what an exec stream carried after its Reply.
type result struct {
	stdout, stderr string
	status         int
	exited         bool // a FrameExit came, and nothing after it
	err            error
}

// readResult reads frames until FrameExit or the end of the stream.
func readResult(st net.Conn) result {
	var res result
	var out, errOut bytes.Buffer
	for {
		t, p, err := agent.ReadFrame(st, nil)
		if err != nil {
			res.err = err
			break
		}
		switch t {
		case agent.FrameStdout:
			out.Write(p)
		case agent.FrameStderr:
			errOut.Write(p)
		case agent.FrameExit:
			var e agent.Exit
			if err := json.Unmarshal(p, &e); err != nil {
				res.err = err
			}
			res.status, res.exited = e.Status, true
		default:
			res.err = errors.New("unexpected frame type")
		}
		if t == agent.FrameExit || res.err != nil {
			break
		}
	}
	res.stdout, res.stderr = out.String(), errOut.String()
	if res.exited {
		// The guest ends the stream after FrameExit once the host closes.
		st.Close()
	}
	return res
}

func sendFrame(t *testing.T, w io.Writer, ft agent.FrameType, p []byte) {
	t.Helper()
	if err := agent.WriteFrame(w, ft, p); err != nil {
		t.Fatalf("write frame %d: %v", ft, err)
	}
}

func sendJSON(t *testing.T, w io.Writer, ft agent.FrameType, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	sendFrame(t, w, ft, data)
}

// syncBuffer is a bytes.Buffer for the guest's console warnings.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rawFrame is a frame header claiming n payload bytes, then payload.
func rawFrame(t agent.FrameType, n uint32, payload []byte) []byte {
	b := []byte{byte(t), 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], n)
	return append(b, payload...)
}

// TestAgentRequests: requests that are not valid get a Reply with an Error
// and end their stream only; the session serves the next stream.
func TestAgentRequests(t *testing.T) {
	req := func(q agent.Request) []byte {
		data, _ := json.Marshal(q)
		return rawFrame(agent.FrameRequest, uint32(len(data)), data)
	}
	tests := []struct {
		name    string
		send    []byte
		wantErr string // "" : no Reply at all
	}{
		{"oversized frame", rawFrame(agent.FrameRequest, agent.MaxPayload+1, nil), "larger than the protocol allows"},
		{"huge frame", rawFrame(agent.FrameRequest, 0xffffffff, nil), "larger than the protocol allows"},
		{"garbage JSON", rawFrame(agent.FrameRequest, 5, []byte("{\"op\"")), "decode"},
		{"not a request", rawFrame(agent.FrameStdin, 2, []byte("hi")), "unexpected frame"},
		{"wrong version", req(agent.Request{Version: 2, Op: agent.OpWait}), "protocol version 2"},
		{"unknown op", req(agent.Request{Version: agent.Version, Op: "reboot"}), "unknown op"},
		{"signal 0", req(agent.Request{Version: agent.Version, Op: agent.OpSignal}), "out of range"},
		{"signal 65", req(agent.Request{Version: agent.Version, Op: agent.OpSignal, Signal: 65}), "out of range"},
		{"exec without process", req(agent.Request{Version: agent.Version, Op: agent.OpExec}), "needs a process"},
		{"exec without args", req(execReq(agent.Process{Args: []string{}})), "needs a process"},
		{"truncated header", []byte{1, 0, 0}, ""},
		{"truncated payload", rawFrame(agent.FrameRequest, 100, []byte("{}")), ""},
	}
	g := newTestGuest(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := g.host.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			_ = st.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := st.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			if tc.wantErr == "" {
				// The host ends its half-sent frame: the guest must
				// not answer, and must end the stream.
				st.Close()
				return
			}
			var r agent.Reply
			if err := agent.ReadJSON(st, agent.FrameReply, &r); err != nil {
				t.Fatalf("read reply: %v", err)
			}
			if !strings.Contains(r.Error, tc.wantErr) {
				t.Errorf("reply error %q, want it to contain %q", r.Error, tc.wantErr)
			}
			if _, _, err := agent.ReadFrame(st, nil); !errors.Is(err, io.EOF) {
				t.Errorf("after an error reply: %v, want the end of the stream", err)
			}
		})
	}
	// The session outlived them all.
	_, r := g.open(t, agent.Request{Version: agent.Version, Op: agent.OpSignal, Signal: int(syscall.SIGUSR1)})
	if r.Error != "" {
		t.Errorf("signal after bad streams: %q", r.Error)
	}
}

// TestAgentTooManyStreams: streams beyond maxStreams are refused, the
// others still served.
func TestAgentTooManyStreams(t *testing.T) {
	g := newTestGuest(t)
	var open []net.Conn
	for range maxStreams {
		st, err := g.host.Open()
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, st)
		// The guest takes the stream's slot once it sees the stream.
		if _, err := st.Write(rawFrame(agent.FrameRequest, 10, []byte("{"))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(g.a.slots) < maxStreams && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	st, err := g.host.Open()
	if err != nil {
		t.Fatal(err)
	}
	_ = st.SetDeadline(time.Now().Add(5 * time.Second))
	sendJSON(t, st, agent.FrameRequest, agent.Request{Version: agent.Version, Op: agent.OpWait})
	var r agent.Reply
	if err := agent.ReadJSON(st, agent.FrameReply, &r); err != nil || !strings.Contains(r.Error, "too many") {
		t.Errorf("stream %d: reply %+v, %v; want too many streams", maxStreams+1, r, err)
	}
	for _, s := range open {
		s.Close()
	}
	deadline = time.Now().Add(5 * time.Second)
	for len(g.a.slots) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, r := g.open(t, agent.Request{Version: agent.Version, Op: agent.OpSignal, Signal: 1}); r.Error != "" {
		t.Errorf("after the streams closed: %q", r.Error)
	}
}

// TestAgentSignal: OpSignal queues signals before the application has
// started and sends them once it has; a signal for an application that
// has exited is an error.
func TestAgentSignal(t *testing.T) {
	g := newTestGuest(t)
	for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGUSR2} {
		if _, r := g.open(t, agent.Request{Version: agent.Version, Op: agent.OpSignal, Signal: int(sig)}); r.Error != "" {
			t.Fatalf("signal %d before start: %q", sig, r.Error)
		}
	}
	// The "application" reports USR1 and exits 7 on USR2. The shell runs
	// traps between commands, in signal order.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	attr := &syscall.ProcAttr{Files: []uintptr{0, w.Fd(), 2}}
	script := `trap 'echo usr1' USR1; trap 'echo usr2; exit 7' USR2; echo ready; while :; do sleep 0.05; done`
	pid, done, err := testReaper().start(func() (int, error) {
		return syscall.ForkExec("/bin/sh", []string{"sh", "-c", script}, attr)
	})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 6)
	if _, err := io.ReadFull(r, line); err != nil || string(line) != "ready\n" {
		t.Fatalf("application said %q, %v", line, err)
	}
	g.a.app.forward(testReaper(), pid)
	select {
	case status := <-done:
		if status != 7 {
			t.Errorf("application status %d, want 7", status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the queued signals did not reach the application")
	}
	out, _ := io.ReadAll(r)
	if string(out) != "usr1\nusr2\n" {
		t.Errorf("application output %q, want both signals reported", out)
	}
	_, rep := g.open(t, agent.Request{Version: agent.Version, Op: agent.OpSignal, Signal: int(syscall.SIGTERM)})
	if !strings.Contains(rep.Error, errReaped.Error()) {
		t.Errorf("signal after exit: reply %+v, want %q", rep, errReaped)
	}
}

// TestAgentSignalQueueFull: signals beyond the queue are refused.
func TestAgentSignalQueueFull(t *testing.T) {
	g := newTestGuest(t)
	req := agent.Request{Version: agent.Version, Op: agent.OpSignal, Signal: int(syscall.SIGHUP)}
	for i := range cap(g.a.app.queue) {
		if _, r := g.open(t, req); r.Error != "" {
			t.Fatalf("signal %d: %q", i, r.Error)
		}
	}
	if _, r := g.open(t, req); !strings.Contains(r.Error, errQueueFull.Error()) {
		t.Errorf("reply %+v, want %q", r, errQueueFull)
	}
}

// TestAgentWait: the exit status reaches OpWait streams open before and
// after the exit, and reportExit returns as soon as the host has it.
func TestAgentWait(t *testing.T) {
	tests := []struct {
		name      string
		openFirst bool // the OpWait stream is open before the exit
		status    int
	}{
		{"open before exit", true, 42},
		{"open after exit", false, 137},
		{"zero", true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGuest(t)
			g.a.enabled = true
			g.a.opened(nil)
			var st net.Conn
			if tc.openFirst {
				st, _ = g.open(t, agent.Request{Version: agent.Version, Op: agent.OpWait})
			}
			returned := make(chan time.Time)
			go func() {
				g.a.reportExit(tc.status)
				returned <- time.Now()
			}()
			if !tc.openFirst {
				time.Sleep(100 * time.Millisecond)
				st, _ = g.open(t, agent.Request{Version: agent.Version, Op: agent.OpWait})
			}
			var e agent.Exit
			if err := agent.ReadJSON(st, agent.FrameExit, &e); err != nil {
				t.Fatalf("read exit: %v", err)
			}
			if e.Status != tc.status {
				t.Errorf("status %d, want %d", e.Status, tc.status)
			}
			closed := time.Now()
			st.Close()
			select {
			case at := <-returned:
				if d := at.Sub(closed); d > agent.ExitAckTimeout/2 {
					t.Errorf("reportExit returned %v after the host closed the stream", d)
				}
			case <-time.After(2*agent.ExitAckTimeout + 2*time.Second):
				t.Fatal("reportExit did not return")
			}
		})
	}
}

// TestAgentWaitTimeouts: reportExit does not wait for a host that never
// opens an OpWait stream, nor for one that never acknowledges.
func TestAgentWaitTimeouts(t *testing.T) {
	tests := []struct {
		name    string
		enabled bool
		up      bool
		openWait,
		noAck bool
		min, max time.Duration
	}{
		{"no agent", false, false, false, false, 0, 100 * time.Millisecond},
		{"transport failed", true, false, false, false, 0, 100 * time.Millisecond},
		{"no wait stream", true, true, false, false, 300 * time.Millisecond, time.Second},
		{"no acknowledgement", true, true, true, true, agent.ExitAckTimeout, agent.ExitAckTimeout + time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGuest(t)
			g.a.enabled = tc.enabled
			g.a.waitTimeout = 300 * time.Millisecond
			if tc.enabled {
				g.a.opened(map[bool]error{true: nil, false: errNoPort}[tc.up])
			}
			if tc.openWait {
				st, _ := g.open(t, agent.Request{Version: agent.Version, Op: agent.OpWait})
				defer st.Close() // only after reportExit gave up
			}
			start := time.Now()
			g.a.reportExit(1)
			if d := time.Since(start); d < tc.min || d > tc.max {
				t.Errorf("reportExit took %v, want %v..%v", d, tc.min, tc.max)
			}
		})
	}
}

// TestAgentWaitStreamClosed: a wait stream the host closes before the
// exit is forgotten; a later one gets the status.
func TestAgentWaitStreamClosed(t *testing.T) {
	g := newTestGuest(t)
	g.a.enabled = true
	g.a.opened(nil)
	st, _ := g.open(t, agent.Request{Version: agent.Version, Op: agent.OpWait})
	st.Close()
	deadline := time.Now().Add(5 * time.Second)
	for g.a.waiters.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := g.a.waiters.Load(); n != 0 {
		t.Fatalf("%d wait streams still counted", n)
	}
	go g.a.reportExit(3)
	st, _ = g.open(t, agent.Request{Version: agent.Version, Op: agent.OpWait})
	var e agent.Exit
	if err := agent.ReadJSON(st, agent.FrameExit, &e); err != nil || e.Status != 3 {
		t.Errorf("exit %+v, %v; want status 3", e, err)
	}
}
