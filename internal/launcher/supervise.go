package launcher

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/yamux"
	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/agent"
	"github.com/urunc-runtime/urunc/internal/trace"
	"github.com/urunc-runtime/urunc/internal/urunit"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// Exit statuses of the supervisor beyond the application's own.
const (
	// StatusUnreported: the VM stopped (a kernel panic, a reset, a VMM
	// that exited 0 by itself) without urunit reporting a status. Never 0:
	// a Job must not look successful when its guest died.
	StatusUnreported = 255
	statusKilled     = 128 + int(unix.SIGKILL)
)

// errStatusRange: urunit reported an exit status no shell has.
var errStatusRange = errors.New("exit status out of range 0..255")

// Timing of the supervisor's dealings with the VMM and the guest.
const (
	connectPoll = 20 * time.Millisecond
	// exitLinger is how long a VMM may take to stop after urunit has
	// reported the application's status before it is killed.
	exitLinger = 10 * time.Second
)

// forwarded are the signals the supervisor passes to the guest's
// application; stopSignals among them start the stop grace period.
var (
	forwarded = []os.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT,
		unix.SIGUSR1, unix.SIGUSR2, unix.SIGCONT, unix.SIGWINCH}
	stopSignals = map[os.Signal]bool{unix.SIGTERM: true, unix.SIGINT: true, unix.SIGHUP: true, unix.SIGQUIT: true}
)

// Supervise runs the VMM of the plan in dir as a child and returns the
// status the container exits with: the one urunit reports for the
// guest's application. Meanwhile it holds the agent session, passes the
// signals it gets to the application (killing the VMM when a stop signal
// has not stopped it within the plan's grace period), and splices each
// connection to its control socket to a new stream, for host tools.
//
// It is the container's pid 1 for guests that run the agent: a VMM that
// exits cannot say with which status the application did (QEMU's exit
// device makes even statuses odd; Firecracker and Cloud Hypervisor have
// none), so something else must, and it must outlive the VMM.
func Supervise(dir string) int {
	// Handlers first: kill waits for the control socket, made after this.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwarded...)
	p, err := ReadPlan(dir)
	if err != nil {
		return failf("%v", err)
	}
	s := &supervisor{plan: p, ready: make(chan struct{}), exited: make(chan struct{}), report: -1,
		pending: make(chan syscall.Signal, 64)}
	if v, err := vmm.Get(p.VMM); err == nil {
		_, s.exitDevice = v.(vmm.GuestChannels)
	}
	if err := s.start(dir); err != nil {
		return failf("%v", err)
	}
	go s.serveControl()
	go s.connect()
	go s.waitVMM()
	go s.deliver()
	for {
		select {
		case sig := <-sigs:
			s.forward(sig)
		case <-s.exited:
			status, why := s.status()
			if why != "" {
				fmt.Fprintf(os.Stderr, "urunc: %s\n", why)
			}
			return status
		}
	}
}

type supervisor struct {
	plan Plan
	// exitDevice: the VMM's own status says the application's (QEMU's
	// exit device), for a guest whose agent never answered.
	exitDevice bool
	cmd        *exec.Cmd
	ln         *net.UnixListener

	session *yamux.Session
	ready   chan struct{}       // closed once session is set and urunit answered
	exited  chan struct{}       // closed once the VMM has exited and been reaped
	pending chan syscall.Signal // signals for the application, in order

	mu        sync.Mutex
	report    int            // the application's status, -1 until urunit sends it
	stopSig   syscall.Signal // the last stop signal received, 0 for none
	graceKill bool           // the VMM was killed at the end of the grace period
	boot      Boot           // how a template plan's guest was started
	agentConn net.Conn       // the agent channel, when restore joined it already
	orders    urunit.Orders  // for a template plan: what urunit gets before the session
	served    bool           // urunit answered the OpWait stream
	grace     *time.Timer
	vmmStatus syscall.WaitStatus
}

