// Package unikernel turns an image's urunc metadata into one validated
// Config before anything is created.
//
// The metadata are the com.urunc.unikernel.* keys (keys.go). They come from
// the OCI spec's annotations and, because Docker and others do not pass image
// annotations to the runtime, from MetadataFile at the root of the container
// rootfs; per key, annotations win.
package unikernel

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Config is a unikernel image's metadata, validated, with the files it
// names resolved to host paths inside the container rootfs.
type Config struct {
	Type        string // guest type, one of ValidTypes
	Hypervisor  string // VMM name, one of ValidHypervisors
	Binary      string // kernel path as written in the image
	Cmdline     string
	Initrd      string // initrd path as written in the image, optional
	Block       string // block image path as written in the image, optional
	BlkMntPoint string
	Version     string
	UseDMBlock  bool
	MountRootfs bool

	KernelPath string // host path of Binary
	InitrdPath string // host path of Initrd, "" when unset
	BlockPath  string // host path of Block, "" when unset
}

// Load reads the urunc metadata from annotations and from MetadataFile at the
// root of rootfs (a host directory) and returns the validated Config.
//
// It returns (nil, nil) when neither source sets any key with Prefix: the
// container is a plain one. Once any such key is set, all required keys
// (type, hypervisor, binary) must be set, possibly split across the two
// sources; a partial set is an error, never a plain container. Unknown keys
// with Prefix are errors, to catch typos. Empty values count as unset.
//
// The binary, initrd and block paths are resolved with ResolveInRootfs.
// Every error caused by the image matches ErrInvalid with errors.Is.
func Load(annotations map[string]string, rootfs string) (*Config, error) {
	md, err := collect(annotations, rootfs)
	if err != nil {
		return nil, err
	}
	if len(md.values) == 0 {
		return nil, nil
	}
	if err := md.checkRequired(); err != nil {
		return nil, err
	}
	c, err := md.config()
	if err != nil {
		return nil, err
	}
	if err := c.resolve(rootfs); err != nil {
		return nil, err
	}
	return c, nil
}

// checkRequired names the missing required keys and where the others came
// from.
func (m *metadata) checkRequired() error {
	var missing []string
	for _, k := range requiredKeys {
		if _, ok := m.values[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%s (found %s): %w", quoteAll(missing), m.found(), ErrMissingKey)
}

// found describes the keys that are set and their sources.
func (m *metadata) found() string {
	var parts []string
	for _, k := range knownKeys {
		if o, ok := m.origin[k]; ok {
			parts = append(parts, fmt.Sprintf("%s in %s", k, o))
		}
	}
	return strings.Join(parts, ", ")
}

// describe names a key, its value and its source for error messages.
func (m *metadata) describe(k string) string {
	return fmt.Sprintf("%s %q (from %s)", k, m.values[k], m.origin[k])
}

// config builds a Config from metadata whose required keys are set.
func (m *metadata) config() (*Config, error) {
	v := m.values
	c := &Config{
		Type: v[KeyType], Hypervisor: v[KeyHypervisor], Binary: v[KeyBinary],
		Cmdline: v[KeyCmdline], Initrd: v[KeyInitrd], Block: v[KeyBlock],
		BlkMntPoint: v[KeyBlkMntPoint], Version: v[KeyVersion],
	}
	if err := m.oneOf(KeyType, ValidTypes); err != nil {
		return nil, err
	}
	if err := m.oneOf(KeyHypervisor, ValidHypervisors); err != nil {
		return nil, err
	}
	var err error
	if c.UseDMBlock, err = m.boolean(KeyUseDMBlock); err != nil {
		return nil, err
	}
	if c.MountRootfs, err = m.boolean(KeyMountRootfs); err != nil {
		return nil, err
	}
	return c, nil
}

func (m *metadata) oneOf(k string, valid []string) error {
	if slices.Contains(valid, m.values[k]) {
		return nil
	}
	return fmt.Errorf("%s: %w (valid: %s)", m.describe(k), ErrBadValue, strings.Join(valid, ", "))
}

// boolean parses k with strconv.ParseBool; unset is false.
func (m *metadata) boolean(k string) (bool, error) {
	s, ok := m.values[k]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s: %w (want true or false)", m.describe(k), ErrBadValue)
	}
	return b, nil
}

// resolve fills the host paths of the files the image names.
func (c *Config) resolve(rootfs string) error {
	var err error
	if c.KernelPath, err = ResolveInRootfs(rootfs, KeyBinary, c.Binary); err != nil {
		return err
	}
	if c.Initrd != "" {
		if c.InitrdPath, err = ResolveInRootfs(rootfs, KeyInitrd, c.Initrd); err != nil {
			return err
		}
	}
	if c.Block != "" {
		if c.BlockPath, err = ResolveInRootfs(rootfs, KeyBlock, c.Block); err != nil {
			return err
		}
	}
	return nil
}
