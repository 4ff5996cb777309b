package main

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// halt ends the VM so that QEMU exits with status (see urunit.ExitPort). It
// never returns: PID 1 must not exit, or the kernel panics.
func halt(status int) {
	unix.Sync()
	quietKernel()
	cmdline, _ := os.ReadFile("/proc/cmdline") // unread (no /proc): the default ending
	action := exitActionFor(status, string(cmdline))
	var err error
	switch {
	case action.powerOff:
		err = fmt.Errorf("power off: %w", unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF))
	case action.reboot:
		err = fmt.Errorf("reboot: %w", unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART))
	default:
		err = writeExitPort(urunit.ExitPort, action.value)
	}
	// The exit device is missing or did not stop the VM: power off, which
	// loses the status but does not leave the VM running.
	fail(fmt.Sprintf("report exit status %d", status), err, 0)
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	fmt.Fprintln(os.Stderr, "urunit: halted")
	for {
		time.Sleep(time.Hour)
	}
}

// quietKernel stops kernel messages from reaching the console, so that the
// kernel's "reboot: Restarting system" does not end the application's output.
// (The kernel.printk sysctl, unlike syslog(2), accepts console level 0.)
func quietKernel() {
	_ = os.WriteFile("/proc/sys/kernel/printk", []byte("0\n"), 0)
}
