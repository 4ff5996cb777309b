package qmp

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeQEMU answers QMP on a UNIX socket: the greeting, then for each
// command the answers answer gives (events first, as QEMU may send them).
// Descriptors passed with a command go to fds.
func fakeQEMU(t *testing.T, answer func(cmd string) []string) (path string, fds chan int) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "qmp.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	fds = make(chan int, 4)
	go func() {
		conn, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.Write([]byte(`{"QMP": {"version": {}, "capabilities": []}}` + "\r\n"))
		buf, oob := make([]byte, 4096), make([]byte, 256)
		for {
			n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
			if err != nil {
				return
			}
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					if rights, err := unix.ParseUnixRights(&m); err == nil {
						for _, fd := range rights {
							fds <- fd
						}
					}
				}
			}
			var req struct {
				Execute string `json:"execute"`
			}
			if err := json.Unmarshal(buf[:n], &req); err != nil {
				return
			}
			for _, a := range answer(req.Execute) {
				conn.Write([]byte(a + "\r\n"))
			}
		}
	}()
	return path, fds
}

func TestExecute(t *testing.T) {
	path, fds := fakeQEMU(t, func(cmd string) []string {
		switch cmd {
		case "qmp_capabilities":
			return []string{`{"return": {}}`}
		case "query-status":
			return []string{`{"event": "RESUME", "timestamp": {}}`, `{"return": {"status": "paused", "running": false}}`}
		case "query-migrate":
			return []string{`{"return": {"status": "failed", "error-desc": "no space"}}`}
		case "getfd":
			return []string{`{"return": {}}`}
		default:
			return []string{`{"error": {"class": "CommandNotFound", "desc": "The command ` + cmd + ` has not been found"}}`}
		}
	})
	c, err := Dial(path, time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st, err := c.Status(); err != nil || st != "paused" {
		t.Errorf("Status() = %q, %v; want paused (the event before it skipped)", st, err)
	}
	if st, why, err := c.MigrationStatus(); err != nil || st != "failed" || why != "no space" {
		t.Errorf("MigrationStatus() = %q, %q, %v", st, why, err)
	}
	_, err = c.Execute("nope", nil)
	var qe *Error
	if !errors.As(err, &qe) || qe.Class != "CommandNotFound" || qe.Command != "nope" {
		t.Errorf("unknown command: %v, want a CommandNotFound *Error", err)
	}
	f, err := os.CreateTemp(t.TempDir(), "state")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecuteFD("getfd", map[string]string{"fdname": "x"}, int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	select {
	case fd := <-fds:
		unix.Close(fd)
	case <-time.After(5 * time.Second):
		t.Error("getfd: QEMU got no descriptor")
	}
}

// Whatever QEMU answers, the client reads at most maxLine of it per
// answer and fails on what is not QMP.
func TestBadAnswers(t *testing.T) {
	for name, greeting := range map[string]string{
		"not json":   "hello\n",
		"not qmp":    `{"return": {}}` + "\n",
		"endless":    strings.Repeat("x", maxLine+10),
		"no newline": `{"QMP": {}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "qmp.sock")
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				w := bufio.NewWriter(conn)
				w.WriteString(greeting)
				w.Flush()
				time.Sleep(time.Second)
				conn.Close()
			}()
			if c, err := Dial(path, time.Now().Add(3*time.Second)); err == nil {
				c.Close()
				t.Errorf("Dial accepted greeting %.40q", greeting)
			}
		})
	}
}

func TestDialTimesOut(t *testing.T) {
	start := time.Now()
	_, err := Dial(filepath.Join(t.TempDir(), "none.sock"), time.Now().Add(100*time.Millisecond))
	if err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("Dial to no socket: %v after %v", err, time.Since(start))
	}
}
