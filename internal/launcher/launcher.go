// Package launcher is the step that runs inside the container at start: it
// reads the VM plan that create wrote, builds the VMM's final argv and
// execs it, so that the VMM becomes the container's pid 1.
package launcher

import (
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/urunc-dev/urunc/internal/vmm"
)

// Plan is what the launcher needs to exec the VMM.
type Plan struct {
	VMM  vmm.Name `json:"vmm"`
	Spec vmm.Spec `json:"spec"`
}

// ReadPlan reads a plan written by the runtime.
func ReadPlan(path string) (Plan, error) {
	var p Plan
	data, err := os.ReadFile(path)
	if err != nil {
		return p, fmt.Errorf("read vm plan: %w", err)
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, fmt.Errorf("parse vm plan %s: %w", path, err)
	}
	return p, nil
}

// Argv returns the VMM command line for a plan.
func Argv(p Plan) ([]string, error) {
	v, err := vmm.Get(p.VMM)
	if err != nil {
		return nil, err
	}
	args, err := v.Args(p.Spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.VMM, err)
	}
	return args, nil
}

// Exec replaces the current process with the VMM of the plan at path. It
// returns only on failure.
func Exec(path string) error {
	p, err := ReadPlan(path)
	if err != nil {
		return err
	}
	argv, err := Argv(p)
	if err != nil {
		return err
	}
	if err := unix.Exec(argv[0], argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %s %q: %w", p.VMM, argv[0], err)
	}
	return nil
}
