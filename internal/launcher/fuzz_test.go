package launcher

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"runtime"
	"testing"

	"github.com/urunc-runtime/urunc/internal/agent"
	"github.com/urunc-runtime/urunc/internal/urunit"
)

// frame is one agent frame as the guest writes it.
func frame(t agent.FrameType, payload string) []byte {
	var b bytes.Buffer
	if err := agent.WriteFrame(&b, t, []byte(payload)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// wholeFrame returns the payload of the frame data starts with, or ok
// false when data does not start with a whole frame of type want within
// MaxPayload: what a reader of one frame must take as malformed.
func wholeFrame(data []byte, want agent.FrameType) (payload []byte, ok bool) {
	if len(data) < 5 || agent.FrameType(data[0]) != want {
		return nil, false
	}
	n := binary.BigEndian.Uint32(data[1:5])
	if n > agent.MaxPayload || uint64(len(data)-5) < uint64(n) {
		return nil, false
	}
	return data[5 : 5+n], true
}

// allocBound is what reading one frame may allocate: the payload (at most
// MaxPayload), the string JSON decodes from it and the error quoting it,
// and some slack. A length field the guest sets to 4 GiB must not count.
const allocBound = 4 * agent.MaxPayload

// guestRead runs read on data as the guest's side of the channel and
// checks that it read at most one frame and allocated within allocBound.
// It returns the bytes read and read's error.
func guestRead(t *testing.T, data []byte, read func(io.Reader) error) (int, error) {
	t.Helper()
	r := bytes.NewReader(data)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := read(r)
	runtime.ReadMemStats(&after)
	if a := after.TotalAlloc - before.TotalAlloc; a > allocBound {
		t.Fatalf("reading %d bytes of the guest's allocated %d bytes, over %d", len(data), a, allocBound)
	}
	n := len(data) - r.Len()
	if n > 5+agent.MaxPayload {
		t.Fatalf("read %d bytes, over one frame", n)
	}
	return n, err
}

// FuzzGuestFrames: the supervisor reads three frames from urunit, which
// runs in the guest and is not trusted: FrameStarted after the orders
// (sendOrders), FrameReply to OpWait (waitReply) and FrameExit (readExit).
// Whatever the guest sends, each reads one frame at most, within bounds,
// takes only a well-formed one, and a status only within 0..255.
func FuzzGuestFrames(f *testing.F) {
	ok := `{"version":1}`
	f.Add(frame(agent.FrameStarted, ok), frame(agent.FrameReply, ok), frame(agent.FrameExit, `{"status":0}`))
	f.Add(frame(agent.FrameStarted, `{"version":1,"error":"no such user"}`), frame(agent.FrameReply, `{"error":"busy"}`),
		frame(agent.FrameExit, `{"status":256}`))
	// Wrong types, an over-long length field, a cut payload.
	f.Add(frame(agent.FrameReply, ok), []byte{byte(agent.FrameReply), 0xff, 0xff, 0xff, 0xff},
		frame(agent.FrameExit, `{"status":255}`)[:8])
	// Frames followed by session bytes, which must stay unread; odd JSON.
	f.Add(append(frame(agent.FrameStarted, ok), 0, 0, 0, 1), frame(agent.FrameReply, `null`),
		frame(agent.FrameExit, `{"status":-1,"status":3}`))
	f.Add([]byte{}, frame(agent.FrameReply, ``), frame(agent.FrameExit, `{"status":1e2}`))
	f.Fuzz(func(t *testing.T, started, reply, exit []byte) {
		var rep agent.Reply
		n, err := guestRead(t, started, func(r io.Reader) error {
			return sendOrders(struct {
				io.Reader
				io.Writer
			}{r, io.Discard}, urunit.Orders{})
		})
		p, whole := wholeFrame(started, agent.FrameStarted)
		checkRead(t, "FrameStarted", err, n, p, whole && json.Unmarshal(p, &rep) == nil && rep.Error == "")

		rep = agent.Reply{}
		n, err = guestRead(t, reply, waitReply)
		p, whole = wholeFrame(reply, agent.FrameReply)
		checkRead(t, "FrameReply", err, n, p, whole && json.Unmarshal(p, &rep) == nil && rep.Error == "")

		var e agent.Exit
		var status int
		n, err = guestRead(t, exit, func(r io.Reader) (err error) {
			status, err = readExit(r)
			return err
		})
		p, whole = wholeFrame(exit, agent.FrameExit)
		checkRead(t, "FrameExit", err, n, p, whole && json.Unmarshal(p, &e) == nil && e.Status >= 0 && e.Status <= 255)
		if err == nil && (status != e.Status || status < 0 || status > 255) {
			t.Fatalf("readExit = %d from %q", status, p)
		}
	})
}

// checkRead fails t unless a read of one frame failed exactly when want
// says the frame is not acceptable, and, when it succeeded, read the frame
// with payload p and nothing after it.
func checkRead(t *testing.T, what string, err error, n int, p []byte, want bool) {
	t.Helper()
	switch {
	case err == nil && !want:
		t.Fatalf("%s %q accepted", what, p)
	case err != nil && want:
		t.Fatalf("%s %q refused: %v", what, p, err)
	case err == nil && n != 5+len(p):
		t.Fatalf("%s: read %d bytes, the frame has %d", what, n, 5+len(p))
	}
}
