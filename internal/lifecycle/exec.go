package lifecycle

import (
	"fmt"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Exec runs an extra process in a running plain container. A unikernel
// container has no process environment to run it in: that is an error.
func (r *Runtime) Exec(id string, p *specs.Process, o IOOpts) (int, error) {
	if r.isUnikernel(id) {
		return -1, fmt.Errorf("container %q: %w", id, ErrUnikernelExec)
	}
	c, err := r.load(id)
	if err != nil {
		return -1, err
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
