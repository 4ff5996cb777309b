package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/fault"
	"github.com/urunc-runtime/urunc/internal/unikernel"
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
	cr := &creation{r: r, opts: opts, spec: spec, cspec: spec, meta: meta}
	defer cr.release()
	sr := r.newStepRunner(opts.ID)
	if err := sr.run(cr.steps()...); err != nil {
		return -1, err
	}
	status, err := r.startProcess(cr.c, cr.cspec.Process, opts.IO, run, cr.afterStart)
	if err == nil && !run {
		fault.Point(fault.CreateCreated)
	}
	if err != nil || (run && !opts.IO.Detach) {
		sr.undo() // a foreground run is over: remove it as runc does
	}
	return status, err
}

// podSandboxAnnotations mark a pod's sandbox (pause) container. CRI puts the
// pod's annotations on it too, so unikernel metadata there belongs to the
// pod's other containers: the sandbox always runs as a plain container.
var podSandboxAnnotations = map[string]string{
	"io.kubernetes.cri.container-type":  "sandbox",    // containerd
	"io.kubernetes.cri-o.ContainerType": "sandbox",    // CRI-O
	"io.kubernetes.docker.type":         "podsandbox", // dockershim
}

// unikernelConfig reads the bundle's unikernel metadata; nil for a plain
// container.
func (r *Runtime) unikernelConfig(spec *specs.Spec, bundle string) (*unikernel.Config, error) {
	for k, v := range podSandboxAnnotations {
		if spec.Annotations[k] == v {
			return nil, nil
		}
	}
	meta, err := unikernel.Load(spec.Annotations, rootfsPath(bundle, spec))
	if err != nil {
		return nil, fmt.Errorf("unikernel metadata: %w", err)
	}
	if meta == nil {
		if why, err := r.unikernelRequired(spec.Annotations); err != nil || why != "" {
			if err == nil {
				err = fmt.Errorf("%w: the image carries no unikernel metadata (com.urunc.unikernel.* keys in the "+
					"spec's annotations, the image's manifest annotations or config labels, or /urunc.json) and %s",
					ErrNotUnikernel, why)
			}
			return nil, err
		}
	}
	return meta, nil
}

// ErrNotUnikernel is returned at create for a plain container where a
// unikernel is required.
var ErrNotUnikernel = errors.New("not a unikernel")

// unikernelRequired says why a plain container is refused: "" when it is
// not.
func (r *Runtime) unikernelRequired(annotations map[string]string) (string, error) {
	switch v := annotations[unikernel.KeyRequired]; v {
	case "true":
		return "the annotation " + unikernel.KeyRequired + " requires one", nil
	case "", "false":
	default:
		return "", fmt.Errorf("annotation %s: %q is not true or false", unikernel.KeyRequired, v)
	}
	if r.Config.Security.RequireUnikernel {
		return fmt.Sprintf("[security] require_unikernel in %s requires one (pod sandboxes excepted)", r.Config.Path), nil
	}
	return "", nil
}

// creation is one create in progress: what its steps made so far.
type creation struct {
	r     *Runtime
	opts  CreateOpts
	spec  *specs.Spec // the client's
	meta  *unikernel.Config
	files *vettedFiles // the image's files, open until the init bound them
	vs    *vmSetup
	lock  *os.File    // the VM folder's claim, held until libcontainer's state exists
	cspec *specs.Spec // the container's: the VMM's for a unikernel
	c     *libcontainer.Container
	// afterStart are steps that wait for the container's init to have set
	// up its mounts.
	afterStart []func() error
}

// steps are the steps of create: for a unikernel, plan and prepare the
// VM, then create the VMM's container; for a plain container, create it.
func (cr *creation) steps() []step {
	r, id := cr.r, cr.opts.ID
	create := step{name: "create container", mark: "container-created", do: cr.createContainer, undo: cr.destroy}
	if cr.meta == nil {
		return []step{create}
	}
	rootfs := rootfsPath(cr.opts.Bundle, cr.spec)
	return []step{
		{name: "open image files", do: func() (err error) {
			cr.files, err = openImageFiles(cr.meta, rootfs)
			return err
		}, undo: func() { cr.files.Close() }},
		{name: "plan vm", mark: "planned", do: func() (err error) {
			if cr.vs, err = r.plan(cr.meta, cr.files, cr.spec, rootfs); err != nil {
				return err
			}
			cr.vs.plan.TraceFile, cr.vs.plan.ID = r.traceMount(), id
			return nil
		}},
		{name: "claim vm folder", do: func() (err error) {
			cr.lock, err = r.claimVMDir(id)
			return err
		}, undo: func() { r.removeVMDir(id) }},
		{name: "prepare vm", mark: "vm-prepared", do: func() error { return r.prepareVM(id, cr.vs, cr.spec) }},
		{name: "build the vmm's spec", do: func() error {
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find urunc binary: %w", err)
			}
			cr.cspec, err = monitorSpec(cr.spec, cr.vs, self)
			return err
		}},
		create,
	}
}

// createContainer creates the libcontainer container and, for a
// unikernel, the checks that follow the init's mounts.
func (cr *creation) createContainer() error {
	c, err := cr.r.newContainer(cr.opts, cr.cspec)
	if err != nil {
		return err
	}
	cr.c = c
	if vs := cr.vs; vs != nil {
		files := cr.files
		cr.afterStart = append(cr.afterStart, func() error {
			defer files.Close()
			st, err := c.State()
			if err != nil {
				return fmt.Errorf("container state: %w", err)
			}
			return verifyBinds(st.InitProcessPid, vs.binds())
		})
		if vs.block != nil {
			cr.afterStart = append(cr.afterStart, func() error { return cr.r.releaseBlockRoot(cr.opts.ID, vs.block, vs.rootfs) })
		}
	}
	return nil
}

// destroy removes the container and, for a unikernel, what start and
// create set up for its VM.
func (cr *creation) destroy() {
	if err := cr.c.Destroy(); err != nil {
		cr.r.Log.WithError(err).Warn("destroy container")
	}
	if cr.meta != nil {
		if err := cr.r.removeVM(cr.opts.ID); err != nil {
			cr.r.Log.WithError(err).Warn("remove vm")
		}
	}
}

// release lets go of the VM folder's claim, which libcontainer's state now
// guards (or which failed), once create returns.
func (cr *creation) release() {
	if cr.lock != nil {
		cr.lock.Close()
	}
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
		return nil, fmt.Errorf("container %q: %w", opts.ID, err)
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
	r.removeVMParent()
}

// removeVMParent removes the folder of the VM folders once the last is
// gone, with the claims that creates killed before their rename left
// (sweepClaims): nothing of urunc stays in a state root its client empties.
func (r *Runtime) removeVMParent() {
	parent := filepath.Join(r.Root, vmDirName)
	sweepClaims(parent)
	_ = os.Remove(parent) // fails while other VM folders remain
}
