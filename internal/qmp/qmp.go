// Package qmp is a small client of QEMU's machine protocol (QMP), for the
// few commands the supervisor sends to save and restore VM templates. It
// can pass a file descriptor with a command (SCM_RIGHTS), which QEMU's
// getfd needs and which general QMP libraries do not offer.
package qmp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// maxLine bounds one message from QEMU: the VMM runs the guest and is not
// trusted to keep its answers small.
const maxLine = 1 << 20

// Client is one QMP connection, in command mode.
type Client struct {
	conn *net.UnixConn
	r    *bufio.Reader
}

// Error is an error QEMU answered a command with.
type Error struct {
	Command string
	Class   string `json:"class"`
	Desc    string `json:"desc"`
}

func (e *Error) Error() string { return fmt.Sprintf("qmp %s: %s: %s", e.Command, e.Class, e.Desc) }

// Dial connects to the QMP socket at path, retrying until deadline while
// QEMU has not made it yet, and negotiates command mode.
func Dial(path string, deadline time.Time) (*Client, error) {
	for {
		conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
		if err == nil {
			c := &Client{conn: conn, r: bufio.NewReaderSize(conn, 4096)}
			if err := c.handshake(deadline); err != nil {
				conn.Close()
				return nil, err
			}
			return c, nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("qmp: connect %s: %w", path, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *Client) handshake(deadline time.Time) error {
	_ = c.conn.SetDeadline(deadline)
	defer c.conn.SetDeadline(time.Time{})
	line, err := c.readLine()
	if err != nil {
		return fmt.Errorf("qmp: read greeting: %w", err)
	}
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := json.Unmarshal(line, &greeting); err != nil || greeting.QMP == nil {
		return fmt.Errorf("qmp: not a QMP greeting: %.80q", line)
	}
	_, err = c.Execute("qmp_capabilities", nil)
	return err
}

// Close ends the connection.
func (c *Client) Close() error { return c.conn.Close() }

// SetDeadline bounds the commands that follow.
func (c *Client) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// Execute runs cmd with args (nil for none) and returns its "return".
func (c *Client) Execute(cmd string, args any) (json.RawMessage, error) {
	return c.execute(cmd, args, -1)
}

// ExecuteFD runs cmd with args, passing fd along with it (getfd).
func (c *Client) ExecuteFD(cmd string, args any, fd int) (json.RawMessage, error) {
	return c.execute(cmd, args, fd)
}

func (c *Client) execute(cmd string, args any, fd int) (json.RawMessage, error) {
	msg := map[string]any{"execute": cmd}
	if args != nil {
		msg["arguments"] = args
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	if _, _, err := c.conn.WriteMsgUnix(data, oob, nil); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	for {
		line, err := c.readLine()
		if err != nil {
			return nil, fmt.Errorf("qmp %s: %w", cmd, err)
		}
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *Error          `json:"error"`
			Event  string          `json:"event"`
		}
		if err := json.Unmarshal(line, &resp); err != nil {
			return nil, fmt.Errorf("qmp %s: bad answer %.80q: %w", cmd, line, err)
		}
		switch {
		case resp.Event != "":
			continue // asynchronous: nothing here waits for events
		case resp.Error != nil:
			resp.Error.Command = cmd
			return nil, resp.Error
		case resp.Return != nil:
			return resp.Return, nil
		default:
			return nil, fmt.Errorf("qmp %s: answer has neither return nor error: %.80q", cmd, line)
		}
	}
}

var errLineTooLong = errors.New("answer over 1 MiB")

// readLine reads one message, bounded by maxLine.
func (c *Client) readLine() ([]byte, error) {
	var out []byte
	for {
		frag, err := c.r.ReadSlice('\n')
		out = append(out, frag...)
		if len(out) > maxLine {
			return nil, errLineTooLong
		}
		if err == nil {
			return bytes.TrimSpace(out), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

// Status is QEMU's run state (query-status).
func (c *Client) Status() (string, error) {
	ret, err := c.Execute("query-status", nil)
	if err != nil {
		return "", err
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(ret, &st); err != nil {
		return "", fmt.Errorf("qmp query-status: %w", err)
	}
	return st.Status, nil
}

// MigrationStatus is the state of the last migration (query-migrate):
// "completed", "failed", "active", ...; its error when failed.
func (c *Client) MigrationStatus() (status, errDesc string, err error) {
	ret, err := c.Execute("query-migrate", nil)
	if err != nil {
		return "", "", err
	}
	var st struct {
		Status    string `json:"status"`
		ErrorDesc string `json:"error-desc"`
	}
	if err := json.Unmarshal(ret, &st); err != nil {
		return "", "", fmt.Errorf("qmp query-migrate: %w", err)
	}
	return st.Status, st.ErrorDesc, nil
}

// IgnoreShared turns on migration's x-ignore-shared capability: RAM that
// is a shared file mapping is neither saved nor loaded.
func (c *Client) IgnoreShared() error {
	_, err := c.Execute("migrate-set-capabilities", map[string]any{
		"capabilities": []map[string]any{{"capability": "x-ignore-shared", "state": true}}})
	return err
}
