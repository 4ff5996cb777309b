package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	goruntime "runtime"
	"strconv"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// IOOpts are the flags that decide how the process's stdio is wired.
type IOOpts struct {
	ConsoleSocket string
	PidFile       string
	PreserveFDs   int
	Detach        bool
}

// startProcess starts the container's init. For create and detached run it
// returns at once; a foreground run waits and returns the exit status.
func (r *Runtime) startProcess(c *libcontainer.Container, sp *specs.Process, o IOOpts, run bool, afterStart []func() error) (int, error) {
	start := func(p *libcontainer.Process) error {
		if err := c.Start(p); err != nil {
			return err
		}
		for _, f := range afterStart { // the init has set up its mounts
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	}
	action := start
	if run {
		action = func(p *libcontainer.Process) error {
			if err := start(p); err != nil {
				return err
			}
			return r.exec(c) // what `urunc start` would do
		}
	}
	// A foreground run's signals go to the init as kill's do: the
	// supervisor of a Linux guest passes them to the application.
	return r.runProcess(sp, o, o.Detach || !run, true, action, nil)
}

// runProcess wires a process's stdio, starts it with action and, unless
// detached, forwards signals until it exits.
// deliver passes on a signal the foreground urunc received; nil signals
// the process itself.
func (r *Runtime) runProcess(sp *specs.Process, o IOOpts, detach, init bool, action func(*libcontainer.Process) error,
	deliver func(*libcontainer.Process, os.Signal)) (int, error) {
	if err := checkTerminal(sp.Terminal, detach, o.ConsoleSocket); err != nil {
		return -1, err
	}
	p, err := newProcess(sp, init)
	if err != nil {
		return -1, err
	}
	p.LogLevel = strconv.Itoa(int(r.Log.GetLevel()))
	if p.ExtraFiles, err = preservedFiles(o.PreserveFDs); err != nil {
		return -1, err
	}
	t, err := setupIO(p, sp.Terminal, detach, o.ConsoleSocket)
	if err != nil {
		return -1, err
	}
	defer t.close()
	var sigs chan os.Signal
	if !detach {
		sigs = foregroundSignals()
		defer signal.Stop(sigs)
	}
	if err := action(p); err != nil {
		return -1, fmt.Errorf("start container process: %w", err)
	}
	if err := t.attach(); err != nil {
		killAndWait(p)
		return -1, err
	}
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, p); err != nil {
			killAndWait(p)
			return -1, err
		}
	}
	if detach {
		return 0, nil
	}
	if deliver == nil {
		deliver = func(p *libcontainer.Process, s os.Signal) { _ = p.Signal(s) }
	}
	return forward(p, t, sigs, deliver)
}

func checkTerminal(terminal, detach bool, socket string) error {
	if detach && terminal && socket == "" {
		return errors.New("process.terminal is set but no --console-socket was given: a detached container needs one to pass the terminal")
	}
	if (!detach || !terminal) && socket != "" {
		return errors.New("--console-socket needs process.terminal=true and a detached container")
	}
	return nil
}

// foregroundSignals makes urunc the subreaper (libcontainer's init is a
// grandchild) and collects every signal for forwarding.
func foregroundSignals() chan os.Signal {
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	sigs := make(chan os.Signal, 256)
	signal.Notify(sigs)
	return sigs
}

// forward relays signals to the container's init until it exits, and
// returns its status the way a shell reports it (128+signal when killed).
func forward(p *libcontainer.Process, t *tty, sigs chan os.Signal, deliver func(*libcontainer.Process, os.Signal)) (int, error) {
	pid, err := p.Pid()
	if err != nil {
		return -1, fmt.Errorf("container pid: %w", err)
	}
	t.resize()
	for s := range sigs {
		switch s {
		case unix.SIGCHLD:
			if status, done := reap(pid); done {
				return status, nil
			}
		case unix.SIGWINCH:
			t.resize()
		case unix.SIGURG: // Go runtime preemption, not for the container
		default:
			deliver(p, s)
		}
	}
	return -1, errors.New("signal channel closed")
}

// reap collects exited children; done is true once pid has exited.
func reap(pid int) (int, bool) {
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err != nil || wpid <= 0 {
			return 0, false
		}
		if wpid == pid {
			return exitStatus(ws), true
		}
	}
}

func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func killAndWait(p *libcontainer.Process) {
	_ = p.Signal(unix.SIGKILL)
	_, _ = p.Wait()
}

