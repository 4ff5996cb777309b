package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/urunc-runtime/urunc/internal/agent"
	"github.com/urunc-runtime/urunc/internal/control"
	"github.com/urunc-runtime/urunc/internal/lifecycle"
)

// Exit statuses of the exec proxy for failures of its own.
const (
	statusCannotRun = 126 // urunit refused the process without a status
	statusLost      = 255 // the guest went away before the process's status
)

// execProxyCommand stands, inside a Linux guest's container, for a process
// exec'd in the guest (see lifecycle.Runtime.Exec); users never call it.
var execProxyCommand = &cli.Command{
	Name:      "exec-proxy",
	Hidden:    true,
	ArgsUsage: "<control-socket>",
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		os.Exit(execProxy(c.Args().First()))
		return nil
	},
}

func execProxy(socket string) int {
	var p agent.Process
	if err := json.Unmarshal([]byte(os.Getenv(lifecycle.ExecProcessEnv)), &p); err != nil {
		fmt.Fprintf(os.Stderr, "urunc: exec: %s: %v\n", lifecycle.ExecProcessEnv, err)
		return statusCannotRun
	}
	os.Unsetenv(lifecycle.ExecProcessEnv)
	pio := control.ExecIO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if p.Terminal {
		// The guest's pty does the line discipline: this end passes
		// bytes through untouched, and follows the window's size.
		if old, err := term.MakeRaw(0); err == nil {
			defer term.Restore(0, old)
		}
		if ws, ok := windowSize(); ok {
			p.Size = &ws
		}
		pio.Resize = resizes()
	}
	pio.Signals = signals()
	status, err := control.Exec(socket, p, pio)
	var ge *control.GuestError
	switch {
	case errors.As(err, &ge):
		fmt.Fprintf(os.Stderr, "urunc: %v\n", err)
		if ge.Status != 0 {
			return ge.Status
		}
		return statusCannotRun
	case err != nil:
		fmt.Fprintf(os.Stderr, "urunc: %v\n", err)
		return statusLost
	}
	return status
}

func windowSize() (agent.WindowSize, bool) {
	ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ)
	if err != nil || ws.Row == 0 || ws.Col == 0 {
		return agent.WindowSize{}, false
	}
	return agent.WindowSize{Rows: ws.Row, Cols: ws.Col}, true
}

// resizes sends the terminal's size each time it changes.
func resizes() <-chan agent.WindowSize {
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	out := make(chan agent.WindowSize, 1)
	go func() {
		for range winch {
			if ws, ok := windowSize(); ok {
				out <- ws
			}
		}
	}()
	return out
}

// signals passes on every signal the proxy gets that the guest process
// would get in its place: the shim's kill of the exec, kill --all.
func signals() <-chan syscall.Signal {
	in := make(chan os.Signal, 16)
	signal.Notify(in)
	out := make(chan syscall.Signal, 16)
	go func() {
		for s := range in {
			n, ok := s.(syscall.Signal)
			if !ok {
				continue
			}
			switch n {
			case unix.SIGCHLD, unix.SIGWINCH, unix.SIGURG, unix.SIGPIPE:
				continue // the proxy's own business, or Go's
			}
			out <- n
		}
	}()
	return out
}
