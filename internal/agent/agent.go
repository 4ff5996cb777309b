// Package agent is the protocol between urunc on the host and urunit, the
// init of Linux guests: the guest application's exit status, signals to
// it, and processes exec'd beside it.
//
// # Transport
//
// One byte stream joins the host to the guest: a virtio-serial port named
// PortName on QEMU, the guest's vsock port VsockPort on Firecracker and
// Cloud Hypervisor (reached from the host through their hybrid vsock
// socket). yamux multiplexes streams over it (Session): the host opens
// every stream, urunit accepts them and never writes to the channel before
// the host has. The host end is the supervisor, the container's pid 1
// (internal/launcher); host tools reach the guest by connecting to the
// supervisor's UNIX socket, which it splices to a new stream, so a
// connection to that socket is a stream.
//
// # Streams
//
// A stream carries frames (WriteFrame): one type byte, a big-endian uint32
// length and at most MaxPayload bytes of payload. The host's first frame is
// a FrameRequest holding a JSON Request; urunit answers with a FrameReply
// holding a JSON Reply. A Reply with an Error ends the stream. Then, by
// Request.Op:
//
//   - OpWait: nothing until the application exits; then urunit sends a
//     FrameExit (JSON Exit) and waits, up to ExitAckTimeout, for the host
//     to close the stream before it ends the VM. Only the supervisor
//     opens it, first.
//   - OpSignal: urunit passes Request.Signal to the application; the
//     Reply says it was sent.
//   - OpExec: urunit starts Request.Process. The host sends FrameStdin,
//     FrameStdinEOF, FrameResize (JSON WindowSize) and FrameSignal (JSON
//     Signal); urunit sends FrameStdout, FrameStderr (a terminal's output
//     is all FrameStdout) and, once the process has exited and its output
//     is sent, a FrameExit. A host that closes the stream before the
//     FrameExit has gone away: urunit kills the process.
//
// Exit statuses are a shell's: 0-255 for an exit, 128+n for signal n, 126
// for a program that cannot be executed, 127 for one not found.
//
// Every peer is untrusted: frames over MaxPayload, unknown frame types
// where a stream does not expect them and JSON that does not decode are
// errors that end the stream, never the session.
package agent

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/yamux"
)

// Version is the protocol version a Request carries. urunit refuses a
// Request of another version with a Reply naming both.
const Version = 1

// PortName is the name of the virtio-serial port on QEMU; the guest finds
// it under /sys/class/virtio-ports/*/name.
const PortName = "urunc.agent"

// VsockPort is the guest's vsock port on Firecracker and Cloud Hypervisor.
const VsockPort = 1024

// MaxPayload bounds a frame's payload: what a peer may make the other
// buffer at once.
const MaxPayload = 64 << 10

// ExitAckTimeout is how long urunit waits for the host to take the exit
// status before it ends the VM anyway.
const ExitAckTimeout = 2 * time.Second

// FrameType says what a frame's payload is.
type FrameType uint8

// Frame types; the direction is host→guest (h) or guest→host (g).
const (
	FrameRequest  FrameType = 1 // h: JSON Request, the stream's first frame
	FrameReply    FrameType = 2 // g: JSON Reply, the answer to the Request
	FrameStdin    FrameType = 3 // h: bytes for the process's stdin
	FrameStdinEOF FrameType = 4 // h: no payload, stdin is closed
	FrameStdout   FrameType = 5 // g: bytes the process wrote to stdout
	FrameStderr   FrameType = 6 // g: bytes the process wrote to stderr
	FrameResize   FrameType = 7 // h: JSON WindowSize of the process's terminal
	FrameSignal   FrameType = 8 // h: JSON Signal for the exec'd process
	FrameExit     FrameType = 9 // g: JSON Exit, the stream's last frame
)

// Ops a Request asks for.
const (
	OpWait   = "wait"
	OpSignal = "signal"
	OpExec   = "exec"
)

// MaxSignal is the highest signal number (SIGRTMAX on Linux).
const MaxSignal = 64

// Request is the host's first frame on a stream.
type Request struct {
	Version int      `json:"version"`
	Op      string   `json:"op"`
	Signal  int      `json:"signal,omitempty"`  // OpSignal
	Process *Process `json:"process,omitempty"` // OpExec
}

// Process is a process to exec in the guest, as an OCI process says it.
type Process struct {
	Args           []string    `json:"args"`
	Env            []string    `json:"env,omitempty"`
	Cwd            string      `json:"cwd,omitempty"`
	UID            uint32      `json:"uid"`
	GID            uint32      `json:"gid"`
	AdditionalGids []uint32    `json:"additionalGids,omitempty"`
	Terminal       bool        `json:"terminal,omitempty"`
	Size           *WindowSize `json:"size,omitempty"` // the terminal's first size
}

