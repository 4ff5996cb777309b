package main

import (
	"os"
	"os/signal"
	"syscall"
)

// forwardedSignals are the signals urunit passes on to the application. Go's
// default action for them would end urunit, and PID 1 must not exit.
var forwardedSignals = []os.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2,
}

// catchSignals makes urunit survive forwardedSignals until forwardSignals
// names the process to pass them to. It installs handlers rather than
// ignoring the signals, because ignored signals would stay ignored in the
// application after exec.
func catchSignals() chan os.Signal {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, forwardedSignals...)
	return ch
}

// forwardSignals passes every signal caught on ch to pid.
func forwardSignals(ch chan os.Signal, pid int) {
	go func() {
		for sig := range ch {
			_ = syscall.Kill(pid, sig.(syscall.Signal))
		}
	}()
}
