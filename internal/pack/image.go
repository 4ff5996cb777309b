package pack

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/urunc-runtime/urunc/internal/unikernel"
)

// Platform of every image urunc-pack builds.
const (
	OS           = "linux"
	Architecture = "amd64"
)

// createdBy is recorded in the image history.
const createdBy = "urunc-pack"

// Build validates s and returns the image it describes: the application
// rootfs (if any) as one layer, then a layer with the kernel, initrd, block
// image and /urunc.json; the metadata as manifest annotations and config
// labels. Layers read the host files each time they are read.
func Build(s Spec) (v1.Image, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	layers, err := s.layers()
	if err != nil {
		return nil, err
	}
	annotations, labels := s.Annotations(), s.Annotations()
	if s.omits(OmitAnnotations) {
		annotations = nil
	}
	if s.omits(OmitLabels) {
		labels = nil
	}
	img, err := mutate.ConfigFile(baseImage(), s.configFile(labels))
	if err != nil {
		return nil, fmt.Errorf("set image config: %w", err)
	}
	img, err = mutate.Append(img, addenda(layers)...)
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	return mutate.Annotations(img, annotations).(v1.Image), nil
}

// baseImage is an empty image with OCI media types.
func baseImage() v1.Image {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON)
}

func (s *Spec) configFile(labels map[string]string) *v1.ConfigFile {
	return &v1.ConfigFile{
		Architecture: Architecture,
		OS:           OS,
		Created:      v1.Time{Time: epoch},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint: s.Entrypoint,
			Cmd:        s.Cmd,
			Env:        s.Env,
			Labels:     labels,
		},
	}
}

func addenda(layers []v1.Layer) []mutate.Addendum {
	out := make([]mutate.Addendum, len(layers))
	for i, l := range layers {
		out[i] = mutate.Addendum{
			Layer:   l,
			History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: createdBy},
		}
	}
	return out
}

// layers returns the rootfs layer (when s.Rootfs is set) and the boot layer.
func (s *Spec) layers() ([]v1.Layer, error) {
	own, err := s.ownFiles()
	if err != nil {
		return nil, err
	}
	trees := []tree{own}
	if s.Rootfs != "" {
		rootfs, err := walkTree(s.Rootfs)
		if err != nil {
			return nil, err
		}
		if err := checkReserved(rootfs, own); err != nil {
			return nil, err
		}
		trees = []tree{rootfs, own}
	}
	var layers []v1.Layer
	for _, t := range trees {
		l, err := t.layer()
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	return layers, nil
}

// ownFiles lists the files urunc-pack itself writes: kernel, initrd, block
// image and /urunc.json, with their parent directories.
func (s *Spec) ownFiles() (tree, error) {
	meta, err := metadataFile(s.Annotations())
	if err != nil {
		return nil, err
	}
	t := tree{dataEntry(unikernel.MetadataFile, meta)}
	if s.omits(OmitFile) {
		t = nil
	}
	files := []struct {
		dst, src string
		mode     int64
	}{
		{KernelPath, s.Kernel, 0o755},
		{InitrdPath, s.Initrd, 0o644},
		{BlockPath, s.Block, 0o644},
	}
	for _, f := range files {
		if f.src == "" {
			continue
		}
		e, err := fileEntry(cleanName(f.dst), f.src, f.mode)
		if err != nil {
			return nil, err
		}
		t = append(t, e)
	}
	return t.withParents(), nil
}
