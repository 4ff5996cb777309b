package main

import (
	"bufio"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/urunc-runtime/urunc/internal/agent"
	"github.com/urunc-runtime/urunc/internal/urunit"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// bootWaiting boots exitapp waiting for signals with the agent on, joins
// the agent as the host and returns once the application is ready, with
// the agent socket's path.
func bootWaiting(t *testing.T) (*runningVM, *hostAgent, string) {
	t.Helper()
	kernel := bootPrerequisites(t)
	dir := t.TempDir()
	urunitBin := goBuild(t, dir, ".")
	app := goBuild(t, dir, "./testdata/exitapp")
	image := writeInitrd(t, dir, urunitBin, app, urunit.Config{Args: []string{"exitapp", "wait-signals"}}, guestFiles(t, kernel)...)
	sock := dir + "/agent.sock"
	vm := startVM(t, bootSpec(t, kernel, image, sock))
	host := connectAgent(t, sock)
	vm.waitFor(t, "ready", 60*time.Second)
	return vm, host, sock
}

// TestAgentBootSignal boots a guest whose QEMU command line comes from
// internal/vmm with an agent socket, and checks that signals sent with
// OpSignal reach the application: SIGUSR1 is reported, SIGTERM ends the
// application, and the status, 143, arrives through FrameExit.
func TestAgentBootSignal(t *testing.T) {
	vm, host, _ := bootWaiting(t)

	host.signal(t, syscall.SIGUSR1)
	vm.waitFor(t, "got USR1", 10*time.Second)
	start := time.Now()
	host.signal(t, syscall.SIGTERM)
	if status := host.exitStatus(t, 10*time.Second); status != 143 {
		t.Errorf("FrameExit status = %d, want 143; output:\n%s", status, vm.output())
	}
	status := vm.wait(t, 10*time.Second)
	t.Logf("OpSignal(SIGTERM) to QEMU exit: %v", time.Since(start))
	if status != 143 {
		t.Errorf("QEMU exit status = %d, want 143; output:\n%s", status, vm.output())
	}
	if !strings.Contains(vm.output(), "got TERM\n") {
		t.Errorf("output lacks \"got TERM\":\n%s", vm.output())
	}
}

// TestAgentBootReconnect: the host may leave the virtio-serial port and
// come back; urunit serves the new session. The host waits a moment before
// it comes back: a reconnect faster than the guest sees the disconnect
// gives the new session's first bytes to the old one (see waitHost).
func TestAgentBootReconnect(t *testing.T) {
	vm, first, sock := bootWaiting(t)
	first.signal(t, syscall.SIGUSR1)
	vm.waitFor(t, "got USR1", 10*time.Second)
	first.sess.Close()
	time.Sleep(time.Second)

	second := connectAgent(t, sock)
	second.signal(t, syscall.SIGUSR1)
	vm.waitFor(t, "got USR1", 10*time.Second)
	second.signal(t, syscall.SIGTERM)
	if status := second.exitStatus(t, 10*time.Second); status != 143 {
		t.Errorf("FrameExit status = %d, want 143; output:\n%s", status, vm.output())
	}
	if status := vm.wait(t, 10*time.Second); status != 143 {
		t.Errorf("QEMU exit status = %d, want 143; output:\n%s", status, vm.output())
	}
}

// TestAgentBootExec execs processes beside the application of a booted
// guest: output and status of a plain process, a missing program, a
// terminal session; and one still running when the application exits
// gets 137.
func TestAgentBootExec(t *testing.T) {
	bootPrerequisites(t)
	if busyboxFiles(t) == nil {
		t.Skip("busybox not installed as a static binary (package busybox-static, `make deps`): nothing to exec in the guest")
	}
	vm, host, _ := bootWaiting(t)

	t.Run("echo hi", func(t *testing.T) {
		st, r := host.exec(t, agent.Process{Args: []string{"echo", "hi"}})
		if r.Error != "" {
			t.Fatalf("reply %+v", r)
		}
		if res := readResult(st); !res.exited || res.status != 0 || res.stdout != "hi\n" || res.stderr != "" {
			t.Errorf("%+v, want hi and status 0", res)
		}
	})
	t.Run("status and stderr", func(t *testing.T) {
		st, r := host.exec(t, agent.Process{Args: []string{"sh", "-c", "echo oops >&2; exit 42"}, Cwd: "/srv", UID: 1000, GID: 100})
		if r.Error != "" {
			t.Fatalf("reply %+v", r)
		}
		if res := readResult(st); !res.exited || res.status != 42 || res.stderr != "oops\n" {
			t.Errorf("%+v, want oops on stderr and status 42", res)
		}
	})
	t.Run("not found", func(t *testing.T) {
		if _, r := host.exec(t, agent.Process{Args: []string{"nope"}}); r.Error == "" || r.Status != statusNotFound {
			t.Errorf("reply %+v, want status %d", r, statusNotFound)
		}
	})
	t.Run("terminal", func(t *testing.T) {
		st, r := host.exec(t, agent.Process{Args: []string{"sh", "-c", "tty >/dev/tty; stty size; read x; echo got $x; exit 7"},
			Terminal: true, Size: &agent.WindowSize{Rows: 30, Cols: 90}})
		if r.Error != "" {
			t.Fatalf("reply %+v", r)
		}
		expectOutput(t, st, "/dev/pts/0\r\n30 90\r\n")
		sendFrame(t, st, agent.FrameStdin, []byte("yes\n"))
		res := readResult(st)
		if !res.exited || res.status != 7 || !strings.Contains(res.stdout, "got yes\r\n") {
			t.Errorf("%+v, want got yes and status 7", res)
		}
	})
	// Last: the application's end kills what still runs.
	st, r := host.exec(t, agent.Process{Args: []string{"sh", "-c", "echo sleeping; exec sleep 600"}})
	if r.Error != "" {
		t.Fatalf("reply %+v", r)
	}
	expectOutput(t, st, "sleeping\n")
	host.signal(t, syscall.SIGTERM)
	if res := readResult(st); !res.exited || res.status != 137 {
		t.Errorf("exec running at the application's end: %+v, want status 137", res)
	}
	if status := host.exitStatus(t, 10*time.Second); status != 143 {
		t.Errorf("FrameExit status = %d, want 143", status)
	}
	if status := vm.wait(t, 10*time.Second); status != 143 {
		t.Errorf("QEMU exit status = %d, want 143; output:\n%s", status, vm.output())
	}
}

// bootSpec is a microvm boot of kernel and image with the exit device and,
// when sock is set, the agent channel on a virtio-serial port there.
func bootSpec(t *testing.T, kernel, image, sock string) vmm.Spec {
	t.Helper()
	qemuBin, _ := exec.LookPath("qemu-system-x86_64") // checked by bootPrerequisites
	format, err := vmm.InspectKernel(kernel)
	if err != nil {
		t.Fatalf("inspect kernel: %v", err)
	}
	// tsc_early_khz: microvm under TCG has no timer to calibrate against.
	cmdline := "console=ttyS0 panic=-1 rdinit=" + urunit.BinaryPath + " quiet loglevel=3 reboot=t tsc_early_khz=" +
		strconv.Itoa(hostTSCkHz(t))
	if sock != "" {
		cmdline += " " + urunit.AgentParam + "=" + transportVirtioSerial
	}
	return vmm.Spec{
		Binary: qemuBin, Kernel: kernel, KernelFormat: format, Initrd: image, Cmdline: cmdline,
		MemoryMiB: 256, VCPUs: 1, Accel: vmm.AccelTCG,
		ExitDevice: true, AgentSocket: sock,
	}
}

// hostAgent is the test's end of the agent channel, as the supervisor's:
// its first stream is OpWait.
type hostAgent struct {
	sess *yamux.Session
	wait net.Conn
}

// connectAgent connects to QEMU's agent socket (it appears once QEMU has
// started) and opens the OpWait stream; the guest answers once it serves
// the channel.
func connectAgent(t *testing.T, sock string) *hostAgent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var conn net.Conn
	var err error
	for {
		conn, err = net.Dial("unix", sock)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect to the agent socket: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	sess, err := agent.Client(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	wait, err := sess.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.WriteJSON(wait, agent.FrameRequest, agent.Request{Version: agent.Version, Op: agent.OpWait}); err != nil {
		t.Fatal(err)
	}
	return &hostAgent{sess: sess, wait: wait}
}

// exitStatus reads the OpWait stream's Reply and FrameExit, and closes the
// stream, which lets the guest end the VM.
func (h *hostAgent) exitStatus(t *testing.T, timeout time.Duration) int {
	t.Helper()
	defer h.wait.Close()
	_ = h.wait.SetReadDeadline(time.Now().Add(timeout))
	var r agent.Reply
	if err := agent.ReadJSON(h.wait, agent.FrameReply, &r); err != nil || r.Error != "" {
		t.Fatalf("wait reply %+v, %v", r, err)
	}
	var e agent.Exit
	if err := agent.ReadJSON(h.wait, agent.FrameExit, &e); err != nil {
		t.Fatalf("read exit status: %v", err)
	}
	return e.Status
}

func (h *hostAgent) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	st := h.request(t, agent.Request{Version: agent.Version, Op: agent.OpSignal, Signal: int(sig)})
	defer st.Close()
	var r agent.Reply
	if err := agent.ReadJSON(st, agent.FrameReply, &r); err != nil || r.Error != "" {
		t.Fatalf("signal %d: reply %+v, %v", int(sig), r, err)
	}
}

func (h *hostAgent) exec(t *testing.T, p agent.Process) (net.Conn, agent.Reply) {
	t.Helper()
	st := h.request(t, execReq(p))
	t.Cleanup(func() { st.Close() })
	var r agent.Reply
	if err := agent.ReadJSON(st, agent.FrameReply, &r); err != nil {
		t.Fatalf("exec %q: %v", p.Args, err)
	}
	return st, r
}

func (h *hostAgent) request(t *testing.T, req agent.Request) net.Conn {
	t.Helper()
	st, err := h.sess.Open()
	if err != nil {
		t.Fatal(err)
	}
	_ = st.SetDeadline(time.Now().Add(30 * time.Second))
	if err := agent.WriteJSON(st, agent.FrameRequest, req); err != nil {
		t.Fatal(err)
	}
	return st
}

// runningVM is a QEMU process whose serial console is collected line by line.
type runningVM struct {
	cmd   *exec.Cmd
	lines chan string // console lines; closed at end of output
	done  chan error  // the result of cmd.Wait, once the output has ended

	mu  sync.Mutex // guards out
	out strings.Builder
}

// startVM starts QEMU for spec; the test's cleanup kills it if still running.
func startVM(t *testing.T, spec vmm.Spec) *runningVM {
	t.Helper()
	q, err := vmm.Get(vmm.QEMU)
	if err != nil {
		t.Fatal(err)
	}
	args, err := q.Args(spec)
	if err != nil {
		t.Fatalf("qemu args: %v", err)
	}
	vm := &runningVM{cmd: exec.Command(args[0], args[1:]...), lines: make(chan string, 256), done: make(chan error, 1)}
	stdout, err := vm.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.cmd.Start(); err != nil {
		t.Fatalf("start QEMU: %v", err)
	}
	t.Cleanup(func() { _ = vm.cmd.Process.Kill() })
	go vm.collect(bufio.NewScanner(stdout))
	return vm
}

// collect records console lines until QEMU's output ends, then waits for it.
func (vm *runningVM) collect(sc *bufio.Scanner) {
	for sc.Scan() {
		vm.mu.Lock()
		vm.out.WriteString(sc.Text() + "\n")
		vm.mu.Unlock()
		vm.lines <- sc.Text()
	}
	close(vm.lines)
	vm.done <- vm.cmd.Wait()
}

func (vm *runningVM) output() string {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.out.String()
}

// waitFor waits for a console line equal to want.
func (vm *runningVM) waitFor(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-vm.lines:
			if line == want {
				return
			}
			if !ok {
				t.Fatalf("QEMU exited before printing %q; output:\n%s", want, vm.output())
			}
		case <-timer.C:
			t.Fatalf("no %q within %v; output:\n%s", want, timeout, vm.output())
		}
	}
}

// wait waits for QEMU to exit and returns its exit status.
func (vm *runningVM) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	go func() {
		for range vm.lines { // keep collect from blocking
		}
	}()
	select {
	case err := <-vm.done:
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitErr.ExitCode()
		}
		if err != nil {
			t.Fatalf("wait for QEMU: %v", err)
		}
		return 0
	case <-time.After(timeout):
		t.Fatalf("QEMU still running after %v; output:\n%s", timeout, vm.output())
		return 0
	}
}
