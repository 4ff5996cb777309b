package main

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/agent"
	"github.com/urunc-runtime/urunc/internal/urunit"
)

// portPair stands in for the virtio-serial port: urunit's end as a file,
// the host's as another.
func portPair(t *testing.T) (guest, host *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	guest, host = os.NewFile(uintptr(fds[0]), "port"), os.NewFile(uintptr(fds[1]), "host")
	t.Cleanup(func() { guest.Close(); host.Close() })
	return guest, host
}

// A template's builder says hello and is answered ready; the orders that
// come later are read whole, across frames.
func TestAwaitOrders(t *testing.T) {
	g, h := portPair(t)
	want := urunit.Orders{Config: urunit.Config{Args: []string{"/app", strings.Repeat("x", 3*agent.MaxPayload)}}, MAC: "02:00:00:00:00:09"}
	go func() {
		agent.WriteFrame(h, agent.FrameHello, nil)
		if typ, _, err := agent.ReadFrame(h, nil); err != nil || typ != agent.FrameReady {
			t.Errorf("hello answered with frame %d, %v", typ, err)
		}
		agent.WriteOrders(h, want)
	}()
	conn, got, err := awaitOrders(g)
	if err != nil {
		t.Fatal(err)
	}
	if conn == nil || got.MAC != want.MAC || len(got.Config.Args) != 2 || got.Config.Args[1] != want.Config.Args[1] {
		t.Errorf("orders: MAC %q, %d args", got.MAC, len(got.Config.Args))
	}
}

func TestAwaitOrdersRefuses(t *testing.T) {
	for name, send := range map[string]func(h *os.File){
		"another frame": func(h *os.File) { agent.WriteFrame(h, agent.FrameRequest, []byte("{}")) },
		"unknown field": func(h *os.File) {
			agent.WriteFrame(h, agent.FrameOrders, []byte(`{"evil":1}`))
			agent.WriteFrame(h, agent.FrameOrders, nil)
		},
		"frame too long": func(h *os.File) { h.Write([]byte{byte(agent.FrameOrders), 0xff, 0xff, 0xff, 0xff}) },
	} {
		t.Run(name, func(t *testing.T) {
			g, h := portPair(t)
			go send(h)
			if _, _, err := awaitOrders(g); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestReseedBounds(t *testing.T) {
	for _, n := range []int{0, 31, urunit.MaxSeed + 1} {
		if err := reseed(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "seed") {
			t.Errorf("seed of %d bytes: %v", n, err)
		}
	}
}
