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
	return filepath.Join(r.vmDir(id), runDir, controlSocket)
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
	if !stopSignals[sig] {
		if err != nil {
			return fmt.Errorf("kill container %q: %w", c.ID(), err)
		}
		return nil
	}
	return r.startStopWatch(c.ID(), sig, err == nil)
}

// startStopWatch runs `urunc stop-watch` detached, so that kill returns at
// once as runc's does.
func (r *Runtime) startStopWatch(id string, sig unix.Signal, delivered bool) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("kill container %q: find urunc binary: %w", id, err)
	}
	args := append(append([]string{}, r.GlobalArgs...), "stop-watch",
		"--signal", strconv.Itoa(int(sig)), "--delivered="+strconv.FormatBool(delivered), id)
	cmd := exec.Command(self, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("kill container %q: start stop watcher: %w", id, err)
	}
	return cmd.Process.Release()
}

// StopWatch waits for the container to stop after sig was sent, sends sig
// again while the guest has not taken it, and kills the VMM when the grace
// period is over.
func (r *Runtime) StopWatch(id string, sig unix.Signal, delivered bool) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Duration(r.Config.Linux.StopGraceSeconds) * time.Second)
	for time.Now().Before(deadline) {
		c, err := libcontainer.Load(r.Root, id)
		if err != nil {
			return nil // deleted meanwhile
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
	if err != nil {
		return nil
	}
	r.Log.WithField("id", id).Infof("guest did not stop within %ds of signal %d: killing the VMM", r.Config.Linux.StopGraceSeconds, sig)
	if err := c.Signal(unix.SIGKILL); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
		return fmt.Errorf("kill container %q after grace period: %w", id, err)
	}
	return nil
}
