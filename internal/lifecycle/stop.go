package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/control"
	"github.com/urunc-runtime/urunc/internal/fault"
	"github.com/urunc-runtime/urunc/internal/planner"
)

// stopSignals end a guest's application: urunc asks the guest to stop and
// kills the VMM if it has not stopped when the grace period is over.
var stopSignals = map[unix.Signal]bool{unix.SIGTERM: true, unix.SIGINT: true, unix.SIGHUP: true, unix.SIGQUIT: true}

// How long one delivery over the control channel may take, and how often
// a pending delivery or the container's status is looked at again.
const (
	controlTimeout = time.Second
	stopPoll       = 200 * time.Millisecond
)

func (r *Runtime) controlPath(id string) string {
	return filepath.Join(r.vmDir(id), planner.RunDir, planner.ControlSocket)
}

// hasControl tells whether the container's guest serves a control channel
// (its VMM may not have created the socket yet).
func (r *Runtime) hasControl(id string) bool {
	p, err := r.readPlan(id)
	return err == nil && p.ControlSocket != ""
}

// signalGuest passes sig to the guest's application over the control
// channel. For a stop signal it then starts a watcher that kills the VMM
// after the grace period, and that also delivers sig again if the guest
// was still booting and did not take it.
func (r *Runtime) signalGuest(c *libcontainer.Container, sig unix.Signal) error {
	if st, err := c.Status(); err != nil || st != libcontainer.Running {
		return c.Signal(sig) // libcontainer's own answer for a container that does not run
	}
	err := control.Signal(r.controlPath(c.ID()), sig, controlTimeout)
	fault.Point(fault.KillSignalled)
	if !stopSignals[sig] {
		if err != nil {
			return fmt.Errorf("kill container %q: %w", c.ID(), err)
		}
		return nil
	}
	st, serr := c.State()
	if serr != nil {
		return fmt.Errorf("kill container %q: %w", c.ID(), serr)
	}
	return r.startStopWatch(c.ID(), sig, err == nil, st.InitProcessStartTime)
}

// startStopWatch runs `urunc stop-watch` detached, so that kill returns at
// once as runc's does.
func (r *Runtime) startStopWatch(id string, sig unix.Signal, delivered bool, initStart uint64) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("kill container %q: find urunc binary: %w", id, err)
	}
	args := append(append([]string{}, r.GlobalArgs...), "stop-watch",
		"--signal", strconv.Itoa(int(sig)), "--delivered="+strconv.FormatBool(delivered),
		"--init-start-time", strconv.FormatUint(initStart, 10), id)
	cmd := exec.Command(self, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("kill container %q: start stop watcher: %w", id, err)
	}
	// Recorded so that delete stops it; a watcher not recorded still
	// leaves by itself once the container is gone.
	if p, err := processID(cmd.Process.Pid); err == nil {
		if err := r.updateRecord(id, func(h *hostRecord) { h.Watchers = append(liveWatchers(h.Watchers), p) }); err != nil {
			r.Log.WithError(err).Warn("record the stop watcher")
		}
	}
	fault.Point(fault.KillWatcherStarted)
	return cmd.Process.Release()
}

// liveWatchers drops the watchers that have ended from a record.
func liveWatchers(ws []procID) []procID {
	var out []procID
	for _, w := range ws {
		if w.alive() {
			out = append(out, w)
		}
	}
	return out
}

// StopWatch waits for the container to stop after sig was sent, sends sig
// again while the guest has not taken it, and kills the VMM when the grace
// period is over.
// initStart is the start time of the init kill signalled (0 from an older
// kill: any init); a container of that id whose init differs is another
// one, created since, and is left alone.
func (r *Runtime) StopWatch(id string, sig unix.Signal, delivered bool, initStart uint64) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Duration(r.Config.Linux.StopGraceSeconds) * time.Second)
	for time.Now().Before(deadline) {
		c, err := libcontainer.Load(r.Root, id)
		if err != nil || !sameInit(c, initStart) {
			return nil // deleted meanwhile, or replaced
		}
		if st, err := c.Status(); err != nil || st == libcontainer.Stopped {
			return nil
		}
		if !delivered {
			delivered = control.Signal(r.controlPath(id), sig, controlTimeout) == nil
		}
		time.Sleep(stopPoll)
	}
	c, err := libcontainer.Load(r.Root, id)
	if err != nil || !sameInit(c, initStart) {
		return nil
	}
	r.Log.WithField("id", id).Infof("guest did not stop within %ds of signal %d: killing the VMM", r.Config.Linux.StopGraceSeconds, sig)
	if err := c.Signal(unix.SIGKILL); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
		return fmt.Errorf("kill container %q after grace period: %w", id, err)
	}
	return nil
}

// sameInit tells whether c's init is the one that started at initStart
// (any init when initStart is 0).
func sameInit(c *libcontainer.Container, initStart uint64) bool {
	if initStart == 0 {
		return true
	}
	st, err := c.State()
	return err == nil && st.InitProcessStartTime == initStart
}
