package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/urunc-runtime/urunc/internal/agent"
)

// drainIdle: once an exec'd process has exited, urunit sends what is left
// of its output until the output ends or nothing has come for drainIdle. A
// process it started in the background may hold the output open for ever.
const drainIdle = 250 * time.Millisecond

// outputBuffer is how much output one read takes: one frame.
const outputBuffer = 32 << 10

var (
	errRelativeExecCwd = errors.New("exec: cwd is not absolute")
	errStdio           = errors.New("exec: set up stdio")
)

// execProc is a process exec'd beside the application, with urunit's ends
// of its stdio.
type execProc struct {
	pid      int
	done     <-chan int // its exit status, from the reaper
	reaper   *reaper
	terminal bool

	stdin io.WriteCloser // a pipe, or the pty's master
	outs  []output       // what to copy to the stream
	files []*os.File     // urunit's ends, closed by close
}

// output is a file whose bytes go to the host as frames of one type.
type output struct {
	f    *os.File
	kind agent.FrameType
}

// serveExec starts p, then relays its stdio over st until it has exited
// and its output is sent, and ends with its exit status.
func (a *agentServer) serveExec(st net.Conn, p *agent.Process) {
	a.execs.Add(1)
	defer a.execs.Add(-1)
	select {
	case <-a.started:
	case <-a.exited:
		_ = writeReply(st, errNotStarted, 0)
		return
	}
	proc, err := startExec(a.reaper, p)
	if err != nil {
		_ = writeReply(st, err, execFailureStatus(err))
		return
	}
	defer proc.close()
	w := &lockedWriter{w: st}
	if err := writeReply(w, nil, 0); err != nil {
		proc.kill()
		return
	}
	exited := make(chan struct{})
	var copying sync.WaitGroup
	for _, o := range proc.outs {
		copying.Add(1)
		go func() {
			defer copying.Done()
			defer recoverGoroutine("exec output")
			copyOutput(w, o, exited)
		}()
	}
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		defer recoverGoroutine("exec input")
		if err := proc.relayInput(st); err != nil {
			fmt.Fprintf(a.warn, "urunit: exec %d: %v\n", proc.pid, err)
		}
	}()
	var status int
	select {
	case status = <-proc.done:
	case <-gone:
		// The host has gone away, or broke the protocol: nobody is left to
		// take the output or the status.
		proc.kill()
		return
	}
	close(exited)
	for _, o := range proc.outs {
		_ = o.f.SetReadDeadline(time.Now().Add(drainIdle))
	}
	copying.Wait()
	_ = agent.WriteJSON(w, agent.FrameExit, agent.Exit{Status: status})
	// The host closes the stream once it has the status; relayInput ends
	// then, or at this deadline.
	_ = st.SetReadDeadline(time.Now().Add(agent.ExitAckTimeout))
}

// execFailureStatus is the status a shell would report for a process that
// could not be started: 126 or 127, or 0 when the program was not the
// problem.
func execFailureStatus(err error) int {
	if errors.Is(err, errStopped) || errors.Is(err, errRelativeExecCwd) || errors.Is(err, errStdio) {
		return 0
	}
	return startFailureStatus(err)
}

// copyOutput sends what o yields to w until o ends; after exited, also when
// o has been idle for drainIdle (the read deadline serveExec sets, renewed
// after each read). A failed write ends it: the host has gone.
func copyOutput(w io.Writer, o output, exited <-chan struct{}) {
	buf := make([]byte, outputBuffer)
	fw := agent.Writer{W: w, Type: o.kind}
	for {
		n, err := o.f.Read(buf)
		if n > 0 {
			if _, werr := fw.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF; EIO, a pty without a process left; the drain deadline
		}
		select {
		case <-exited:
			_ = o.f.SetReadDeadline(time.Now().Add(drainIdle))
		default:
		}
	}
}

// stdinQueue is how many stdin frames may wait for a process that reads
// its input slowly, while relayInput goes on reading the stream for
// signals, resizes and the host's going away. Beyond it, relayInput waits
// too: then, until the process reads or exits, a host that closes the
// stream is not noticed.
const stdinQueue = 4

// relayInput acts on the host's frames until the stream ends or a frame
// breaks the protocol, which it returns.
func (e *execProc) relayInput(r io.Reader) error {
	stdin := e.startStdin()
	defer func() {
		if stdin != nil {
			close(stdin)
		}
	}()
	buf := make([]byte, agent.MaxPayload)
	for {
		t, p, err := agent.ReadFrame(r, buf)
		if err != nil {
			if isStreamEnd(err) {
				return nil
			}
			return err
		}
		if err := e.handleFrame(t, p, &stdin); err != nil {
			return err
		}
	}
}

// startStdin writes what is sent on the returned channel to the process's
// stdin, and closes stdin (not a terminal's) once the channel is closed.
func (e *execProc) startStdin() chan []byte {
	ch := make(chan []byte, stdinQueue)
	go func() {
		defer recoverGoroutine("exec stdin")
		for p := range ch {
			_, _ = e.stdin.Write(p) // the process may have closed stdin, or exited
		}
		// A terminal's input has no end of its own to close: the
		// process reads on until the terminal goes.
		if !e.terminal {
			_ = e.stdin.Close()
		}
	}()
	return ch
}

