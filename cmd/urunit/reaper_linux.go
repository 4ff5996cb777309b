package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// errStopped is returned by reaper.start once the application has exited:
// nothing new may start while urunit kills what is left.
var errStopped = errors.New("the application has exited")

// errReaped is returned by reaper.signal for a process already reaped: its
// pid may belong to another process by now.
var errReaped = errors.New("process has exited")

// reapTick makes the reaper look for exited children now and then even
// without a SIGCHLD, a guard against a wake-up lost in some way not
// foreseen here.
const reapTick = time.Second

// reaper is urunit's only caller of wait4. The application and the
// processes exec'd beside it are all urunit's children, and so is every
// orphan the kernel re-parents to PID 1: one loop reaps them all and hands
// each status to whoever started that pid; orphans are reaped and
// forgotten.
//
// mu is held while a process is forked and while children are reaped, so
// that a child is registered before it can be reaped (a fast exit cannot
// be taken for an orphan's), and a pid is signalled only while it is
// registered, so never after it was reaped and possibly reused.
type reaper struct {
	// all: reap any child (wait4(-1)), as PID 1 must. Otherwise (the unit
	// tests) only registered pids are reaped, so that the test binary's
	// other children (os/exec) are left to their own Wait.
	all bool

	mu      sync.Mutex
	waiting map[int]chan int // pid → its exit status (buffered 1); guarded by mu
	stopped bool             // no new processes; guarded by mu
	empty   bool             // the last pass found no children at all; guarded by mu

	wake chan os.Signal // SIGCHLD
}

// newReaper starts reaping. It must run before the first child is forked,
// so that no SIGCHLD is missed.
func newReaper(all bool) *reaper {
	r := &reaper{all: all, waiting: map[int]chan int{}, wake: make(chan os.Signal, 1)}
	signal.Notify(r.wake, syscall.SIGCHLD)
	go r.loop()
	return r
}

// loop reaps on every SIGCHLD. One pending signal stands for any number of
// exits: each pass reaps until nothing is left to reap, and a child that
// exits after the pass has begun sends a new SIGCHLD.
func (r *reaper) loop() {
	tick := time.NewTicker(reapTick)
	defer tick.Stop()
	for {
		select {
		case <-r.wake:
		case <-tick.C:
		}
		r.reapSafely()
	}
}

// reapSafely is one pass that cannot end the loop: a panic here would stop
// all reaping, and the application's status would never arrive.
func (r *reaper) reapSafely() {
	defer recoverGoroutine("reaper")
	r.reap()
}

// start forks a process with fork and registers it; done receives its
// exit status (as waitStatusCode gives it) once it is reaped.
func (r *reaper) start(fork func() (int, error)) (pid int, done <-chan int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return 0, nil, errStopped
	}
	pid, err = fork()
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan int, 1)
	r.waiting[pid] = ch
	r.empty = false
	return pid, ch, nil
}

// signal sends sig to pid, or to its process group when group is set, if
// pid is a registered child not yet reaped.
func (r *reaper) signal(pid int, sig syscall.Signal, group bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.waiting[pid]; !ok {
		return errReaped
	}
	target := pid
	if group {
		target = -pid
	}
	if err := syscall.Kill(target, sig); err != nil {
		return fmt.Errorf("send signal %d to %d: %w", int(sig), target, err)
	}
	return nil
}

// stop refuses new processes from now on.
func (r *reaper) stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
}

// reap reaps every child that has exited, without blocking.
func (r *reaper) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.all {
		for pid := range r.waiting {
			r.reapPid(pid)
		}
		r.empty = len(r.waiting) == 0
		return
	}
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.ECHILD):
			r.empty = true
			return
		case err != nil || pid <= 0: // 0: children left, none exited
			return
		}
		r.deliver(pid, waitStatusCode(ws))
	}
}

// reapPid reaps pid if it has exited. Guarded by mu.
func (r *reaper) reapPid(pid int) {
	var ws syscall.WaitStatus
	wpid, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	for errors.Is(err, syscall.EINTR) {
		wpid, err = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	}
	switch {
	case err != nil: // ECHILD: not ours after all; nothing will ever come
		r.deliver(pid, statusFailure)
	case wpid == pid:
		r.deliver(pid, waitStatusCode(ws))
	}
}

// deliver hands pid's status to its waiter. Guarded by mu.
func (r *reaper) deliver(pid, status int) {
	if ch, ok := r.waiting[pid]; ok {
		ch <- status
		delete(r.waiting, pid)
	}
}

// waitEmpty reaps until urunit has no children left or the deadline has
// passed, and reports whether none are left. Only PID 1 knows: the tests'
// reaper sees registered children only.
func (r *reaper) waitEmpty(deadline time.Time) bool {
	for {
		r.reap()
		r.mu.Lock()
		empty := r.empty
		r.mu.Unlock()
		if empty || !time.Now().Before(deadline) {
			return empty
		}
		time.Sleep(5 * time.Millisecond)
	}
}
