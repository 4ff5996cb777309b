package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// startControl serves the control channel (see urunit.ControlDevice) when
// the VM has one: signals asked for there are put on signals, the channel
// forwardSignals drains, so they reach the application as signals sent to
// urunit do.
func startControl(signals chan<- os.Signal) {
	f, err := openControl(urunit.ControlDevice)
	if err != nil {
		fail("open control channel", err, 0)
		return
	}
	if f == nil {
		return
	}
	go serveControl(f, f, signals, os.Stderr)
}

// openControl opens the control port in raw mode. It returns nil, nil when
// the port does not exist: no device node, or no UART behind it. (The 8250
// driver registers ttyS1 even when nothing answers at its address; opening
// it then succeeds but every ioctl and read fails with EIO.)
func openControl(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if isAbsentDevice(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	err = makeRaw(int(f.Fd()))
	if err == nil {
		return f, nil
	}
	f.Close()
	if isAbsentDevice(err) {
		return nil, nil
	}
	return nil, fmt.Errorf("set mode of %q: %w", path, err)
}

// isAbsentDevice reports whether err from opening a device means that the
// device is not there.
func isAbsentDevice(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENXIO) ||
		errors.Is(err, unix.EIO) || errors.Is(err, unix.ENODEV)
}
