//go:build !amd64

package main

import (
	"fmt"
	"runtime"
)

// writeExitPort is only implemented on amd64, where QEMU's isa-debug-exit
// device exists.
func writeExitPort(port uint16, value uint8) error {
	return fmt.Errorf("write I/O port %#x: not supported on %s", port, runtime.GOARCH)
}
