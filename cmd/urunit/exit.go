package main

import (
	"strings"
	"syscall"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// exitAction says how to end the VM so that the host sees status.
type exitAction struct {
	powerOff bool  // urunit.HaltPowerOff: power off whatever the status
	reboot   bool  // status 0: a clean reboot, which QEMU -no-reboot turns into exit 0
	value    uint8 // otherwise: the byte to write to urunit.ExitPort
}

// exitActionFor encodes status for QEMU's isa-debug-exit device, which makes
// QEMU exit with (value<<1)|1. Odd statuses arrive exactly; an even non-zero
// status s arrives as s|1. Statuses outside 0..255 are reduced modulo 256 as
// a process exit status would be.
func exitActionFor(status int, cmdline string) exitAction {
	// The last urunit.halt= wins, read as the kernel splits the line.
	name, want, _ := strings.Cut(urunit.HaltPowerOff, "=")
	if v, ok := urunit.ParseCmdline(cmdline).Last(name); ok && v == want {
		return exitAction{powerOff: true}
	}
	s := uint8(status)
	if s == 0 {
		return exitAction{reboot: true}
	}
	return exitAction{value: s >> 1}
}

// waitStatusCode turns a wait status into a shell-like exit status: the exit
// code, or 128+signal for a process killed by a signal.
func waitStatusCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	default:
		return statusFailure
	}
}
