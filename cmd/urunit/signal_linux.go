package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/urunc-runtime/urunc/internal/agent"
)

// forwardedSignals are the signals urunit passes on to the application. Go's
// default action for them would end urunit, and PID 1 must not exit.
var forwardedSignals = []os.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2,
}

// errQueueFull is returned for a signal asked for before the application
// has started when too many are waiting already.
var errQueueFull = errors.New("too many signals waiting for the application to start")

// appSignals passes signals to the application: those urunit catches and
// those the agent's OpSignal asks for. Until the application has started
// they wait in queue, in order; then forward sends them.
type appSignals struct {
	queue chan os.Signal // what signal.Notify and send put; forward drains it

	mu     sync.Mutex
	reaper *reaper // nil until the application has started; guarded by mu
	pid    int     // the application; guarded by mu
}

// catchSignals makes urunit survive forwardedSignals until forward names the
// process to pass them to. It installs handlers rather than ignoring the
// signals, because ignored signals would stay ignored in the application
// after exec.
func catchSignals() *appSignals {
	s := &appSignals{queue: make(chan os.Signal, 8)}
	signal.Notify(s.queue, forwardedSignals...)
	return s
}

// send passes sig to the application now, or queues it until the
// application has started. It fails when the queue is full or the
// application has exited.
func (s *appSignals) send(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reaper != nil {
		return s.reaper.signal(s.pid, sig, false)
	}
	select {
	case s.queue <- sig:
		return nil
	default:
		return errQueueFull
	}
}

// forward passes every signal queued so far, and every signal urunit
// catches from now on, to pid.
func (s *appSignals) forward(r *reaper, pid int) {
	s.mu.Lock()
	s.reaper, s.pid = r, pid
	s.mu.Unlock()
	go func() {
		defer recoverGoroutine("signal forwarding")
		for sig := range s.queue {
			// Only syscall.Signal values are ever queued (signal.Notify and
			// send put nothing else); the comma-ok form keeps a stray value
			// from panicking PID 1 all the same.
			if n, ok := sig.(syscall.Signal); ok && n >= 1 && n <= agent.MaxSignal {
				if err := r.signal(pid, n, false); err != nil && !errors.Is(err, errReaped) {
					fmt.Fprintf(os.Stderr, "urunit: pass signal %d to the application: %v\n", int(n), err)
				}
			}
		}
	}()
}
