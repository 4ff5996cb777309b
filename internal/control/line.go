package control

import (
	"errors"
	"fmt"
	"strconv"
	"syscall"
)

// The COM2 line protocol this package speaks, kept here since urunit no
// longer serves it (the agent channel, internal/agent, replaced it): the
// host writes "signal <n>\n" and the guest answered controlAck. This
// package goes once the host uses the agent.

// maxControlLine is the longest command line, "\n" included.
const maxControlLine = 128

// maxSignal is the highest signal number (SIGRTMAX on Linux).
const maxSignal = 64

// controlAck was the guest's answer to a command it took.
const controlAck = "ok\n"

// errBadCommand is returned for a signal no command can carry.
var errBadCommand = errors.New("unknown control command")

// signalLine returns the command, "\n" included, that asked urunit to pass
// sig to the application.
func signalLine(sig syscall.Signal) (string, error) {
	if sig < 1 || sig > maxSignal {
		return "", fmt.Errorf("format signal command: %w: signal %d out of range 1..%d",
			errBadCommand, int(sig), maxSignal)
	}
	return "signal " + strconv.Itoa(int(sig)) + "\n", nil
}