// start listens on the control socket and starts the VMM; for a template
// plan, from the template (built first when missing) or, failing that,
// cold in orders mode.
func (s *supervisor) start(dir string) error {
	os.Remove(s.plan.ControlSocket) // left by a launcher killed before
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.plan.ControlSocket, Net: "unix"})
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.plan.ControlSocket, err)
	}
	s.ln = ln
	if s.plan.Template == nil {
		return s.startVMM(dir, Boot{})
	}
	n, err := ReadNetwork(dir)
	if err != nil {
		return err
	}
	if s.orders, err = orders(s.plan, n); err != nil {
		return err
	}
	tr := trace.New(s.plan.TraceFile, s.plan.ID)
	tr.Mark("supervisor")
	b, rec := s.warmBoot(dir, n)
	tr.Mark("template-ready")
	if b.Mode == BootRestore {
		err := s.startVMM(dir, b)
		if err == nil {
			if err = s.restore(); err == nil {
				tr.Mark("restored")
				s.writeBootRecord(rec)
				return nil
			}
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
			if s.agentConn != nil {
				s.agentConn.Close()
				s.agentConn = nil
			}
		}
		// A template that does not restore is dropped: the next
		// container builds a new one.
		dropTemplate(b.Dir)
		b, rec = Boot{Mode: BootCold}, BootRecord{Mode: BootCold, Layout: rec.Layout, Why: "restore the template: " + err.Error()}
	}
	s.writeBootRecord(rec)
	if err := writeColdInitrd(s.plan); err != nil {
		return fmt.Errorf("cold boot: %w", err)
	}
	return s.startVMM(dir, b)
}

// startVMM starts the VMM child, booted as b: this program again, as
// `launch --vmm`, which confines itself and execs the VMM. The VMM dies
// with the supervisor (Pdeathsig), so a SIGKILL of the container's pid 1
// stops the VM as it stops a plain container.
func (s *supervisor) startVMM(dir string, b Boot) error {
	s.boot = b
	s.cmd = vmmCommand(dir, b)
	s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if b.Mode == BootRestore {
		state, err := os.Open(filepath.Join(b.Dir, stateFile))
		if err != nil {
			return err
		}
		defer state.Close()
		s.cmd.ExtraFiles = []*os.File{state} // fd 3: -incoming fd:3
	}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.plan.VMM, err)
	}
	return nil
}

// dropTemplate removes a template folder that failed to restore.
func dropTemplate(cur string) {
	trash := cur + ".drop-" + strconv.Itoa(os.Getpid())
	if os.Rename(cur, trash) == nil {
		os.RemoveAll(trash)
	}
}

// waitVMM reaps the VMM and, as pid 1, every orphan re-parented to the
// supervisor; exited closes once the VMM is gone.
func (s *supervisor) waitVMM() {
	pid := s.cmd.Process.Pid
	for {
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || wpid == pid {
			s.mu.Lock()
			s.vmmStatus = ws
			s.mu.Unlock()
			s.ln.Close()
			close(s.exited)
			return
		}
	}
}

// connect joins the VMM's end of the agent channel, starts the session
// and opens the OpWait stream, retrying until the VMM listens (and, on
// vsock, until the guest does).
func (s *supervisor) connect() {
	for {
		conn, err := s.agentConn, error(nil)
		if s.agentConn != nil {
			s.agentConn = nil // restore dialled it; a retry dials anew
		} else {
			conn, err = s.dialAgent()
		}
		if err == nil {
			if s.serve(conn) {
				return
			}
		}
		select {
		case <-s.exited:
			return
		case <-time.After(connectPoll):
		}
	}
}

