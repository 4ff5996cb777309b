package urunit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// Control channel protocol.
//
// When the VMM gives the guest a second serial port (COM2: I/O port 0x2f8,
// IRQ 3, the guest's ControlDevice) wired to a host UNIX socket, urunit reads
// commands from it: one command per line, ASCII, terminated by "\n" (a "\r"
// before it is ignored), at most MaxControlLine bytes including the "\n".
// The host connects, writes a line and waits for urunit's answer, ControlAck,
// which says the command was taken: a command sent while the guest is still
// booting can be lost (the UART is reset when the kernel sets it up), and the
// missing answer tells the host to send it again. The only command is
//
//	signal <n>
//
// with n the decimal signal number (1..MaxSignal): urunit passes signal n to
// the application exactly as it passes on signals it receives itself. urunit
// ignores any other line, printing one warning on the console. A guest
// without the port simply has no control channel.
const ControlDevice = "/dev/ttyS1"

// MaxControlLine is the longest command line urunit accepts, "\n" included.
const MaxControlLine = 128

// MaxSignal is the highest signal number (SIGRTMAX on Linux).
const MaxSignal = 64

const signalCommand = "signal"

// ControlAck is urunit's answer to a command it took.
const ControlAck = "ok\n"

// ErrBadCommand is returned by ParseControlLine for a line that is not a
// valid command.
var ErrBadCommand = errors.New("unknown control command")

// SignalLine returns the command, "\n" included, that asks urunit to pass sig
// to the application.
func SignalLine(sig syscall.Signal) (string, error) {
	if sig < 1 || sig > MaxSignal {
		return "", fmt.Errorf("format signal command: %w: signal %d out of range 1..%d",
			ErrBadCommand, int(sig), MaxSignal)
	}
	return signalCommand + " " + strconv.Itoa(int(sig)) + "\n", nil
}

// ParseControlLine parses one command line (with or without its line ending)
// and returns the signal it asks for.
func ParseControlLine(line string) (syscall.Signal, error) {
	// A "\r" is part of the line ending only before a "\n": a bare
	// trailing "\r" is not a line ending the protocol knows.
	if l, ok := strings.CutSuffix(line, "\n"); ok {
		line = strings.TrimSuffix(l, "\r")
	}
	verb, arg, _ := strings.Cut(line, " ")
	n, err := strconv.Atoi(arg)
	if verb != signalCommand || err != nil || n < 1 || n > MaxSignal || arg != strconv.Itoa(n) {
		return 0, fmt.Errorf("%w: %q", ErrBadCommand, line)
	}
	return syscall.Signal(n), nil
}
