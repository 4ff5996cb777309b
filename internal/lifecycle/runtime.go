// Package lifecycle is the lifecycle glue of urunc (runc's verbs): it reads an OCI bundle,
// decides whether it is a unikernel or a plain container, and drives runc's
// libcontainer for both. For a unikernel the container's process is the
// launcher, which execs the VMM; the VMM is then the container's pid 1.
package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/urunc-runtime/urunc/internal/config"
	"github.com/urunc-runtime/urunc/internal/launcher"
	"github.com/urunc-runtime/urunc/internal/planner"
	"github.com/urunc-runtime/urunc/internal/trace"
)

// Runtime holds what every verb needs: where state lives and how to log.
type Runtime struct {
	Root          string // state root, as runc's --root
	SystemdCgroup bool
	Config        *config.Config
	Log           *logrus.Logger
	// GlobalArgs are the global flags urunc was called with, passed on to
	// the helper processes it starts.
	GlobalArgs []string
	// TracePath, when set, is the file that phase timestamps go to.
	TracePath string
}

func (r *Runtime) tracer(id string) *trace.Tracer { return trace.New(r.TracePath, id) }

// traceMount is the trace file's path for the launcher, "" when off.
func (r *Runtime) traceMount() string {
	if r.TracePath == "" {
		return ""
	}
	return planner.MonitorTrace
}

// vmDirName is the folder under Root that holds urunc's per-container VM
// data; container ids equal to it are refused.
const vmDirName = ".urunc"

// ErrUnikernelExec is returned by exec into a unikernel container whose
// guest runs no agent.
var ErrUnikernelExec = errors.New("exec is not supported for this guest")

// load opens an existing container.
func (r *Runtime) load(id string) (*libcontainer.Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	c, err := libcontainer.Load(r.Root, id)
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", id, err)
	}
	return c, nil
}

// vmDir is the folder holding a unikernel container's VM data.
func (r *Runtime) vmDir(id string) string {
	return filepath.Join(r.Root, vmDirName, id)
}

// isUnikernel tells whether container id was created as a unikernel.
func (r *Runtime) isUnikernel(id string) bool {
	_, err := os.Stat(filepath.Join(r.vmDir(id), shareDir, launcher.PlanFile))
	return err == nil
}

// loadSpec reads and checks the bundle's config.json.
func loadSpec(bundle string) (*specs.Spec, error) {
	path := filepath.Join(bundle, "config.json")
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("bundle %q: config.json not found: pass the bundle folder with --bundle", bundle)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	var spec specs.Spec
	if err := json.NewDecoder(f).Decode(&spec); err != nil {
		return nil, fmt.Errorf("parse %s: %w: the file must be an OCI runtime spec in JSON", path, err)
	}
	if err := validateSpec(&spec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &spec, nil
}

func validateSpec(s *specs.Spec) error {
	switch {
	case s.Root == nil || s.Root.Path == "":
		return errors.New("root.path must be set")
	case s.Process == nil:
		return errors.New("process must be set")
	case s.Process.Cwd == "" || !filepath.IsAbs(s.Process.Cwd):
		return fmt.Errorf("process.cwd %q must be an absolute path", s.Process.Cwd)
	case len(s.Process.Args) == 0:
		return errors.New("process.args must not be empty")
	case s.Linux == nil:
		return errors.New("linux section must be set")
	}
	return nil
}

// rootfsPath returns the host path of the bundle's rootfs.
func rootfsPath(bundle string, s *specs.Spec) string {
	if filepath.IsAbs(s.Root.Path) {
		return s.Root.Path
	}
	return filepath.Join(bundle, s.Root.Path)
}
