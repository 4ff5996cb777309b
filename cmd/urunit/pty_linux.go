package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/agent"
)

// ptmx is the pty multiplexer. It works with the devpts urunit mounts on
// /dev/pts: the kernel takes the instance at "pts" beside the ptmx node.
const ptmx = "/dev/ptmx"

// openPty opens a new pseudo-terminal of the given size (none: 0x0) and
// returns its master and slave. The master stays in non-blocking mode,
// so that reads on it take deadlines and end when it is closed: its
// ioctls go through SyscallConn, since Fd would make it blocking.
func openPty(size *agent.WindowSize) (master, slave *os.File, err error) {
	master, err = os.OpenFile(ptmx, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			master.Close()
		}
	}()
	var sfd int
	err = withFd(master, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return fmt.Errorf("unlock pty: %w", err)
		}
		// TIOCGPTPEER (Linux 4.13) opens the slave without a path, so
		// it cannot be some other file at /dev/pts/N.
		n, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER,
			unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
		if errno != 0 {
			return fmt.Errorf("open pty slave: %w", errno)
		}
		sfd = int(n)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	slave = os.NewFile(uintptr(sfd), "pty")
	if size != nil {
		if err = setWinsize(master, *size); err != nil {
			slave.Close()
			return nil, nil, err
		}
	}
	return master, slave, nil
}

// setWinsize sets the terminal's size; the kernel sends SIGWINCH to its
// foreground process group when it changes.
func setWinsize(master *os.File, ws agent.WindowSize) error {
	return withFd(master, func(fd int) error {
		w := unix.Winsize{Row: ws.Rows, Col: ws.Cols}
		if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &w); err != nil {
			return fmt.Errorf("set window size: %w", err)
		}
		return nil
	})
}

// withFd runs fn on f's descriptor without changing its mode.
func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
