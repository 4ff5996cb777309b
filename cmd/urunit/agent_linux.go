package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urunc-runtime/urunc/internal/agent"
)

const (
	// maxStreams bounds the streams urunit serves at once. Each holds a
	// goroutine and buffers; the host is untrusted, and urunit running out
	// of memory would end the VM.
	maxStreams = 64

	// waitStreamTimeout is how long urunit, once the application has
	// exited, waits for the host's OpWait stream when none is open.
	waitStreamTimeout = 10 * time.Second

	// execFlushTimeout bounds how long urunit, once the application has
	// exited and the rest been killed, waits for exec sessions to send
	// their last output and FrameExit.
	execFlushTimeout = time.Second
)

var (
	errTooManyStreams = errors.New("too many streams open")
	errNotStarted     = errors.New("the application did not start")
)

// agentServer is urunit's end of the agent channel (internal/agent): it
// serves the streams the host opens over whichever transport the kernel
// command line names.
type agentServer struct {
	reaper *reaper
	app    *appSignals
	warn   io.Writer // the console

	// enabled: the command line asks for an agent channel. up is closed
	// once its transport is open, down if it could not be opened.
	enabled  bool
	up, down chan struct{}

	// started is closed once the application runs; exec waits for it,
	// since until then the guest's root may not be the application's.
	// exited is closed once status holds the application's exit status
	// (or urunit's own, when the application never ran).
	started  chan struct{}
	exited   chan struct{}
	exitOnce sync.Once
	status   int

	slots chan struct{} // one per stream served; see maxStreams
	// execs counts exec sessions not yet ended. (Not a WaitGroup: a
	// session may begin while reportExit waits.)
	execs atomic.Int32

	waiters   atomic.Int32  // open OpWait streams
	delivered chan struct{} // an OpWait stream passed on the exit status
	// waitTimeout is waitStreamTimeout; the tests shorten it.
	waitTimeout time.Duration
}

func newAgentServer(r *reaper, app *appSignals, warn io.Writer) *agentServer {
	return &agentServer{
		reaper: r, app: app, warn: warn,
		up: make(chan struct{}), down: make(chan struct{}),
		started: make(chan struct{}), exited: make(chan struct{}),
		slots:       make(chan struct{}, maxStreams),
		delivered:   make(chan struct{}, 1),
		waitTimeout: waitStreamTimeout,
	}
}

// appStarted says the application runs: exec requests may go ahead.
func (a *agentServer) appStarted() {
	close(a.started)
}

// serveSession serves the streams of one session until it ends.
func (a *agentServer) serveSession(sess interface{ Accept() (net.Conn, error) }) {
	for {
		st, err := sess.Accept()
		if err != nil {
			return
		}
		go a.serveStream(st)
	}
}

// serveStream answers the Request that opens st and carries out its op.
// Whatever the host sends, only this stream ends.
func (a *agentServer) serveStream(st net.Conn) {
	defer st.Close()
	defer recoverGoroutine("agent stream")
	select {
	case a.slots <- struct{}{}:
		defer func() { <-a.slots }()
	default:
		_ = writeReply(st, errTooManyStreams, 0)
		return
	}
	var req agent.Request
	if err := agent.ReadJSON(st, agent.FrameRequest, &req); err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			_ = writeReply(st, fmt.Errorf("read request: %w", err), 0)
		}
		return
	}
	if err := req.Check(); err != nil {
		_ = writeReply(st, err, 0)
		return
	}
	switch req.Op {
	case agent.OpWait:
		a.serveWait(st)
	case agent.OpSignal:
		_ = writeReply(st, a.app.send(syscall.Signal(req.Signal)), 0)
	case agent.OpExec:
		a.serveExec(st, req.Process)
	}
}

// serveWait holds an OpWait stream until the application has exited, sends
// the exit status and waits for the host to close the stream, which says it
// has the status.
func (a *agentServer) serveWait(st net.Conn) {
	if err := writeReply(st, nil, 0); err != nil {
		return
	}
	a.waiters.Add(1)
	defer a.waiters.Add(-1)
	closed := make(chan struct{})
	go func() {
		defer recoverGoroutine("agent wait stream")
		defer close(closed)
		// The host sends nothing more: any frame, or the end of the
		// stream, ends it.
		var buf [64]byte
		_, _, _ = agent.ReadFrame(st, buf[:])
	}()
	// An exit already known goes out even if the host has sent more.
	select {
	case <-a.exited:
	default:
		select {
		case <-closed:
			return
		case <-a.exited:
		}
	}
	_ = st.SetWriteDeadline(time.Now().Add(agent.ExitAckTimeout))
	if err := agent.WriteJSON(st, agent.FrameExit, agent.Exit{Status: a.status}); err != nil {
		return
	}
	select {
	case <-closed:
	case <-time.After(agent.ExitAckTimeout):
	}
	select {
	case a.delivered <- struct{}{}:
	default:
	}
}

// reportExit hands status to the host's OpWait stream, if the guest has an
// agent channel, and returns once the host has taken it or when waiting
// longer makes no sense. The VM ends after it.
func (a *agentServer) reportExit(status int) {
	a.exitOnce.Do(func() {
		a.status = status
		close(a.exited)
	})
	if !a.enabled {
		return
	}
	for flush := time.Now().Add(execFlushTimeout); a.execs.Load() > 0 && time.Now().Before(flush); {
		time.Sleep(5 * time.Millisecond)
	}
	timer := time.NewTimer(a.waitTimeout)
	defer timer.Stop()
	select {
	case <-a.up:
	case <-a.down:
		return
	case <-timer.C:
		return
	}
	for extended := false; ; {
		select {
		case <-a.delivered:
			return
		case <-timer.C:
			// A stream that is passing the status on gets its ack time
			// once, even past the wait for a stream to arrive.
			if extended || a.waiters.Load() == 0 {
				return
			}
			extended = true
			timer.Reset(2*agent.ExitAckTimeout + time.Second)
		}
	}
}

// writeReply answers a Request: err (nil for success) and, for a program
// that could not be started, the status a shell would report.
func writeReply(w io.Writer, err error, status int) error {
	r := agent.Reply{Version: agent.Version, Status: status}
	if err != nil {
		r.Error = err.Error()
	}
	return agent.WriteJSON(w, agent.FrameReply, r)
}

// lockedWriter makes each Write, one whole frame, atomic among the
// goroutines that share a stream.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// internalErrors counts the panics recoverGoroutine caught; the tests
// check that there were none.
var internalErrors atomic.Int64

// recoverGoroutine, deferred at the top of every goroutine urunit starts,
// turns a panic into a line on the console: a panic that reaches the top
// of any goroutine ends the process, and PID 1 exiting panics the kernel
// (and loses the application's exit status).
func recoverGoroutine(what string) {
	if r := recover(); r != nil {
		internalErrors.Add(1)
		fmt.Fprintf(os.Stderr, "urunit: internal error in %s: %v\n", what, r)
	}
}
