package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/urunc-runtime/urunc/internal/agent"
)

// testProcess is an exec'd process as the tests ask for it: as the user
// running them, with a PATH.
func testProcess(args ...string) agent.Process {
	return agent.Process{
		Args: args, Env: []string{"PATH=/usr/bin:/bin", "FOO=bar"},
		UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
	}
}

func TestExec(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "script")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\necho no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	withCwd := func(p agent.Process, cwd string) agent.Process { p.Cwd = cwd; return p }
	withEnv := func(p agent.Process, env ...string) agent.Process { p.Env = env; return p }
	big := 3*agent.MaxPayload + 17
	tests := []struct {
		name       string
		p          agent.Process
		stdin      string // sent, then FrameStdinEOF
		wantReply  string // part of the Reply's error; "" for success
		wantStatus int    // Reply.Status on failure, FrameExit's otherwise
		wantOut    string
		wantErr    string
	}{
		{"echo", testProcess("/bin/echo", "hi"), "", "", 0, "hi\n", ""},
		{"looked up in PATH", testProcess("echo", "hi"), "", "", 0, "hi\n", ""},
		{"default PATH", withEnv(testProcess("echo", "x"), "A=b"), "", "", 0, "x\n", ""},
		{"environment", testProcess("/bin/sh", "-c", "echo $FOO"), "", "", 0, "bar\n", ""},
		{"exit 0", testProcess("/bin/sh", "-c", "exit 0"), "", "", 0, "", ""},
		{"exit 1", testProcess("/bin/sh", "-c", "exit 1"), "", "", 1, "", ""},
		{"exit 2", testProcess("/bin/sh", "-c", "exit 2"), "", "", 2, "", ""},
		{"exit 42", testProcess("/bin/sh", "-c", "exit 42"), "", "", 42, "", ""},
		{"killed", testProcess("/bin/sh", "-c", "kill -KILL $$"), "", "", 137, "", ""},
		{"stderr apart", testProcess("/bin/sh", "-c", "echo out; echo err >&2; echo out2"), "", "", 0, "out\nout2\n", "err\n"},
		{"stdin", testProcess("cat"), "hello\nworld", "", 0, "hello\nworld", ""},
		{"stdin EOF at once", testProcess("wc", "-c"), "", "", 0, "0\n", ""},
		{"cwd", withCwd(testProcess("/bin/sh", "-c", "pwd"), dir), "", "", 0, dir + "\n", ""},
		{"relative program in cwd", withCwd(testProcess("./script"), dir), "", "not executable", statusNotRunning, "", ""},
		{"output larger than a frame", testProcess("head", "-c", strconv.Itoa(big), "/dev/zero"), "", "", 0, strings.Repeat("\x00", big), ""},
		{"not found", testProcess("no-such-program"), "", "not found", statusNotFound, "", ""},
		{"not found by path", testProcess("/no/such/program"), "", "no such file", statusNotFound, "", ""},
		{"not executable", testProcess(notExec), "", "not executable", statusNotRunning, "", ""},
		{"a directory", testProcess(dir), "", "not executable", statusNotRunning, "", ""},
		{"missing cwd", withCwd(testProcess("/bin/echo"), "/no/such/dir"), "", "no such file", statusNotFound, "", ""},
		{"relative cwd", withCwd(testProcess("/bin/echo"), "tmp"), "", "not absolute", 0, "", ""},
	}
	g := newTestGuest(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, r := g.open(t, execReq(tc.p))
			if tc.wantReply != "" {
				if !strings.Contains(r.Error, tc.wantReply) || r.Status != tc.wantStatus {
					t.Errorf("reply %+v, want error %q and status %d", r, tc.wantReply, tc.wantStatus)
				}
				return
			}
			if r.Error != "" || r.Status != 0 {
				t.Fatalf("reply %+v", r)
			}
			if tc.stdin != "" {
				sendFrame(t, st, agent.FrameStdin, []byte(tc.stdin))
			}
			sendFrame(t, st, agent.FrameStdinEOF, nil)
			res := readResult(st)
			if !res.exited || res.status != tc.wantStatus {
				t.Errorf("exit %v status %d (%v), want status %d", res.exited, res.status, res.err, tc.wantStatus)
			}
			if res.stdout != tc.wantOut || res.stderr != tc.wantErr {
				t.Errorf("stdout %.80q, stderr %.80q; want %.80q, %.80q", res.stdout, res.stderr, tc.wantOut, tc.wantErr)
			}
		})
	}
}

