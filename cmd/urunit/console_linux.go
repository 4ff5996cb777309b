package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// setupConsole gives urunit stdin, stdout and stderr on /dev/console when the
// kernel could not open them (an initramfs without /dev/console), and makes
// the console pass bytes through unchanged.
func setupConsole() {
	if _, err := unix.FcntlInt(1, unix.F_GETFD, 0); err != nil {
		openConsole()
	}
	if err := makeRaw(0); err != nil {
		fail("set console mode", err, 0)
	}
}

// openConsole opens /dev/console as fds 0, 1 and 2.
func openConsole() {
	fd, err := unix.Open("/dev/console", unix.O_RDWR, 0)
	if err != nil {
		return // nowhere to report it
	}
	for target := 0; target <= 2; target++ {
		if fd != target {
			_ = unix.Dup3(fd, target, 0)
		}
	}
	if fd > 2 {
		_ = unix.Close(fd)
	}
}

// makeRaw turns off the terminal's echo, line editing and output processing
// on fd, so that the application's output reaches the host byte for byte
// ("\n" is not turned into "\r\n") and input piped into the VM is not echoed
// back into its output. It does nothing when fd is not a terminal.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		if err == unix.ENOTTY {
			return nil
		}
		return os.NewSyscallError("TCGETS", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return os.NewSyscallError("TCSETS", unix.IoctlSetTermios(fd, unix.TCSETS, t))
}
