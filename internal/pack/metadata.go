package pack

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/urunc-runtime/urunc/internal/unikernel"
)

// Paths of the packed files inside the image. They do not depend on the
// input file names, so renaming an input does not change the digest.
const (
	KernelPath = "/boot/kernel"
	InitrdPath = "/boot/initrd"
	BlockPath  = "/boot/block.img"
)

// containerdNameAnnotation names an image in an OCI layout for containerd's
// importer (ctr images import, nerdctl load).
const containerdNameAnnotation = "io.containerd.image.name"

// Annotations returns the com.urunc.unikernel.* metadata of the image
// described by s: manifest annotations, config labels and, base64-encoded,
// the contents of /urunc.json. Unset optional values are left out.
func (s *Spec) Annotations() map[string]string {
	a := map[string]string{
		unikernel.KeyType:       s.Type,
		unikernel.KeyHypervisor: s.Hypervisor,
		unikernel.KeyBinary:     KernelPath,
	}
	optional := map[string]string{
		unikernel.KeyCmdline:     s.Cmdline,
		unikernel.KeyBlkMntPoint: s.BlockMount,
		unikernel.KeyVersion:     s.Version,
	}
	if s.Initrd != "" {
		optional[unikernel.KeyInitrd] = InitrdPath
	}
	if s.Block != "" {
		optional[unikernel.KeyBlock] = BlockPath
	}
	if s.MountRootfs {
		optional[unikernel.KeyMountRootfs] = "true"
	}
	if s.UseDMBlock {
		optional[unikernel.KeyUseDMBlock] = "true"
	}
	for k, v := range optional {
		if v != "" {
			a[k] = v
		}
	}
	return a
}

// metadataFile renders annotations as /urunc.json: a flat JSON object with
// standard base64 values. encoding/json sorts the keys.
func metadataFile(annotations map[string]string) ([]byte, error) {
	enc := make(map[string]string, len(annotations))
	for k, v := range annotations {
		enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	data, err := json.MarshalIndent(enc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", unikernel.MetadataFile, err)
	}
	return append(data, '\n'), nil
}

// imageName parses ref as a tagged image reference and returns it in the
// normalized form containerd, podman and docker store (docker.io/library/x:t).
func imageName(ref string) (string, error) {
	t, err := name.NewTag(ref)
	if err != nil {
		return "", fmt.Errorf("parse image reference: %w", err)
	}
	registry := t.RegistryStr()
	if registry == name.DefaultRegistry {
		registry = "docker.io"
	}
	return registry + "/" + t.RepositoryStr() + ":" + t.TagStr(), nil
}