// TestExecSignal: FrameSignal reaches the process, which reports it or
// dies of it (128+n).
func TestExecSignal(t *testing.T) {
	tests := []struct {
		name   string
		script string
		sig    syscall.Signal
		want   int
		out    string
	}{
		{"TERM", "echo ready; exec sleep 30", syscall.SIGTERM, 143, "ready\n"},
		{"KILL", "echo ready; exec sleep 30", syscall.SIGKILL, 137, "ready\n"},
		{"trapped", "trap 'echo got; exit 3' USR1; echo ready; while :; do sleep 0.05; done", syscall.SIGUSR1, 3, "ready\ngot\n"},
	}
	g := newTestGuest(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, r := g.open(t, execReq(testProcess("/bin/sh", "-c", tc.script)))
			if r.Error != "" {
				t.Fatal(r.Error)
			}
			expectOutput(t, st, "ready\n")
			sendJSON(t, st, agent.FrameSignal, agent.Signal{Signal: int(tc.sig)})
			res := readResult(st)
			if !res.exited || res.status != tc.want || "ready\n"+res.stdout != tc.out {
				t.Errorf("exit %v status %d output %q (%v); want %d, %q", res.exited, res.status, res.stdout, res.err, tc.want, tc.out)
			}
		})
	}
}

// expectOutput reads stdout frames until want has arrived.
func expectOutput(t *testing.T, st interface {
	Read([]byte) (int, error)
}, want string) {
	t.Helper()
	var got string
	for len(got) < len(want) {
		ft, p, err := agent.ReadFrame(st, nil)
		if err != nil || ft != agent.FrameStdout {
			t.Fatalf("after %q: frame %d, %v", got, ft, err)
		}
		got += string(p)
	}
	if !strings.HasPrefix(got, want) {
		t.Fatalf("output %q, want %q", got, want)
	}
}

// TestExecHostGone: a stream that ends before FrameExit, or breaks the
// protocol, kills the process and what it started.
func TestExecHostGone(t *testing.T) {
	tests := []struct {
		name string
		end  func(t *testing.T, st net.Conn)
	}{
		{"stream closed", nil},
		{"oversized frame", func(t *testing.T, st net.Conn) {
			_, _ = st.Write(rawFrame(agent.FrameStdin, agent.MaxPayload+1, nil))
		}},
		{"unknown frame", func(t *testing.T, st net.Conn) {
			sendFrame(t, st, 77, nil)
		}},
		{"reply frame from the host", func(t *testing.T, st net.Conn) {
			sendFrame(t, st, agent.FrameReply, []byte("{}"))
		}},
		{"bad signal", func(t *testing.T, st net.Conn) {
			sendJSON(t, st, agent.FrameSignal, agent.Signal{Signal: 99})
		}},
		{"garbage signal", func(t *testing.T, st net.Conn) {
			sendFrame(t, st, agent.FrameSignal, []byte("nine"))
		}},
		{"resize without terminal", func(t *testing.T, st net.Conn) {
			sendJSON(t, st, agent.FrameResize, agent.WindowSize{Rows: 1, Cols: 1})
		}},
		{"closed behind stdin the process does not read", func(t *testing.T, st net.Conn) {
			for range 2 { // a pipe's worth, then one more
				sendFrame(t, st, agent.FrameStdin, make([]byte, agent.MaxPayload))
			}
			st.Close()
		}},
		{"stdin after its end", func(t *testing.T, st net.Conn) {
			sendFrame(t, st, agent.FrameStdinEOF, nil)
			sendFrame(t, st, agent.FrameStdin, []byte("late"))
		}},
	}
	g := newTestGuest(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The shell's child holds no stdio open: it must die by the
			// process group kill, not by a broken pipe.
			st, r := g.open(t, execReq(testProcess("/bin/sh", "-c", "sleep 60 </dev/null >/dev/null 2>&1 & echo $$ $!; wait")))
			if r.Error != "" {
				t.Fatal(r.Error)
			}
			var line string
			for !strings.HasSuffix(line, "\n") {
				ft, p, err := agent.ReadFrame(st, nil)
				if err != nil || ft != agent.FrameStdout {
					t.Fatalf("frame %d, %v", ft, err)
				}
				line += string(p)
			}
			var pids [2]int
			if _, err := fmt.Sscan(line, &pids[0], &pids[1]); err != nil {
				t.Fatalf("pids %q: %v", line, err)
			}
			if tc.end == nil {
				st.Close()
			} else {
				tc.end(t, st)
			}
			for _, pid := range pids {
				waitGone(t, pid)
			}
			if tc.end != nil && !strings.HasPrefix(tc.name, "closed") {
				// The guest ends the stream it refuses.
				if _, _, err := agent.ReadFrame(st, nil); err == nil {
					t.Errorf("stream still open")
				}
			}
		})
	}
}

