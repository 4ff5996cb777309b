package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urunc-runtime/urunc/internal/agent"
)

// fakeGuest listens on a socket in a temporary folder and serves each
// connection with serve, as the supervisor's splice to urunit would.
func fakeGuest(t *testing.T, serve func(t *testing.T, c net.Conn)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "control.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(t, c)
			}()
		}
	}()
	return path
}

// readRequest reads the host's request, failing the test on a bad one.
func readRequest(t *testing.T, c net.Conn) agent.Request {
	var q agent.Request
	if err := agent.ReadJSON(c, agent.FrameRequest, &q); err != nil {
		t.Errorf("read request: %v", err)
	}
	if err := q.Check(); err != nil {
		t.Errorf("request: %v", err)
	}
	return q
}

func ok(c net.Conn) { _ = agent.WriteJSON(c, agent.FrameReply, agent.Reply{Version: agent.Version}) }

func exit(c net.Conn, status int) {
	_ = agent.WriteJSON(c, agent.FrameExit, agent.Exit{Status: status})
}

func TestExec(t *testing.T) {
	cases := []struct {
		name       string
		guest      func(t *testing.T, c net.Conn)
		stdin      string
		wantStatus int
		wantOut    string
		wantErr    string
		wantErrOut string
	}{
		{"output and status", func(t *testing.T, c net.Conn) {
			q := readRequest(t, c)
			ok(c)
			_ = agent.WriteFrame(c, agent.FrameStdout, []byte(strings.Join(q.Process.Args, " ")+"\n"))
			_ = agent.WriteFrame(c, agent.FrameStderr, []byte("warn\n"))
			exit(c, 42)
		}, "", 42, "echo hi\n", "", "warn\n"},
		{"stdin reaches the guest, then its end", func(t *testing.T, c net.Conn) {
			readRequest(t, c)
			ok(c)
			var in bytes.Buffer
			for {
				ft, p, err := agent.ReadFrame(c, nil)
				if err != nil {
					t.Errorf("read stdin: %v", err)
					return
				}
				if ft == agent.FrameStdinEOF {
					break
				}
				in.Write(p)
			}
			_ = agent.WriteFrame(c, agent.FrameStdout, in.Bytes())
			exit(c, 0)
		}, "some input", 0, "some input", "", ""},
		{"program not found", func(t *testing.T, c net.Conn) {
			readRequest(t, c)
			_ = agent.WriteJSON(c, agent.FrameReply, agent.Reply{Version: agent.Version, Error: "nope: not found", Status: 127})
		}, "", -1, "", "guest: nope: not found", ""},
		{"the guest goes away", func(t *testing.T, c net.Conn) {
			readRequest(t, c)
			ok(c)
		}, "", -1, "", ErrNoGuest.Error(), ""},
		{"an unknown frame ends the session", func(t *testing.T, c net.Conn) {
			readRequest(t, c)
			ok(c)
			_ = agent.WriteFrame(c, agent.FrameRequest, []byte("{}"))
		}, "", -1, "", "unexpected frame", ""},
		{"an oversized frame is refused unread", func(t *testing.T, c net.Conn) {
			readRequest(t, c)
			ok(c)
			_, _ = c.Write([]byte{byte(agent.FrameStdout), 0xff, 0xff, 0xff, 0xff})
		}, "", -1, "", "larger than the protocol allows", ""},
		{"an exit status out of range", func(t *testing.T, c net.Conn) {
			readRequest(t, c)
			ok(c)
			exit(c, 256)
		}, "", -1, "", "bad exit frame", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sock := fakeGuest(t, tc.guest)
			var out, errOut bytes.Buffer
			status, err := Exec(sock, agent.Process{Args: []string{"echo", "hi"}},
				ExecIO{Stdin: strings.NewReader(tc.stdin), Stdout: &out, Stderr: &errOut})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Exec = %d, %v; want an error with %q", status, err, tc.wantErr)
				}
				return
			}
			if err != nil || status != tc.wantStatus {
				t.Fatalf("Exec = %d, %v; want %d", status, err, tc.wantStatus)
			}
			if out.String() != tc.wantOut || errOut.String() != tc.wantErrOut {
				t.Errorf("stdout %q stderr %q; want %q and %q", out.String(), errOut.String(), tc.wantOut, tc.wantErrOut)
			}
		})
	}
}

// A refusal carries the shell's status for a program that cannot start.
func TestExecRefusalStatus(t *testing.T) {
	sock := fakeGuest(t, func(t *testing.T, c net.Conn) {
		readRequest(t, c)
		_ = agent.WriteJSON(c, agent.FrameReply, agent.Reply{Version: agent.Version, Error: "x: permission denied", Status: 126})
	})
	_, err := Exec(sock, agent.Process{Args: []string{"x"}}, ExecIO{Stdout: io.Discard, Stderr: io.Discard})
	var ge *GuestError
	if !errors.As(err, &ge) || ge.Status != 126 {
		t.Fatalf("Exec error %v; want a GuestError with status 126", err)
	}
}

// Window sizes and signals reach the guest as frames, in order.
func TestExecEvents(t *testing.T) {
	got := make(chan string, 4)
	sock := fakeGuest(t, func(t *testing.T, c net.Conn) {
		readRequest(t, c)
		ok(c)
		for n := 0; n < 3; {
			ft, p, err := agent.ReadFrame(c, nil)
			if err != nil {
				return
			}
			switch ft {
			case agent.FrameResize:
				var ws agent.WindowSize
				_ = json.Unmarshal(p, &ws)
				got <- "resize"
				n++
			case agent.FrameSignal:
				var s agent.Signal
				_ = json.Unmarshal(p, &s)
				if s.Signal == int(syscall.SIGTERM) {
					got <- "TERM"
				}
				n++
			case agent.FrameStdinEOF:
				got <- "eof"
				n++
			}
		}
		exit(c, 143)
	})
	resize := make(chan agent.WindowSize, 1)
	sigs := make(chan syscall.Signal, 1)
	resize <- agent.WindowSize{Rows: 24, Cols: 80}
	sigs <- syscall.SIGTERM
	done := make(chan struct{})
	var status int
	var err error
	go func() {
		status, err = Exec(sock, agent.Process{Args: []string{"sh"}, Terminal: true},
			ExecIO{Stdout: io.Discard, Stderr: io.Discard, Resize: resize, Signals: sigs})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Exec did not return")
	}
	if err != nil || status != 143 {
		t.Fatalf("Exec = %d, %v; want 143", status, err)
	}
	seen := map[string]bool{}
	for len(got) > 0 {
		seen[<-got] = true
	}
	for _, w := range []string{"resize", "TERM", "eof"} {
		if !seen[w] {
			t.Errorf("the guest did not get %s (got %v)", w, seen)
		}
	}
}

func TestSignal(t *testing.T) {
	got := make(chan int, 1)
	sock := fakeGuest(t, func(t *testing.T, c net.Conn) {
		q := readRequest(t, c)
		got <- q.Signal
		ok(c)
	})
	if err := Signal(sock, syscall.SIGUSR1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != int(syscall.SIGUSR1) {
		t.Errorf("guest got signal %d, want %d", s, syscall.SIGUSR1)
	}
}

// A symlink where the socket should be is refused, not followed.
func TestDialRefusesSymlink(t *testing.T) {
	sock := fakeGuest(t, func(t *testing.T, c net.Conn) {})
	link := filepath.Join(t.TempDir(), "control.sock")
	if err := os.Symlink(sock, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(link, time.Now().Add(time.Second)); err == nil {
		t.Fatal("Dial followed a symlink")
	}
}