// WindowSize is a terminal's size in characters.
type WindowSize struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// Signal is a FrameSignal's payload.
type Signal struct {
	Signal int `json:"signal"`
}

// Reply is urunit's answer to a Request. Status is the exit status a
// shell would report when the Request failed because the program could
// not be started (126, 127), 0 otherwise.
type Reply struct {
	Version int    `json:"version"`
	Error   string `json:"error,omitempty"`
	Status  int    `json:"status,omitempty"`
}

// Exit is a FrameExit's payload.
type Exit struct {
	Status int `json:"status"`
}

// Errors a reader of frames returns.
var (
	ErrFrameTooLarge = errors.New("agent: frame larger than the protocol allows")
	ErrUnexpected    = errors.New("agent: unexpected frame")
	ErrBadRequest    = errors.New("agent: bad request")
)

// WriteFrame writes one frame. A payload over MaxPayload is an error:
// callers split data (Writer does).
func WriteFrame(w io.Writer, t FrameType, payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, len(payload))
	}
	buf := make([]byte, 5+len(payload))
	buf[0] = byte(t)
	binary.BigEndian.PutUint32(buf[1:5], uint32(len(payload)))
	copy(buf[5:], payload)
	_, err := w.Write(buf)
	return err
}

// WriteJSON writes v as the payload of a frame of type t.
func WriteJSON(w io.Writer, t FrameType, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("agent: encode frame %d: %w", t, err)
	}
	return WriteFrame(w, t, data)
}

// ReadFrame reads one frame. The payload is read into buf when it fits
// (buf of MaxPayload bytes always does), so that a peer cannot make the
// reader allocate more than the protocol allows.
func ReadFrame(r io.Reader, buf []byte) (FrameType, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:5])
	if n > MaxPayload {
		return 0, nil, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, n)
	}
	if int(n) > len(buf) {
		buf = make([]byte, n)
	}
	p := buf[:n]
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return FrameType(hdr[0]), p, nil
}

// ReadJSON reads one frame, which must be of type want, into v.
func ReadJSON(r io.Reader, want FrameType, v any) error {
	t, p, err := ReadFrame(r, nil)
	if err != nil {
		return err
	}
	if t != want {
		return fmt.Errorf("%w: type %d, want %d", ErrUnexpected, t, want)
	}
	if err := json.Unmarshal(p, v); err != nil {
		return fmt.Errorf("agent: decode frame %d: %w", t, err)
	}
	return nil
}

// Check validates a Request as urunit does before it acts on it.
func (q *Request) Check() error {
	if q.Version != Version {
		return fmt.Errorf("%w: protocol version %d, this guest speaks %d", ErrBadRequest, q.Version, Version)
	}
	switch q.Op {
	case OpWait:
	case OpSignal:
		if q.Signal < 1 || q.Signal > MaxSignal {
			return fmt.Errorf("%w: signal %d out of range 1..%d", ErrBadRequest, q.Signal, MaxSignal)
		}
	case OpExec:
		if q.Process == nil || len(q.Process.Args) == 0 || q.Process.Args[0] == "" {
			return fmt.Errorf("%w: exec needs a process with args", ErrBadRequest)
		}
	default:
		return fmt.Errorf("%w: unknown op %q", ErrBadRequest, q.Op)
	}
	return nil
}

// Writer sends what is written to it as frames of one type, split at
// MaxPayload; it makes a stream's stdout or stderr an io.Writer.
type Writer struct {
	W    io.Writer
	Type FrameType
}

func (w Writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), MaxPayload)
		if err := WriteFrame(w.W, w.Type, p[:c]); err != nil {
			return n, err
		}
		n += c
		p = p[c:]
	}
	return n, nil
}

// sessionConfig is yamux's configuration for both ends. No keep-alives: a
// guest under emulation can be slow to answer, and the session ends with
// the VM anyway. No open timeout: the host opens its first stream before
// the guest has booted. Nothing logs: the supervisor's stderr is the
// container's.
func sessionConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.EnableKeepAlive = false
	c.StreamOpenTimeout = 0
	c.ConnectionWriteTimeout = time.Minute
	c.LogOutput = io.Discard
	return c
}

// Client starts the host end of a session on conn.
func Client(conn io.ReadWriteCloser) (*yamux.Session, error) {
	return yamux.Client(conn, sessionConfig())
}

// Server starts the guest end of a session on conn.
func Server(conn io.ReadWriteCloser) (*yamux.Session, error) {
	return yamux.Server(conn, sessionConfig())
}
