package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-dev/urunc/internal/unikernel"
)

// CreateOpts are the create/run flags that change what is created.
type CreateOpts struct {
	ID           string
	Bundle       string
	NoPivot      bool
	NoNewKeyring bool
	IO           IOOpts
}

// Create creates a container and, unless opts says run, leaves it created;
// it returns the container's exit status for a foreground run.
func (r *Runtime) Create(opts CreateOpts, run bool) (int, error) {
	if err := ValidateID(opts.ID); err != nil {
		return -1, err
	}
	tr := r.tracer(opts.ID)
	tr.Mark("create")
	if err := os.Chdir(opts.Bundle); err != nil {
		return -1, fmt.Errorf("bundle %q: %w", opts.Bundle, err)
	}
	spec, err := loadSpec(".")
	if err != nil {
		return -1, err
	}
	if _, err := libcontainer.Load(r.Root, opts.ID); err == nil {
		return -1, fmt.Errorf("container %q: %w", opts.ID, libcontainer.ErrExist)
	}
	meta, err := r.unikernelConfig(spec, opts.Bundle)
	if err != nil {
		return -1, err
	}
	tr.Mark("bundle-parsed")
	c, proc, undo, err := r.createContainer(opts, spec, meta)
	if err != nil {
		return -1, err
	}
	tr.Mark("container-created")
	status, err := r.startProcess(c, proc, opts.IO, run)
	if err != nil || (run && !opts.IO.Detach) {
		undo() // a foreground run is over: remove it as runc does
	}
	return status, err
}

// sandboxAnnotations mark a pod's sandbox (pause) container. CRI puts the
// pod's annotations on it too, so unikernel metadata there belongs to the
// pod's other containers: the sandbox always runs as a plain container.
var sandboxAnnotations = map[string]string{
	"io.kubernetes.cri.container-type":  "sandbox",    // containerd
	"io.kubernetes.cri-o.ContainerType": "sandbox",    // CRI-O
	"io.kubernetes.docker.type":         "podsandbox", // dockershim
}

// unikernelConfig reads the bundle's unikernel metadata; nil for a plain
// container.
func (r *Runtime) unikernelConfig(spec *specs.Spec, bundle string) (*unikernel.Config, error) {
	for k, v := range sandboxAnnotations {
		if spec.Annotations[k] == v {
			return nil, nil
		}
	}
	meta, err := unikernel.Load(spec.Annotations, rootfsPath(bundle, spec))
	if err != nil {
		return nil, fmt.Errorf("unikernel metadata: %w", err)
	}
	return meta, nil
}

// createContainer creates the libcontainer container, planning and
// preparing the VM first for a unikernel. undo removes all of it.
func (r *Runtime) createContainer(opts CreateOpts, spec *specs.Spec, meta *unikernel.Config) (*libcontainer.Container, *specs.Process, func(), error) {
	cspec := spec
	undo := func() {}
	var vs *vmSetup
	checking := false // the image files are left to the bind check
	if meta != nil {
		files, err := openImageFiles(meta, rootfsPath(opts.Bundle, spec))
		if err != nil {
			return nil, nil, nil, err
		}
		// Open until the init has bound them: they are checked then, by a
		// step that closes them; until that step exists, closed here.
		defer func() {
			if !checking {
				files.Close()
			}
		}()
		vs, err = r.planVM(meta, files, spec, rootfsPath(opts.Bundle, spec))
		if err != nil {
			return nil, nil, nil, err
		}
		vs.plan.TraceFile, vs.plan.ID = r.traceMount(), opts.ID
		r.tracer(opts.ID).Mark("planned")
		lock, err := r.claimVMDir(opts.ID)
		if err != nil {
			return nil, nil, nil, err
		}
		// Held until libcontainer's state exists, which then guards the id.
		defer lock.Close()
		undo = func() { r.removeVMDir(opts.ID) }
		if err := r.prepareVM(opts.ID, vs, spec); err != nil {
			undo()
			return nil, nil, nil, fmt.Errorf("prepare vm: %w", err)
		}
		r.tracer(opts.ID).Mark("vm-prepared")
		self, err := os.Executable()
		if err != nil {
			undo()
			return nil, nil, nil, fmt.Errorf("find urunc binary: %w", err)
		}
		if cspec, err = monitorSpec(spec, vs, self); err != nil {
			undo()
			return nil, nil, nil, err
		}
	}
	c, err := r.newContainer(opts, cspec)
	if err != nil {
		undo()
		return nil, nil, nil, err
	}
	if vs != nil {
		checking = true
		r.afterStart = append(r.afterStart, func() error {
			defer vs.files.Close()
			st, err := c.State()
			if err != nil {
				return fmt.Errorf("container state: %w", err)
			}
			return verifyBinds(st.InitProcessPid, vs.binds())
		})
	}
	if vs != nil && vs.block != nil {
		release := func() error { return releaseBlockRoot(vs.block, vs.rootfs) }
		r.afterStart = append(r.afterStart, release)
	}
	return c, cspec.Process, func() {
		if err := c.Destroy(); err != nil {
			r.Log.WithError(err).Warn("destroy container")
		}
		if meta != nil {
			if err := r.removeVM(opts.ID, c); err != nil {
				r.Log.WithError(err).Warn("remove vm")
			}
		}
	}, nil
}

func (r *Runtime) newContainer(opts CreateOpts, spec *specs.Spec) (*libcontainer.Container, error) {
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:       opts.ID,
		UseSystemdCgroup: r.SystemdCgroup,
		NoPivotRoot:      opts.NoPivot,
		NoNewKeyring:     opts.NoNewKeyring,
		Spec:             spec,
	})
	if err != nil {
		return nil, fmt.Errorf("convert spec: %w", err)
	}
	c, err := libcontainer.Create(r.Root, opts.ID, cfg)
	if err != nil {
		return nil, fmt.Errorf("create container %q: %w", opts.ID, err)
	}
	return c, nil
}

// removeVMDir removes a unikernel container's VM folder.
// The shared parent goes with the last one, so that nothing of urunc stays
// in a state root that its client (containerd) otherwise empties.
func (r *Runtime) removeVMDir(id string) {
	if err := os.RemoveAll(r.vmDir(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.Log.WithError(err).Warnf("remove vm folder of %q", id)
	}
	_ = os.Remove(filepath.Dir(r.vmDir(id))) // fails while other VM folders remain
}
