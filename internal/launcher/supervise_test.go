package launcher

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/urunc-runtime/urunc/internal/agent"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// The container's status: urunit's report wins; without one, what the VMM's
// end says, and never 0.
func TestSupervisorStatus(t *testing.T) {
	exited := func(code int) syscall.WaitStatus { return syscall.WaitStatus(code << 8) }
	signalled := func(sig syscall.Signal) syscall.WaitStatus { return syscall.WaitStatus(sig) }
	cases := []struct {
		name      string
		report    int
		ws        syscall.WaitStatus
		stopSig   syscall.Signal
		graceKill bool
		unserved  bool // urunit never answered
		want      int
		noExitDev bool // a VMM without an exit device (Firecracker)
	}{
		{"reported 0", 0, exited(0), 0, false, false, 0, false},
		{"reported even", 2, exited(3), 0, false, false, 2, false},
		{"reported over a VMM's own status", 42, exited(43), 0, false, false, 42, false},
		{"reported 143 after a stop signal", 143, exited(0), syscall.SIGTERM, false, false, 143, false},
		{"grace period over", -1, signalled(syscall.SIGKILL), syscall.SIGTERM, true, false, 137, false},
		{"VMM killed", -1, signalled(syscall.SIGKILL), 0, false, false, 137, false},
		{"VMM stopped by a stop signal", -1, exited(0), syscall.SIGTERM, false, false, 143, false},
		{"VMM failed", -1, exited(1), 0, false, false, 1, false},
		{"guest stopped without a report", -1, exited(0), 0, false, false, StatusUnreported, false},
		{"no agent in the guest: the exit device's status", -1, exited(43), 0, false, true, 43, false},
		{"no agent in the guest, VMM exited 0", -1, exited(0), 0, false, true, 0, false},
		{"no agent, no exit device: never 0", -1, exited(0), 0, false, true, StatusUnreported, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &supervisor{plan: Plan{VMM: vmm.QEMU}, exitDevice: true, report: tc.report, vmmStatus: tc.ws,
				stopSig: tc.stopSig, graceKill: tc.graceKill, served: !tc.unserved}
			if tc.noExitDev {
				s.plan.VMM, s.exitDevice = vmm.Firecracker, false
			}
			if got, _ := s.status(); got != tc.want {
				t.Errorf("status = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestVsockConnect(t *testing.T) {
	cases := []struct {
		name   string
		answer string
		ok     bool
	}{
		{"accepted", "OK 1073741824\n", true},
		{"refused", "", false},
		{"garbage", "NO\n", false},
		{"no line end", strings.Repeat("O", 4096), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host, vm := net.Pipe()
			defer host.Close()
			defer vm.Close()
			got := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(vm).ReadString('\n')
				got <- line
				_, _ = vm.Write([]byte(tc.answer))
				if tc.answer == "" {
					vm.Close() // the VMM refuses: no guest listener
				}
			}()
			err := vsockConnect(host, 1024)
			if (err == nil) != tc.ok {
				t.Fatalf("vsockConnect = %v, want ok=%v", err, tc.ok)
			}
			if l := <-got; l != "CONNECT 1024\n" {
				t.Errorf("VMM read %q, want CONNECT 1024", l)
			}
		})
	}
}

// urunit's FrameExit is the guest's word: only a shell's status is taken.
func TestReadExit(t *testing.T) {
	cases := []struct {
		name  string
		data  []byte
		want  int
		isErr error // nil: any error will do when ok is false
		ok    bool
	}{
		{"status 0", frame(agent.FrameExit, `{"status":0}`), 0, nil, true},
		{"status 255", frame(agent.FrameExit, `{"status":255}`), 255, nil, true},
		{"status 256", frame(agent.FrameExit, `{"status":256}`), 0, errStatusRange, false},
		{"negative status", frame(agent.FrameExit, `{"status":-1}`), 0, errStatusRange, false},
		{"another frame", frame(agent.FrameReply, `{"status":0}`), 0, agent.ErrUnexpected, false},
		{"length over MaxPayload", []byte{byte(agent.FrameExit), 0xff, 0xff, 0xff, 0xff}, 0, agent.ErrFrameTooLarge, false},
		{"cut payload", frame(agent.FrameExit, `{"status":0}`)[:9], 0, io.ErrUnexpectedEOF, false},
		{"not JSON", frame(agent.FrameExit, `status 0`), 0, nil, false},
		{"nothing", nil, 0, io.EOF, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readExit(bytes.NewReader(tc.data))
			if (err == nil) != tc.ok || got != tc.want || (tc.isErr != nil && !errors.Is(err, tc.isErr)) {
				t.Errorf("readExit = %d, %v; want %d, ok=%v, error %v", got, err, tc.want, tc.ok, tc.isErr)
			}
		})
	}
}
