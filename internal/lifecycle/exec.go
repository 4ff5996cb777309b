package lifecycle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/agent"
	"github.com/urunc-runtime/urunc/internal/planner"
)

// ExecProcessEnv carries the guest process to the exec proxy (JSON
// agent.Process) in its environment, which only its user and root read.
const ExecProcessEnv = "URUNC_EXEC_PROCESS"

// Exec runs an extra process in a running container: in a plain container
// as runc does; in a Linux guest through urunit's agent, by an exec proxy
// (`urunc exec-proxy`) that runs in the VMM's container as a real process
// whose stdio, signals and exit status are the guest process's, so that
// --detach, --pid-file, --console-socket and a shim reaping it work as
// they do with runc. Other guests have nothing to run a process with.
func (r *Runtime) Exec(id string, p *specs.Process, o IOOpts) (int, error) {
	c, err := r.load(id)
	if err != nil {
		return -1, err
	}
	if r.isUnikernel(id) {
		// A guest that cannot exec says so whatever its state.
		if p, err = r.execProxy(id, p); err != nil {
			return -1, err
		}
	}
	st, err := c.Status()
	if err != nil {
		return -1, fmt.Errorf("container %q: %w", id, err)
	}
	if st != libcontainer.Running {
		return -1, fmt.Errorf("cannot exec in container %q that is %s", id, st)
	}
	return r.runProcess(p, o, o.Detach, false, c.Run, nil)
}

// execProxy is the process that stands for p in the VMM's container: the
// container's user (the supervisor's, whose control socket it connects
// to), no capabilities, p's terminal.
func (r *Runtime) execProxy(id string, p *specs.Process) (*specs.Process, error) {
	plan, err := r.readPlan(id)
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", id, err)
	}
	if plan.ControlSocket == "" {
		return nil, fmt.Errorf("container %q: %w: a %s guest has no agent to run a process in (only linux guests do)",
			id, ErrUnikernelExec, plan.Guest)
	}
	if len(p.Args) == 0 {
		return nil, fmt.Errorf("container %q: exec: process.args is empty", id)
	}
	gp := agent.Process{Args: p.Args, Env: p.Env, Cwd: p.Cwd, UID: p.User.UID, GID: p.User.GID,
		AdditionalGids: p.User.AdditionalGids, Terminal: p.Terminal}
	if p.ConsoleSize != nil {
		gp.Size = &agent.WindowSize{Rows: uint16(p.ConsoleSize.Height), Cols: uint16(p.ConsoleSize.Width)}
	}
	data, err := json.Marshal(gp)
	if err != nil {
		return nil, fmt.Errorf("container %q: exec: %w", id, err)
	}
	init, err := r.InitProcess(id)
	if err != nil {
		return nil, err
	}
	return &specs.Process{
		Args:            []string{planner.MonitorSelf, "exec-proxy", plan.ControlSocket},
		Env:             []string{"PATH=/usr/bin:/bin", ExecProcessEnv + "=" + string(data)},
		Cwd:             "/",
		User:            specs.User{UID: init.User.UID, GID: init.User.GID},
		Terminal:        p.Terminal,
		ConsoleSize:     p.ConsoleSize,
		NoNewPrivileges: true,
		Capabilities:    &specs.LinuxCapabilities{},
		ApparmorProfile: p.ApparmorProfile,
	}, nil
}

// InitProcess returns the process of the container's bundle, the base that
// exec builds on when no --process file is given (as runc does).
func (r *Runtime) InitProcess(id string) (*specs.Process, error) {
	st, err := r.State(id)
	if err != nil {
		return nil, err
	}
	spec, err := loadSpec(st.Bundle)
	if err != nil {
		return nil, err
	}
	p := *spec.Process
	p.Terminal, p.ConsoleSize = false, nil
	return &p, nil
}

// signalExecProxies sends sig to the container's processes that are
// neither its init nor a child of it (the VMM): the exec proxies.
func signalExecProxies(c *libcontainer.Container, sig unix.Signal) {
	st, err := c.State()
	if err != nil {
		return
	}
	pids, err := c.Processes()
	if err != nil {
		return
	}
	for _, pid := range pids {
		if pid == st.InitProcessPid {
			continue
		}
		if ppid, err := parentPid(pid); err == nil && ppid != st.InitProcessPid {
			_ = unix.Kill(pid, sig)
		}
	}
}

// parentPid reads a process's parent from /proc/<pid>/stat.
func parentPid(pid int) (int, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold anything: the fields
	// after its last ')' are "state ppid ...".
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	return strconv.Atoi(f[1])
}

// supervisorWait bounds how long kill waits for a just-started supervisor
// to take signals.
const supervisorWait = 5 * time.Second

// awaitSupervisor waits until the supervisor of a Linux guest that was
// just started can take a signal: it listens on its control socket only
// once its handlers are in. A signal sent before would meet Go's default
// action and end the supervisor (status 2), not reach the application.
func (r *Runtime) awaitSupervisor(id string) {
	p, err := r.readPlan(id)
	if err != nil || p.ControlSocket == "" {
		return
	}
	sock := filepath.Join(r.vmDir(id), planner.RunDir, planner.ControlSocket)
	for deadline := time.Now().Add(supervisorWait); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Lstat(sock); err == nil {
			return
		}
		c, err := r.load(id)
		if err != nil {
			return
		}
		if st, err := c.Status(); err != nil || st != libcontainer.Running {
			return // not started, or gone: libcontainer answers the signal
		}
	}
}