// waitGone waits until pid has died: gone, or a zombie (an orphan waits
// for the test machine's init to reap it, which may take a while).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// pid (comm) state ...: the state follows the last ')'.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i:]), ") Z") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestExecConcurrent: several exec sessions at once each get their own
// output and status.
func TestExecConcurrent(t *testing.T) {
	g := newTestGuest(t)
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			script := fmt.Sprintf("echo start %d; sleep 0.3; echo end %d >&2; exit %d", i, i, 10+i)
			st, r := g.open(t, execReq(testProcess("/bin/sh", "-c", script)))
			if r.Error != "" {
				t.Error(r.Error)
				return
			}
			res := readResult(st)
			if res.status != 10+i || res.stdout != fmt.Sprintf("start %d\n", i) || res.stderr != fmt.Sprintf("end %d\n", i) {
				t.Errorf("session %d: %+v", i, res)
			}
		}()
	}
	wg.Wait()
}

// TestExecTerminal: a terminal session gets a pty of the asked size as its
// controlling terminal (/dev/tty), output on FrameStdout only, and follows
// resizes.
func TestExecTerminal(t *testing.T) {
	g := newTestGuest(t)
	p := testProcess("/bin/sh", "-c", `tty >/dev/null && echo tty >/dev/tty; stty size; echo err >&2; read x; stty size; exit 5`)
	p.Terminal, p.Size = true, &agent.WindowSize{Rows: 24, Cols: 80}
	st, r := g.open(t, execReq(p))
	if r.Error != "" {
		t.Fatal(r.Error)
	}
	// A terminal turns "\n" into "\r\n".
	expectOutput(t, st, "tty\r\n24 80\r\nerr\r\n")
	sendJSON(t, st, agent.FrameResize, agent.WindowSize{Rows: 40, Cols: 100})
	sendFrame(t, st, agent.FrameStdin, []byte("\n"))
	sendFrame(t, st, agent.FrameStdinEOF, nil) // a terminal has none: ignored
	res := readResult(st)
	if !res.exited || res.status != 5 || res.stderr != "" || !strings.Contains(res.stdout, "40 100\r\n") {
		t.Errorf("%+v; want status 5 and the new size on stdout", res)
	}
}

// TestExecTerminalSignal: a terminal session's signals go to its process
// group.
func TestExecTerminalSignal(t *testing.T) {
	g := newTestGuest(t)
	p := testProcess("/bin/sh", "-c", "sleep 60 & echo $!; wait")
	p.Terminal = true
	st, r := g.open(t, execReq(p))
	if r.Error != "" {
		t.Fatal(r.Error)
	}
	var line string
	for !strings.HasSuffix(line, "\r\n") {
		_, b, err := agent.ReadFrame(st, nil)
		if err != nil {
			t.Fatal(err)
		}
		line += string(b)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("child pid %q", line)
	}
	sendJSON(t, st, agent.FrameSignal, agent.Signal{Signal: int(syscall.SIGTERM)})
	res := readResult(st)
	if !res.exited || res.status != 143 {
		t.Errorf("%+v; want status 143", res)
	}
	waitGone(t, child)
}

func TestExecFailureStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{errNotFound, statusNotFound},
		{syscall.ENOENT, statusNotFound},
		{errNotExecutable, statusNotRunning},
		{syscall.EACCES, statusNotRunning},
		{errStopped, 0},
		{errRelativeExecCwd, 0},
		{fmt.Errorf("%w: open a terminal: %w", errStdio, syscall.ENOENT), 0}, // no /dev/ptmx: not the program's fault
	}
	for _, tc := range tests {
		if got := execFailureStatus(tc.err); got != tc.want {
			t.Errorf("execFailureStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestExecAfterExit: once the application has exited, exec is refused.
func TestExecAfterExit(t *testing.T) {
	g := newTestGuest(t)
	g.a.reaper = &reaper{waiting: map[int]chan int{}, stopped: true}
	if _, r := g.open(t, execReq(testProcess("/bin/echo"))); !strings.Contains(r.Error, errStopped.Error()) || r.Status != 0 {
		t.Errorf("reply %+v, want %q", r, errStopped)
	}
}