func writePidFile(path string, p *libcontainer.Process) error {
	pid, err := p.Pid()
	if err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	return writeFileAtomic(path, []byte(strconv.Itoa(pid)), 0o644, -1, -1)
}

// tty wires a terminal: to the caller's console socket when detached, or to
// urunc's own stdio for a foreground run.
type tty struct {
	parent  *os.File
	closers []io.Closer
	master  console.Console
	host    console.Console
}

func setupIO(p *libcontainer.Process, terminal, detach bool, socket string) (*tty, error) {
	t := &tty{}
	if !terminal {
		p.Stdin, p.Stdout, p.Stderr = os.Stdin, os.Stdout, os.Stderr
		return t, nil
	}
	if detach {
		conn, err := net.Dial("unix", socket)
		if err != nil {
			return nil, fmt.Errorf("--console-socket %q: %w", socket, err)
		}
		f, err := conn.(*net.UnixConn).File()
		conn.Close()
		if err != nil {
			return nil, fmt.Errorf("--console-socket %q: %w", socket, err)
		}
		p.ConsoleSocket = f
		t.closers = append(t.closers, f)
		return t, nil
	}
	parent, child, err := utils.NewSockPair("console")
	if err != nil {
		return nil, fmt.Errorf("console socket pair: %w", err)
	}
	p.ConsoleSocket = child
	t.parent = parent
	t.closers = append(t.closers, parent, child)
	return t, nil
}

// attach receives the pty master (foreground run) and starts copying.
func (t *tty) attach() error {
	if t.parent == nil {
		return nil
	}
	f, err := recvFile(t.parent)
	if err != nil {
		return fmt.Errorf("receive console: %w", err)
	}
	master, err := console.ConsoleFromFile(f)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	t.master = master
	t.closers = append(t.closers, master)
	if host, err := console.ConsoleFromFile(os.Stdin); err == nil {
		if err := host.SetRaw(); err == nil {
			t.host = host
		}
	}
	go func() { _, _ = io.Copy(master, os.Stdin) }()
	go func() { _, _ = io.Copy(os.Stdout, master) }()
	return nil
}

// consoleNameMax bounds the file name sent along with the pty master, as
// runc's sender (and its deprecated utils.RecvFile) does.
const consoleNameMax = 4096

// recvFile receives the one file descriptor libcontainer's init sends over
// socket (SCM_RIGHTS, its name as the payload). It replaces runc's
// utils.RecvFile (deprecated, to be removed in runc 1.6) with the same checks:
// exactly one message carrying exactly one descriptor; any other descriptor
// received is closed, so none leaks into urunc.
func recvFile(socket *os.File) (_ *os.File, err error) {
	name := make([]byte, consoleNameMax)
	oobSpace := unix.CmsgSpace(4) // one int32 descriptor
	oob := make([]byte, oobSpace)
	// Fd puts the socket in blocking mode, so Recvmsg waits for the message.
	sockfd := int(socket.Fd())
	var n, oobn int
	var rerr error
	for {
		n, oobn, _, _, rerr = unix.Recvmsg(sockfd, name, oob, unix.MSG_CMSG_CLOEXEC)
		if rerr != unix.EINTR {
			break
		}
	}
	goruntime.KeepAlive(socket)
	if rerr != nil {
		return nil, os.NewSyscallError("recvmsg", rerr)
	}
	if n >= consoleNameMax || oobn != oobSpace {
		return nil, fmt.Errorf("recvmsg: unexpected sizes (name %d bytes, control %d bytes)", n, oobn)
	}
	scms, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("recvmsg: parse control message: %w", err)
	}
	var fds []int
	defer func() {
		for i, fd := range fds {
			if i == 0 && err == nil {
				continue // returned to the caller as the *os.File
			}
			_ = unix.Close(fd)
		}
	}()
	var parseErr error
	for i := range scms {
		if scms[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&scms[i])
		if err != nil {
			parseErr = err
			continue
		}
		fds = append(fds, got...)
	}
	if parseErr != nil {
		return nil, fmt.Errorf("recvmsg: parse descriptors: %w", parseErr)
	}
	if len(scms) != 1 || len(fds) != 1 {
		return nil, fmt.Errorf("recvmsg: got %d messages with %d descriptors, want one with one", len(scms), len(fds))
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

func (t *tty) resize() {
	if t.master != nil && t.host != nil {
		_ = t.master.ResizeFrom(t.host)
	}
}

func (t *tty) close() {
	if t.host != nil {
		_ = t.host.Reset()
	}
	for _, c := range t.closers {
		_ = c.Close()
	}
}