// dialAgent connects to the VMM's agent socket; on vsock it then asks the
// VMM for the guest's agent port (the hybrid vsock handshake).
func (s *supervisor) dialAgent() (net.Conn, error) {
	conn, err := net.Dial("unix", s.plan.AgentSocket)
	if err != nil {
		return nil, err
	}
	if t, _ := vmmAgent(s.plan.VMM); t != vmm.AgentVsock {
		return conn, nil
	}
	if err := vsockConnect(conn, agent.VsockPort); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// vsockConnect performs Firecracker's and Cloud Hypervisor's hybrid vsock
// handshake: "CONNECT <port>\n", answered "OK <host port>\n" once a guest
// listener took the connection. The answer is bounded: the VMM is not
// trusted to end its line.
func vsockConnect(conn net.Conn, port int) error {
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(conn, "CONNECT %d\n", port); err != nil {
		return err
	}
	line, err := bufio.NewReader(io.LimitReader(conn, 64)).ReadString('\n')
	if err != nil {
		return fmt.Errorf("vsock handshake: %w", err)
	}
	if !strings.HasPrefix(line, "OK ") {
		return fmt.Errorf("vsock handshake: answer %q", strings.TrimSpace(line))
	}
	return conn.SetDeadline(time.Time{})
}

// serve starts the session on conn and waits for urunit's answer to the
// OpWait stream; it reports false when the channel broke first.
func (s *supervisor) serve(conn net.Conn) bool {
	if s.boot.ordered() {
		if err := sendOrders(conn, s.orders); err != nil {
			conn.Close()
			fmt.Fprintf(os.Stderr, "urunc: agent: %v\n", err)
			return false
		}
		trace.New(s.plan.TraceFile, s.plan.ID).Mark("orders-applied")
	}
	sess, err := agent.Client(conn)
	if err != nil {
		conn.Close()
		return false
	}
	st, err := sess.Open()
	if err == nil {
		err = agent.WriteJSON(st, agent.FrameRequest, agent.Request{Version: agent.Version, Op: agent.OpWait})
	}
	if err == nil {
		err = waitReply(st)
	}
	if err != nil {
		sess.Close()
		if !errors.Is(err, io.EOF) {
			fmt.Fprintf(os.Stderr, "urunc: agent: %v\n", err)
		}
		return false
	}
	s.session = sess
	s.mu.Lock()
	s.served = true
	s.mu.Unlock()
	close(s.ready)
	go s.awaitExit(st)
	return true
}

// awaitExit reads urunit's FrameExit and closes the stream, which tells
// urunit that the host has the status. The VMM is given exitLinger to
// stop after that.
func (s *supervisor) awaitExit(st net.Conn) {
	status, err := readExit(st)
	if err != nil {
		st.Close()
		return // no status: status() falls back to the VMM's
	}
	// Recorded before the stream closes: the close tells urunit to end
	// the VM, and the VMM's exit must find the status here.
	s.mu.Lock()
	s.report = status
	if s.grace != nil {
		s.grace.Stop() // the application has stopped: nothing to kill it for
	}
	s.mu.Unlock()
	st.Close()
	select {
	case <-s.exited:
	case <-time.After(exitLinger):
		_ = s.cmd.Process.Kill()
	}
}

// waitReply reads urunit's answer to the OpWait request: a FrameReply
// without an Error. Whatever the guest sent, at most one frame is read.
func waitReply(r io.Reader) error {
	var reply agent.Reply
	if err := agent.ReadJSON(r, agent.FrameReply, &reply); err != nil {
		return err // unwrapped: serve keeps quiet about io.EOF
	}
	if reply.Error != "" {
		return errors.New(reply.Error)
	}
	return nil
}

// readExit reads urunit's FrameExit: the application's status, which a
// shell's must be (0..255) for the container to exit with it.
func readExit(r io.Reader) (int, error) {
	var e agent.Exit
	if err := agent.ReadJSON(r, agent.FrameExit, &e); err != nil {
		return 0, fmt.Errorf("read the exit status: %w", err)
	}
	if e.Status < 0 || e.Status > 255 {
		return 0, fmt.Errorf("read the exit status: %w: %d", errStatusRange, e.Status)
	}
	return e.Status, nil
}

// forward passes sig to the application once urunit serves the session; a
// stop signal also starts the grace period after which the VMM is killed.
func (s *supervisor) forward(sig os.Signal) {
	n := sig.(syscall.Signal)
	if stopSignals[sig] {
		s.mu.Lock()
		s.stopSig = n
		if s.grace == nil && s.plan.StopGrace >= 0 {
			s.grace = time.AfterFunc(time.Duration(s.plan.StopGrace)*time.Second, s.killAfterGrace)
		}
		s.mu.Unlock()
	}
	select {
	case s.pending <- n:
	default:
		fmt.Fprintf(os.Stderr, "urunc: signal %d dropped: %d signals wait for the guest already\n", int(n), cap(s.pending))
	}
}

// deliver passes the pending signals to the application in the order
// they came, once urunit serves the session.
func (s *supervisor) deliver() {
	select {
	case <-s.ready:
	case <-s.exited:
		return
	}
	for {
		select {
		case n := <-s.pending:
			if err := s.signal(n); err != nil {
				fmt.Fprintf(os.Stderr, "urunc: pass signal %d to the guest: %v\n", int(n), err)
			}
		case <-s.exited:
			return
		}
	}
}

func (s *supervisor) killAfterGrace() {
	s.mu.Lock()
	s.graceKill = true
	s.mu.Unlock()
	fmt.Fprintf(os.Stderr, "urunc: the guest did not stop within %ds of the stop signal: killing the VM\n", s.plan.StopGrace)
	_ = s.cmd.Process.Kill()
}

// signal asks urunit to pass n to the application.
func (s *supervisor) signal(n syscall.Signal) error {
	st, err := s.session.Open()
	if err != nil {
		return err
	}
	defer st.Close()
	if err := agent.WriteJSON(st, agent.FrameRequest, agent.Request{Version: agent.Version, Op: agent.OpSignal, Signal: int(n)}); err != nil {
		return err
	}
	var r agent.Reply
	if err := agent.ReadJSON(st, agent.FrameReply, &r); err != nil {
		return err
	}
	if r.Error != "" {
		return errors.New(r.Error)
	}
	return nil
}

// serveControl splices each connection to the control socket to a new
// stream of the session, once there is one. The supervisor reads
// nothing of what passes: the two ends speak the protocol.
func (s *supervisor) serveControl() {
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			return // closed when the VMM exited
		}
		go s.splice(c)
	}
}

