package main

import (
	"syscall"
	"testing"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

func TestExitActionFor(t *testing.T) {
	tests := []struct {
		status int
		want   exitAction
		qemu   int // the status QEMU exits with
	}{
		{0, exitAction{reboot: true}, 0},
		{1, exitAction{value: 0}, 1},
		{2, exitAction{value: 1}, 3},
		{3, exitAction{value: 1}, 3},
		{126, exitAction{value: 63}, 127},
		{127, exitAction{value: 63}, 127},
		{137, exitAction{value: 68}, 137},
		{255, exitAction{value: 127}, 255},
		{256, exitAction{reboot: true}, 0},
		{-1, exitAction{value: 127}, 255},
	}
	for _, tc := range tests {
		got := exitActionFor(tc.status, "console=ttyS0 panic=-1 urunit.halt=reboot")
		if got != tc.want {
			t.Errorf("exitActionFor(%d) = %+v, want %+v", tc.status, got, tc.want)
		}
		if qemu := qemuStatus(got); qemu != tc.qemu {
			t.Errorf("status %d: QEMU exits %d, want %d", tc.status, qemu, tc.qemu)
		}
	}
}

// TestExitActionPowerOff: with urunit.HaltPowerOff every status powers off.
func TestExitActionPowerOff(t *testing.T) {
	for _, status := range []int{0, 1, 2, 255} {
		if got := exitActionFor(status, "console=ttyS0 "+urunit.HaltPowerOff+" quiet"); got != (exitAction{powerOff: true}) {
			t.Errorf("status %d: %+v, want power off", status, got)
		}
	}
}

// TestExitActionCmdline: urunit.halt= is read as the kernel splits the
// line, the last one winning, and not after "--".
func TestExitActionCmdline(t *testing.T) {
	for _, tc := range []struct {
		cmdline  string
		powerOff bool
	}{
		{"urunit.halt=poweroff", true},
		{"urunit.halt=poweroff urunit.halt=reboot", false},
		{"urunit.halt=reboot urunit.halt=poweroff", true},
		{`x="a urunit.halt=poweroff"`, false},
		{"-- urunit.halt=poweroff", false},
		{`"urunit.halt=poweroff"`, true},
		{"urunit.halt=\"poweroff\"", true},
	} {
		if got := exitActionFor(1, tc.cmdline).powerOff; got != tc.powerOff {
			t.Errorf("exitActionFor(1, %q).powerOff = %v, want %v", tc.cmdline, got, tc.powerOff)
		}
	}
}

// qemuStatus is what QEMU -no-reboot with isa-debug-exit exits with.
func qemuStatus(a exitAction) int {
	if a.reboot {
		return 0
	}
	return int(a.value)<<1 | 1
}

func TestWaitStatusCode(t *testing.T) {
	tests := []struct {
		name string
		ws   syscall.WaitStatus // raw wait(2) status
		want int
	}{
		{"exit 0", 0, 0},
		{"exit 3", 3 << 8, 3},
		{"exit 255", 255 << 8, 255},
		{"SIGKILL", syscall.WaitStatus(syscall.SIGKILL), 137},
		{"SIGSEGV with core dump", syscall.WaitStatus(syscall.SIGSEGV) | 0x80, 139},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := waitStatusCode(tc.ws); got != tc.want {
				t.Errorf("waitStatusCode(%#x) = %d, want %d", uint32(tc.ws), got, tc.want)
			}
		})
	}
}
