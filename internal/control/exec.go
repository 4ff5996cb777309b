package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/urunc-runtime/urunc/internal/agent"
)

// ExecIO connects an exec'd guest process to the host side.
type ExecIO struct {
	Stdin          io.Reader // nil: stdin is closed at once
	Stdout, Stderr io.Writer // a terminal's output all goes to Stdout
	Resize         <-chan agent.WindowSize
	Signals        <-chan syscall.Signal
}

// connectTimeout bounds connecting to the supervisor and urunit's answer
// to the exec request.
const connectTimeout = 30 * time.Second

// stdinChunk is how much of stdin goes in one frame.
const stdinChunk = 32 << 10

// Exec runs p in the guest behind the control socket and returns its exit
// status once it has exited and all its output is written. A program that
// cannot start is a *GuestError whose Status is 126 or 127.
func Exec(socketPath string, p agent.Process, pio ExecIO) (int, error) {
	conn, err := Dial(socketPath, time.Now().Add(connectTimeout))
	if err != nil {
		return -1, fmt.Errorf("exec: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(connectTimeout)); err != nil {
		return -1, err
	}
	if err := request(conn, agent.Request{Version: agent.Version, Op: agent.OpExec, Process: &p}); err != nil {
		var ge *GuestError
		if errors.As(err, &ge) {
			return -1, err // urunit's message names the program
		}
		return -1, fmt.Errorf("exec %q: %w", p.Args[0], err)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return -1, err
	}
	w := &frameWriter{w: conn}
	go w.pumpStdin(pio.Stdin)
	go w.pumpEvents(pio.Resize, pio.Signals)
	return readOutput(conn, pio.Stdout, pio.Stderr)
}

// readOutput writes the process's output until its FrameExit.
func readOutput(conn net.Conn, stdout, stderr io.Writer) (int, error) {
	buf := make([]byte, agent.MaxPayload)
	for {
		t, payload, err := agent.ReadFrame(conn, buf)
		if err != nil {
			if gone(err) {
				return -1, fmt.Errorf("exec: %w", ErrNoGuest)
			}
			return -1, fmt.Errorf("exec: %w", err)
		}
		switch t {
		case agent.FrameStdout:
			_, err = stdout.Write(payload)
		case agent.FrameStderr:
			_, err = stderr.Write(payload)
		case agent.FrameExit:
			var e agent.Exit
			if err := json.Unmarshal(payload, &e); err != nil || e.Status < 0 || e.Status > 255 {
				return -1, fmt.Errorf("exec: %w: bad exit frame", agent.ErrUnexpected)
			}
			return e.Status, nil
		default:
			return -1, fmt.Errorf("exec: %w: type %d", agent.ErrUnexpected, t)
		}
		if err != nil && !errors.Is(err, syscall.EPIPE) {
			return -1, fmt.Errorf("exec: write output: %w", err)
		}
	}
}

// frameWriter serialises the frames the host's goroutines send.
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (f *frameWriter) frame(t agent.FrameType, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return agent.WriteFrame(f.w, t, p)
}

func (f *frameWriter) json(t agent.FrameType, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return f.frame(t, data)
}

// pumpStdin sends in as FrameStdin frames, then FrameStdinEOF.
func (f *frameWriter) pumpStdin(in io.Reader) {
	if in != nil {
		buf := make([]byte, stdinChunk)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				if f.frame(agent.FrameStdin, buf[:n]) != nil {
					return
				}
			}
			if err != nil {
				break
			}
		}
	}
	_ = f.frame(agent.FrameStdinEOF, nil)
}

// pumpEvents sends window sizes and signals as they come.
func (f *frameWriter) pumpEvents(resize <-chan agent.WindowSize, sigs <-chan syscall.Signal) {
	for resize != nil || sigs != nil {
		var err error
		select {
		case ws, ok := <-resize:
			if !ok {
				resize = nil
				continue
			}
			err = f.json(agent.FrameResize, ws)
		case s, ok := <-sigs:
			if !ok {
				sigs = nil
				continue
			}
			err = f.json(agent.FrameSignal, agent.Signal{Signal: int(s)})
		}
		if err != nil {
			return
		}
	}
}
