package control

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/urunc-runtime/urunc/internal/agent"
)

// FuzzReadOutput feeds what a hostile guest could send after its reply:
// the reader must return (an error or a status in 0..255), never panic or
// buffer more than a frame.
func FuzzReadOutput(f *testing.F) {
	var seed bytes.Buffer
	_ = agent.WriteFrame(&seed, agent.FrameStdout, []byte("hi\n"))
	_ = agent.WriteJSON(&seed, agent.FrameExit, agent.Exit{Status: 3})
	f.Add(seed.Bytes())
	f.Add([]byte{byte(agent.FrameExit), 0, 0, 0, 2, '{', '}'})
	f.Add([]byte{byte(agent.FrameStderr), 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		go func() { _, _ = b.Write(data); b.Close() }()
		status, err := readOutput(a, io.Discard, io.Discard)
		if err == nil && (status < 0 || status > 255) {
			t.Fatalf("status %d without an error", status)
		}
		a.Close()
	})
}
