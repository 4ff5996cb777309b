package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// writeExitPort writes value to the I/O port port. If the port is QEMU's
// isa-debug-exit device this call does not return.
func writeExitPort(port uint16, value uint8) error {
	if err := unix.Ioperm(int(port), 1, 1); err != nil {
		return fmt.Errorf("ioperm: %w", err)
	}
	outb(port, value)
	return fmt.Errorf("VM still running after write to port %#x", port)
}

// outb writes value to the I/O port port (implemented in port_amd64.s).
func outb(port uint16, value uint8)
