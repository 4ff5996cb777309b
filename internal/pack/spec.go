// Package pack builds OCI images for urunc: a kernel plus optional initrd,
// block image and application rootfs, described by com.urunc.unikernel.*
// annotations, labels and /urunc.json, written as an OCI image layout tar or
// a docker-archive.
package pack

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urunc-runtime/urunc/internal/unikernel"
)

// Output formats.
const (
	FormatOCI    = "oci"    // OCI image layout in a tar (index.json, blobs/)
	FormatDocker = "docker" // docker-archive (manifest.json with RepoTags)
)

// Types are the accepted guest types (--type): the runtime's own list.
var Types = unikernel.ValidTypes

// Hypervisors are the accepted VMM names (--hypervisor).
var Hypervisors = unikernel.ValidHypervisors

// Formats are the accepted output formats (--format).
var Formats = []string{FormatOCI, FormatDocker}

// Spec describes one image. Field names in a declarative file are the flag
// names of urunc-pack, so errors name the flag.
type Spec struct {
	Kernel      string   `json:"kernel" toml:"kernel"`
	KernelImage string   `json:"kernel-image" toml:"kernel-image"` // instead of Kernel: a kernel image's archive
	Type        string   `json:"type" toml:"type"`
	Hypervisor  string   `json:"hypervisor" toml:"hypervisor"`
	Cmdline     string   `json:"cmdline" toml:"cmdline"`
	Initrd      string   `json:"initrd" toml:"initrd"`
	Block       string   `json:"block" toml:"block"`
	BlockMount  string   `json:"block-mount" toml:"block-mount"`
	Version     string   `json:"version" toml:"version"`
	MountRootfs bool     `json:"mount-rootfs" toml:"mount-rootfs"`
	UseDMBlock  bool     `json:"use-dm-block" toml:"use-dm-block"`
	Rootfs      string   `json:"rootfs" toml:"rootfs"`
	Entrypoint  []string `json:"entrypoint" toml:"entrypoint"`
	Cmd         []string `json:"cmd" toml:"cmd"`
	Env         []string `json:"env" toml:"env"`
	Tag         string   `json:"tag" toml:"tag"`
	Output      string   `json:"output" toml:"output"`
	Format      string   `json:"format" toml:"format"`
	// Omit leaves forms of the metadata out (OmitAnnotations, OmitLabels,
	// OmitFile), to make images like those of tools that write only some,
	// for testing runtimes against them.
	Omit []string `json:"omit-metadata" toml:"omit-metadata"`
}

// Forms of the metadata Spec.Omit can leave out.
const (
	OmitAnnotations = "annotations"
	OmitLabels      = "labels"
	OmitFile        = "file"
)

// omits tells whether s leaves out the metadata form f.
func (s *Spec) omits(f string) bool {
	for _, o := range s.Omit {
		if o == f {
			return true
		}
	}
	return false
}

// Validate checks every field, in flag order, and names the flag of the
// first bad one. It stats the input files but does not read them. An empty
// Format becomes FormatOCI.
func (s *Spec) Validate() error {
	if s.Format == "" {
		s.Format = FormatOCI
	}
	checks := []func() error{
		func() error { return checkFile("--kernel", s.Kernel, true) },
		func() error { return checkChoice("--type", s.Type, Types) },
		func() error { return checkChoice("--hypervisor", s.Hypervisor, Hypervisors) },
		func() error { return checkFile("--initrd", s.Initrd, false) },
		func() error { return checkFile("--block", s.Block, false) },
		s.checkBlockMount,
		s.checkRootfs,
		s.checkEnv,
		s.checkTag,
		func() error { return checkRequired("--output", s.Output) },
		func() error { return checkChoice("--format", s.Format, Formats) },
		func() error {
			for _, o := range s.Omit {
				if err := checkChoice("--omit-metadata", o, []string{OmitAnnotations, OmitLabels, OmitFile}); err != nil {
					return err
				}
			}
			return nil
		},
	}
	for _, c := range checks {
		if err := c(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	return nil
}

func checkRequired(flag, value string) error {
	if value == "" {
		return fmt.Errorf("%s is required", flag)
	}
	return nil
}

func checkChoice(flag, value string, valid []string) error {
	if err := checkRequired(flag, value); err != nil {
		return err
	}
	if !slices.Contains(valid, value) {
		return fmt.Errorf("unknown %s %q: want one of %s", flag, value, strings.Join(valid, ", "))
	}
	return nil
}

// checkFile checks that path, when set or required, is a regular file.
func checkFile(flag, path string, required bool) error {
	if path == "" && !required {
		return nil
	}
	if err := checkRequired(flag, path); err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s %q: not a regular file", flag, path)
	}
	return nil
}

func (s *Spec) checkBlockMount() error {
	if s.BlockMount != "" && s.Block == "" {
		return fmt.Errorf("--block-mount %q needs --block", s.BlockMount)
	}
	return nil
}

func (s *Spec) checkRootfs() error {
	if s.Rootfs == "" {
		return nil
	}
	fi, err := os.Stat(s.Rootfs)
	if err != nil {
		return fmt.Errorf("--rootfs: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("--rootfs %q: not a directory", s.Rootfs)
	}
	return nil
}

func (s *Spec) checkEnv() error {
	for _, kv := range s.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("--env %q: want KEY=VALUE", kv)
		}
	}
	return nil
}

func (s *Spec) checkTag() error {
	if err := checkRequired("--tag", s.Tag); err != nil {
		return err
	}
	if _, err := imageName(s.Tag); err != nil {
		return fmt.Errorf("--tag %q: %w", s.Tag, err)
	}
	return nil
}
