package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/fault"
	"github.com/urunc-runtime/urunc/internal/launcher"
	"github.com/urunc-runtime/urunc/internal/planner"
)

// Start runs the user process of a created container.
func (r *Runtime) Start(id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	st, err := c.Status()
	if err != nil {
		return fmt.Errorf("container %q: %w", id, err)
	}
	switch st {
	case libcontainer.Created:
		return r.exec(c)
	case libcontainer.Stopped:
		return fmt.Errorf("cannot start container %q: it has stopped", id)
	case libcontainer.Running:
		return fmt.Errorf("cannot start container %q: it is already running", id)
	default:
		return fmt.Errorf("cannot start container %q in state %s", id, st)
	}
}

// exec releases a created container's process; a unikernel's network is
// wired first, as the launcher needs it.
func (r *Runtime) exec(c *libcontainer.Container) error {
	tr := r.tracer(c.ID())
	tr.Mark("start")
	if r.isUnikernel(c.ID()) {
		if err := r.checkVMMBinary(c); err != nil {
			return fmt.Errorf("start container %q: %w", c.ID(), err)
		}
		if err := r.setupNetwork(c.ID(), c); err != nil {
			return fmt.Errorf("start container %q: %w", c.ID(), err)
		}
		tr.Mark("network-ready")
		r.logVMMArgv(c.ID())
		fault.Point(fault.StartNetworkWritten)
	}
	if err := c.Exec(); err != nil {
		return fmt.Errorf("start container %q: %w", c.ID(), err)
	}
	fault.Point(fault.StartReleased)
	tr.Mark("started")
	return nil
}

// logVMMArgv logs, at debug level, the VMM argv the launcher is about to
// run: launcher.Describe builds it from the plan and network files the
// launcher reads, with the same code, so it needs no wait for the launcher's
// own record (run/vmm-argv.json), which is the copy kept after start.
func (r *Runtime) logVMMArgv(id string) {
	if r.Log == nil || !r.Log.IsLevelEnabled(logrus.DebugLevel) {
		return // no files read when nobody would see the line
	}
	log := r.Log.WithField("id", id)
	rec, err := launcher.Describe(filepath.Join(r.vmDir(id), shareDir))
	if err != nil {
		log.WithError(err).Debug("VMM argv: cannot compute it (the launcher will fail the same way)")
		return
	}
	data, err := json.Marshal(rec)
	if err != nil {
		log.WithError(err).Debug("VMM argv")
		return
	}
	log.WithField("file", filepath.Join(r.vmDir(id), planner.RunDir, launcher.ArgvFile)).Debugf("VMM argv: %s", data)
}

// Kill sends sig to the container's init, as runc does. For a unikernel
// that is the VMM, or, for a guest that runs the agent, the supervisor,
// which passes the signal to the guest's application (and kills the VMM
// when a stop signal has not stopped it within [linux]
// stop_grace_seconds). With all, a signal other than SIGKILL also reaches
// the exec proxies, which pass it to their guest processes, but never
// the VMM: it would end the VM under the application.
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if sig != unix.SIGKILL {
		r.awaitSupervisor(id)
	}
	err = c.Signal(sig)
	fault.Point(fault.KillSignalled)
	if errors.Is(err, libcontainer.ErrNotRunning) && all {
		return nil
	}
	if err != nil {
		return fmt.Errorf("kill container %q: %w", id, err)
	}
	if all && sig != unix.SIGKILL && r.isUnikernel(id) {
		signalExecProxies(c, sig)
	}
	return nil
}