func (s *supervisor) splice(c *net.UnixConn) {
	defer c.Close()
	select {
	case <-s.ready:
	case <-s.exited:
		return
	}
	st, err := s.session.Open()
	if err != nil {
		return
	}
	defer st.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(st, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, st); done <- struct{}{} }()
	select {
	case <-done: // either end closed: a host tool that left must end its stream
	case <-s.exited:
	}
}

// status is the container's exit status once the VMM has exited: the
// application's as urunit reported it, else what the VMM's end says; and,
// when it is not the application's own, why, for the container's log.
func (s *supervisor) status() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.vmmStatus
	switch {
	case s.report >= 0:
		return s.report, ""
	case s.graceKill:
		return statusKilled, ""
	case ws.Signaled():
		return 128 + int(ws.Signal()), ""
	case s.stopSig != 0:
		// The VMM stopped on a stop signal (kill --all reaches it too)
		// before the guest could answer: the application was stopped.
		return 128 + int(s.stopSig), ""
	case !s.served && s.exitDevice:
		// urunit never answered: the guest's kernel has no driver for
		// the channel (virtio_console), or it died booting. The exit
		// device's status is all there is (exact for odd statuses and 0).
		return ws.ExitStatus(), fmt.Sprintf("the guest agent never answered (does the guest kernel have "+
			"virtio_console?): the exit status is %s's", s.plan.VMM)
	case ws.ExitStatus() != 0:
		return ws.ExitStatus(), fmt.Sprintf("%s exited with status %d and the guest reported none", s.plan.VMM, ws.ExitStatus())
	default:
		return StatusUnreported, "the guest stopped without reporting its application's exit status (kernel panic, reset or VMM failure)"
	}
}

// vmmAgent is the agent transport of the named VMM.
func vmmAgent(name vmm.Name) (vmm.AgentTransport, error) {
	v, err := vmm.Get(name)
	if err != nil {
		return "", err
	}
	return v.Describe().Agent, nil
}

func failf(format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "urunc: launch: "+format+"\n", a...)
	return 1
}
