package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	taskAPI "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2/task"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/containerd/v2/pkg/shutdown"
	"github.com/containerd/containerd/v2/plugins"
	"github.com/containerd/log"
	"github.com/containerd/platforms"
	"github.com/containerd/plugin"
	"github.com/containerd/plugin/registry"
	"github.com/containerd/ttrpc"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/urunc-runtime/urunc/internal/imagemeta"
)

// The runc shim's task service, with one change: before create, the
// unikernel keys of the container's image (manifest annotations, config
// labels) are merged into the bundle's annotations, which containerd's ctr,
// nerdctl and CRI do not copy there themselves.
func init() {
	registry.Register(&plugin.Registration{
		Type:     plugins.TTRPCPlugin,
		ID:       "task",
		Requires: []plugin.Type{plugins.EventPlugin, plugins.InternalPlugin},
		InitFn: func(ic *plugin.InitContext) (interface{}, error) {
			pp, err := ic.GetByID(plugins.EventPlugin, "publisher")
			if err != nil {
				return nil, err
			}
			ss, err := ic.GetByID(plugins.InternalPlugin, "shutdown")
			if err != nil {
				return nil, err
			}
			ts, err := task.NewTaskService(ic.Context, pp.(shim.Publisher), ss.(shutdown.Service))
			if err != nil {
				return nil, err
			}
			return &imageTask{TTRPCTaskService: ts, address: ic.Properties[plugins.PropertyGRPCAddress]}, nil
		},
	})
}

// imageTask is the runc shim's task service with Create wrapped.
type imageTask struct {
	taskAPI.TTRPCTaskService
	address string // containerd's API socket
}

// RegisterTTRPC registers the wrapper, not the service inside it.
func (t *imageTask) RegisterTTRPC(server *ttrpc.Server) error {
	taskAPI.RegisterTTRPCTaskService(server, t)
	return nil
}

// imageLookup bounds the calls to containerd before create.
const imageLookup = 10 * time.Second

// maxConfigBlob bounds the image config read: the image is not trusted.
const maxConfigBlob = 4 << 20

// Create merges the image's unikernel metadata into the bundle, then
// creates as runc's shim does. An image that cannot be read (none, or one
// containerd does not hold, as under Docker) leaves the bundle as it is:
// /urunc.json may still say what the image is.
func (t *imageTask) Create(ctx context.Context, r *taskAPI.CreateTaskRequest) (*taskAPI.CreateTaskResponse, error) {
	if err := t.annotateBundle(ctx, r.ID, r.Bundle); err != nil {
		log.G(ctx).WithError(err).Warn("urunc: image metadata not merged into the bundle")
	}
	return t.TTRPCTaskService.Create(ctx, r)
}

func (t *imageTask) annotateBundle(ctx context.Context, id, bundle string) error {
	if t.address == "" {
		return errors.New("no containerd address")
	}
	ns, err := namespaces.NamespaceRequired(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(namespaces.WithNamespace(context.WithoutCancel(ctx), ns), imageLookup)
	defer cancel()
	manifest, labels, err := t.imageMetadata(ctx, ns, id)
	if err != nil || (len(manifest) == 0 && len(labels) == 0) {
		return err
	}
	return mergeIntoBundle(bundle, manifest, labels)
}

// imageMetadata returns the manifest annotations and config labels of
// container id's image, nil for a container without one.
func (t *imageTask) imageMetadata(ctx context.Context, ns, id string) (map[string]string, map[string]string, error) {
	c, err := client.New(t.address, client.WithDefaultNamespace(ns), client.WithTimeout(imageLookup))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to containerd: %w", err)
	}
	defer c.Close()
	ctr, err := c.ContainerService().Get(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: %w", id, err)
	}
	if ctr.Image == "" {
		return nil, nil, nil
	}
	img, err := c.ImageService().Get(ctx, ctr.Image)
	if err != nil {
		return nil, nil, fmt.Errorf("image %s: %w", ctr.Image, err)
	}
	cs := c.ContentStore()
	m, err := images.Manifest(ctx, cs, img.Target, platforms.Default())
	if err != nil {
		return nil, nil, fmt.Errorf("image %s: manifest: %w", ctr.Image, err)
	}
	if m.Config.Size > maxConfigBlob {
		return m.Annotations, nil, fmt.Errorf("image %s: config of %d bytes, over %d", ctr.Image, m.Config.Size, maxConfigBlob)
	}
	data, err := content.ReadBlob(ctx, cs, m.Config)
	if err != nil {
		return m.Annotations, nil, fmt.Errorf("image %s: config: %w", ctr.Image, err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(data, &cfg); err != nil {
		return m.Annotations, nil, fmt.Errorf("image %s: config: %w", ctr.Image, err)
	}
	return m.Annotations, cfg.Config.Labels, nil
}

// mergeIntoBundle rewrites the bundle's config.json with the image's
// metadata merged into its annotations (imagemeta.Merge), every other
// field kept as it was.
func mergeIntoBundle(bundle string, manifest, labels map[string]string) error {
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var spec map[string]json.RawMessage
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var ann map[string]string
	if raw, ok := spec["annotations"]; ok {
		if err := json.Unmarshal(raw, &ann); err != nil {
			return fmt.Errorf("%s: annotations: %w", path, err)
		}
	}
	merged, taken := imagemeta.Merge(ann, manifest, labels)
	if len(taken) == 0 {
		return nil
	}
	if spec["annotations"], err = json.Marshal(merged); err != nil {
		return err
	}
	out, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".urunc.tmp"
	if err := os.WriteFile(tmp, out, fi.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