// Delete removes a stopped container; with force it kills a running one
// first. Deleting a container that does not exist is an error unless force.
func (r *Runtime) Delete(id string, force bool) error {
	c, err := r.load(id)
	if errors.Is(err, libcontainer.ErrNotExist) {
		// A create that died half-way may have left a VM folder; one that
		// is still running holds it, and keeps it.
		if serr := r.removeStaleVMDir(id, force); serr != nil {
			return serr
		}
		if force {
			return r.removeOrphanState(id)
		}
		return err
	}
	if err != nil {
		return err
	}
	st, err := c.Status()
	if err != nil {
		return fmt.Errorf("container %q: %w", id, err)
	}
	switch st {
	case libcontainer.Stopped:
		err = c.Destroy()
	case libcontainer.Created:
		err = killContainer(c)
	default:
		if !force {
			return fmt.Errorf("cannot delete container %q that is %s: stop it first or use --force", id, st)
		}
		err = killContainer(c)
	}
	if err != nil {
		return fmt.Errorf("delete container %q: %w", id, err)
	}
	fault.Point(fault.DeleteKilled)
	return r.removeVM(id)
}

// removeVM undoes what start and create set up for a unikernel container,
// from its host record (nothing for a plain container).
func (r *Runtime) removeVM(id string) error {
	h, err := r.readRecord(id)
	if err == nil {
		err = r.removeRecorded(id, h)
	}
	if err != nil {
		// The folder stays, with the record: a later delete --force retries.
		return fmt.Errorf("delete container %q: %w", id, err)
	}
	r.removeVMDir(id)
	return nil
}

// killContainer kills the init, waits up to 10 s for it to go, and destroys.
// A killed process is gone within milliseconds: polling finely keeps
// delete --force from sleeping 100 ms for one that was just exiting.
func killContainer(c *libcontainer.Container) error {
	_ = c.Signal(unix.SIGKILL)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if err := c.Signal(unix.Signal(0)); err != nil {
			return c.Destroy()
		}
	}
	return errors.New("container init still running 10 s after SIGKILL")
}

// Ps lists the host pids of the container's processes.
func (r *Runtime) Ps(id string) ([]int, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	pids, err := c.Processes()
	if err != nil {
		return nil, fmt.Errorf("list processes of %q: %w", id, err)
	}
	return pids, nil
}

// Pause and Resume freeze and thaw the container's cgroup (the VMM too).
func (r *Runtime) Pause(id string) error { return r.withContainer(id, (*libcontainer.Container).Pause) }
func (r *Runtime) Resume(id string) error {
	return r.withContainer(id, (*libcontainer.Container).Resume)
}

func (r *Runtime) withContainer(id string, f func(*libcontainer.Container) error) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if err := f(c); err != nil {
		return fmt.Errorf("container %q: %w", id, err)
	}
	return nil
}

// removeOrphanState removes the state folder libcontainer made for id
// when it holds no state: a create killed between libcontainer's Create and
// the init's start leaves one, which no Load finds and which would make the
// id's next create fail.
func (r *Runtime) removeOrphanState(id string) error {
	dir := filepath.Join(r.Root, id)
	if _, err := os.Stat(filepath.Join(dir, "state.json")); !errors.Is(err, os.ErrNotExist) {
		return nil // a state (Load failed otherwise), or no folder to look into
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove the empty state folder of %q: %w", id, err)
	}
	return nil
}

// checkVMMBinary fails start, rather than the launcher after it, when the
// VMM's executable is gone from the container's view since create (a host
// folder's file removed; a file bound in by itself stays).
func (r *Runtime) checkVMMBinary(c *libcontainer.Container) error {
	p, err := r.readPlan(c.ID())
	if err != nil {
		return err
	}
	st, err := c.State()
	if err != nil {
		return fmt.Errorf("container state: %w", err)
	}
	inside := filepath.Join("/proc", strconv.Itoa(st.InitProcessPid), "root", p.Spec.Binary)
	if _, err := os.Stat(inside); err != nil {
		return fmt.Errorf("hypervisor %s: binary %q is gone (reinstall it, or set [%s] binary in %s): %w",
			p.VMM, p.Spec.Binary, p.VMM, r.Config.Path, err)
	}
	return nil
}
