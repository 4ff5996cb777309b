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

// droppedSignals are the signals Go treats as faults. Sent by a process
// (kill(2)) rather than raised by a fault, Go's default for them is to
// crash with a traceback of every goroutine, and urunit is PID 1: the VM
// died with "Attempted to kill init!". The application shares urunit's
// process group, so a signal it sends to its group (kill(0, SIGABRT))
// reaches urunit too; that is how urunit died with a traceback that named
// forwardSignals, one of the goroutines it listed. urunit catches them and
// drops them, as the kernel drops signals to an init that has no handler.
// Real faults in urunit still crash it: Go turns those into panics
// whether or not they are caught.
var droppedSignals = []os.Signal{
	syscall.SIGILL, syscall.SIGTRAP, syscall.SIGABRT, syscall.SIGBUS,
	syscall.SIGFPE, syscall.SIGSEGV, syscall.SIGSTKFLT, syscall.SIGSYS,
}

// errQueueFull is returned for a signal asked for before the application
// has started when too many are waiting already.
var errQueueFull = errors.New("too many signals waiting for the application to start")

// appSignals passes signals to the application: those urunit catches and
// those the agent's OpSignal asks for. Until the application has started
// they wait in queue, in order; then forward sends them.
type appSignals struct {
	queue   chan os.Signal // what signal.Notify and send put; forward drains it
	dropped chan os.Signal // droppedSignals, drained and forgotten

	mu     sync.Mutex
	reaper *reaper // nil until the application has started; guarded by mu
	pid    int     // the application; guarded by mu
}

// catchSignals makes urunit survive forwardedSignals until forward names the
// process to pass them to. It installs handlers rather than ignoring the
// signals, because ignored signals would stay ignored in the application
// after exec.
func catchSignals() *appSignals {
	s := &appSignals{queue: make(chan os.Signal, 8), dropped: make(chan os.Signal, 1)}
	signal.Notify(s.queue, forwardedSignals...)
	signal.Notify(s.dropped, droppedSignals...)
	go func() {
		for range s.dropped {
		}
	}()
	return s
}

// stop undoes catchSignals (for the tests: urunit never stops).
func (s *appSignals) stop() {
	signal.Stop(s.queue)
	signal.Stop(s.dropped)
	close(s.dropped)
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