// isStreamEnd tells the ways a stream ends that are no protocol error, a
// frame cut short among them: the host went away in the middle of it.
func isStreamEnd(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// handleFrame acts on one frame from the host. stdin is where its input
// goes; nil once the host has ended it.
func (e *execProc) handleFrame(t agent.FrameType, p []byte, stdin *chan []byte) error {
	switch t {
	case agent.FrameStdin:
		if *stdin == nil {
			return fmt.Errorf("%w: stdin after its end", agent.ErrUnexpected)
		}
		*stdin <- append([]byte(nil), p...) // p is the read buffer
	case agent.FrameStdinEOF:
		if *stdin != nil {
			close(*stdin)
			*stdin = nil
		}
	case agent.FrameResize:
		var ws agent.WindowSize
		if !e.terminal {
			return fmt.Errorf("%w: resize without a terminal", agent.ErrUnexpected)
		}
		if err := json.Unmarshal(p, &ws); err != nil {
			return fmt.Errorf("decode window size: %w", err)
		}
		_ = setWinsize(e.outs[0].f, ws)
	case agent.FrameSignal:
		var s agent.Signal
		if err := json.Unmarshal(p, &s); err != nil {
			return fmt.Errorf("decode signal: %w", err)
		}
		if s.Signal < 1 || s.Signal > agent.MaxSignal {
			return fmt.Errorf("%w: signal %d out of range 1..%d", agent.ErrBadRequest, s.Signal, agent.MaxSignal)
		}
		// A terminal's signals go to its process group, as the terminal's
		// own (^C) would.
		_ = e.reaper.signal(e.pid, syscall.Signal(s.Signal), e.terminal)
	default:
		return fmt.Errorf("%w: type %d", agent.ErrUnexpected, t)
	}
	return nil
}

// kill ends the process and its process group (its session: it was
// started with Setsid).
func (e *execProc) kill() {
	_ = e.reaper.signal(e.pid, syscall.SIGKILL, true)
}

func (e *execProc) close() {
	for _, f := range e.files {
		_ = f.Close()
	}
}

// startExec starts p as a child of urunit in a session of its own.
func startExec(r *reaper, p *agent.Process) (*execProc, error) {
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if !filepath.IsAbs(cwd) {
		return nil, fmt.Errorf("%w: %q", errRelativeExecCwd, cwd)
	}
	// As for the application's Config: a process without PATH gets the
	// default one, to look the program up in and to run with.
	env := withDefaultPath(p.Env)
	path, err := lookPath(p.Args[0], cwd, env)
	if err != nil {
		return nil, fmt.Errorf("exec %q: %w", p.Args[0], err)
	}
	e := &execProc{reaper: r, terminal: p.Terminal}
	child, err := e.openStdio(p)
	if err != nil {
		return nil, err
	}
	attr := &syscall.ProcAttr{
		Dir: cwd, Env: env, Files: fds(child),
		Sys: &syscall.SysProcAttr{Setsid: true, Setctty: p.Terminal, Ctty: 0, Credential: credential(p)},
	}
	e.pid, e.done, err = r.start(func() (int, error) { return syscall.ForkExec(path, p.Args, attr) })
	for _, f := range child {
		_ = f.Close()
	}
	if err != nil {
		e.close()
		return nil, fmt.Errorf("exec %q: %w", path, err)
	}
	return e, nil
}

// openStdio creates the process's stdin, stdout and stderr: one pty for a
// terminal, three pipes otherwise. It keeps urunit's ends and returns the
// child's.
func (e *execProc) openStdio(p *agent.Process) ([]*os.File, error) {
	if p.Terminal {
		master, slave, err := openPty(p.Size)
		if err != nil {
			return nil, fmt.Errorf("%w: open a terminal: %w", errStdio, err)
		}
		e.stdin, e.outs, e.files = master, []output{{master, agent.FrameStdout}}, []*os.File{master}
		return []*os.File{slave, slave, slave}, nil
	}
	var child, ours [3]*os.File
	for i := range child {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(child[:i])
			closeAll(ours[:i])
			return nil, fmt.Errorf("%w: create pipes: %w", errStdio, err)
		}
		if i == 0 {
			child[i], ours[i] = r, w
		} else {
			child[i], ours[i] = w, r
		}
	}
	e.stdin = ours[0]
	e.outs = []output{{ours[1], agent.FrameStdout}, {ours[2], agent.FrameStderr}}
	e.files = ours[:]
	return child[:], nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// fds turns the child's files into ProcAttr.Files. Fd puts each in
// blocking mode, as a child's stdio should be.
func fds(files []*os.File) []uintptr {
	out := make([]uintptr, len(files))
	for i, f := range files {
		out[i] = f.Fd()
	}
	return out
}

// credential is the identity p runs as. A urunit that is not root (the
// unit tests) cannot drop supplementary groups, and has none to drop that
// matter; setgroups would fail there.
func credential(p *agent.Process) *syscall.Credential {
	groups := p.AdditionalGids
	if groups == nil {
		groups = []uint32{}
	}
	return &syscall.Credential{Uid: p.UID, Gid: p.GID, Groups: groups, NoSetGroups: os.Geteuid() != 0}
}
