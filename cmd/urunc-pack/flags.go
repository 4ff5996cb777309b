package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/urunc-runtime/urunc/internal/pack"
)

// newFlagSet binds every urunc-pack flag to a field of s (whose current
// values are the defaults) and -f to file.
func newFlagSet(s *pack.Spec, file *string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("urunc-pack", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { usage(fs) }
	fs.StringVar(file, "f", *file, "declarative spec `FILE` (.json, else TOML); flags override it")
	fs.StringVar(&s.Kernel, "kernel", s.Kernel, "kernel or unikernel binary `PATH` (this or --kernel-image)")
	fs.StringVar(&s.KernelImage, "kernel-image", s.KernelImage, "take the kernel from a kernel image's docker-`ARCHIVE` (make guest-kernel-image)")
	fs.StringVar(&s.Type, "type", s.Type, "guest type: "+strings.Join(pack.Types, "|")+" (required)")
	fs.StringVar(&s.Hypervisor, "hypervisor", s.Hypervisor, "VMM: "+strings.Join(pack.Hypervisors, "|")+" (required)")
	fs.StringVar(&s.Cmdline, "cmdline", s.Cmdline, "guest command line")
	fs.StringVar(&s.Initrd, "initrd", s.Initrd, "initrd `PATH`, stored as "+pack.InitrdPath)
	fs.StringVar(&s.Block, "block", s.Block, "block image `PATH`, stored as "+pack.BlockPath)
	fs.StringVar(&s.BlockMount, "block-mount", s.BlockMount, "where the guest mounts the block image")
	fs.StringVar(&s.Version, "version", s.Version, "unikernel framework version (unikernelVersion)")
	fs.BoolVar(&s.MountRootfs, "mount-rootfs", s.MountRootfs, "set mountRootfs: give the container rootfs to the guest")
	fs.BoolVar(&s.UseDMBlock, "use-dm-block", s.UseDMBlock, "set useDMBlock: pass a devmapper rootfs as block")
	fs.StringVar(&s.Rootfs, "rootfs", s.Rootfs, "application rootfs `DIR` copied into the image (Linux guests)")
	fs.Var(&listValue{dst: &s.Entrypoint}, "entrypoint", "image Entrypoint: repeat, or a JSON array")
	fs.Var(&listValue{dst: &s.Cmd}, "cmd", "image Cmd: repeat, or a JSON array")
	fs.Var(&listValue{dst: &s.Env}, "env", "image environment `KEY=VALUE`, repeatable")
	fs.StringVar(&s.Tag, "tag", s.Tag, "image `NAME:TAG` written into the archive (required)")
	fs.StringVar(&s.Output, "output", s.Output, "archive `FILE` to write (required)")
	fs.StringVar(&s.Format, "format", s.Format, "archive format: oci (OCI layout tar) or docker (docker-archive)")
	fs.Var(&listValue{dst: &s.Omit}, "omit-metadata", "leave out a form of the metadata: annotations|labels|file, repeatable (to test images other tools make)")
	return fs
}

func usage(fs *flag.FlagSet) {
	fmt.Fprint(fs.Output(), `usage: urunc-pack [-f FILE] --kernel PATH --type TYPE --hypervisor VMM --tag NAME:TAG --output FILE [flags]

Packs a kernel (plus optional initrd, block image and application rootfs)
into an OCI image archive for urunc, loadable with ctr images import,
nerdctl load, podman load and docker load.

`)
	fs.PrintDefaults()
}

// listValue is a repeatable string flag that also takes a JSON array. The
// first use on the command line replaces what a spec file set.
type listValue struct {
	dst *[]string
	set bool
}

func (l *listValue) String() string {
	if l == nil || l.dst == nil {
		return ""
	}
	return strings.Join(*l.dst, " ")
}

func (l *listValue) Set(v string) error {
	if !l.set {
		*l.dst, l.set = []string{}, true
	}
	if !strings.HasPrefix(strings.TrimSpace(v), "[") {
		*l.dst = append(*l.dst, v)
		return nil
	}
	var items []string
	if err := json.Unmarshal([]byte(v), &items); err != nil {
		return fmt.Errorf("parse JSON array %q: %w", v, err)
	}
	*l.dst = append(*l.dst, items...)
	return nil
}
