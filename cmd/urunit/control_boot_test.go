package main

import (
	"bufio"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/urunc-runtime/urunc/internal/control"
	"github.com/urunc-runtime/urunc/internal/urunit"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// TestControlSignal boots a guest whose QEMU command line comes from
// internal/vmm with a control socket, and checks that signals sent with
// control.Signal reach the application: SIGUSR1 is reported, SIGTERM ends
// the application and the VM with status 143.
func TestControlSignal(t *testing.T) {
	kernel := bootPrerequisites(t)
	dir := t.TempDir()
	urunitBin := goBuild(t, dir, ".")
	app := goBuild(t, dir, "./testdata/exitapp")
	image := writeInitrd(t, dir, urunitBin, app, urunit.Config{Args: []string{"exitapp", "wait-signals"}})
	sock := filepath.Join(dir, "control.sock")
	vm := startVM(t, controlSpec(t, kernel, image, sock))
	vm.waitFor(t, "ready", 60*time.Second)

	sendSignal(t, sock, syscall.SIGUSR1)
	vm.waitFor(t, "got USR1", 10*time.Second)
	start := time.Now()
	sendSignal(t, sock, syscall.SIGTERM)
	status := vm.wait(t, 10*time.Second)
	t.Logf("control.Signal(SIGTERM) to QEMU exit: %v", time.Since(start))
	if status != 143 {
		t.Errorf("QEMU exit status = %d, want 143; output:\n%s", status, vm.output())
	}
	if !strings.Contains(vm.output(), "got TERM\n") {
		t.Errorf("output lacks \"got TERM\":\n%s", vm.output())
	}
}

// controlSpec is a microvm boot of kernel and image with the exit device and
// a control socket at sock.
func controlSpec(t *testing.T, kernel, image, sock string) vmm.Spec {
	t.Helper()
	qemuBin, _ := exec.LookPath("qemu-system-x86_64") // checked by bootPrerequisites
	format, err := vmm.InspectKernel(kernel)
	if err != nil {
		t.Fatalf("inspect kernel: %v", err)
	}
	return vmm.Spec{
		Binary: qemuBin, Kernel: kernel, KernelFormat: format, Initrd: image,
		// tsc_early_khz: microvm under TCG has no timer to calibrate against.
		Cmdline: "console=ttyS0 panic=-1 rdinit=" + urunit.BinaryPath + " quiet loglevel=3 reboot=t tsc_early_khz=" +
			strconv.Itoa(hostTSCkHz(t)),
		MemoryMiB: 256, VCPUs: 1, Accel: vmm.AccelTCG,
		ExitDevice: true, AgentSocket: sock,
	}
}

func sendSignal(t *testing.T, sock string, sig syscall.Signal) {
	t.Helper()
	if err := control.Signal(sock, sig, 5*time.Second); err != nil {
		t.Fatalf("control.Signal: %v", err)
	}
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
		t.Fatalf("QEMU still running %v after SIGTERM; output:\n%s", timeout, vm.output())
		return 0
	}
}
