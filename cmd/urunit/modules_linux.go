package main

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// guestModules are the drivers a single-application guest may need.
// Kernels that build them in need none; Debian's cloud kernel has them all
// as modules. The order is a good guess of their dependencies; loadModules
// retries those that miss a symbol after the others are in.
var guestModules = []string{
	"virtio_ring", "virtio", "virtio_mmio", "failover", "net_failover",
	"virtio_net", "virtio_blk", "pvpanic", "pvpanic-mmio", "virtio_console",
	"vsock", "vmw_vsock_virtio_transport_common", "vmw_vsock_virtio_transport",
}

// loadModules loads the guestModules that the image ships for the running
// kernel under /lib/modules/<release>. Missing ones are skipped: they are
// built in, or the guest does without.
func loadModules() error {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	dir := filepath.Join("/lib/modules", unix.ByteSliceToString(uts.Release[:]))
	found, err := findModules(dir)
	if err != nil {
		return err
	}
	var pending []string
	for _, name := range guestModules {
		if path, ok := found[name]; ok {
			pending = append(pending, path)
		}
	}
	return loadAll(pending, loadModule)
}

// loadAll loads every module, in passes: a module that fails, e.g. on a
// symbol of a module not loaded yet, is tried again after a pass that
// loaded another. The first error stands when a pass makes no progress.
func loadAll(paths []string, load func(string) error) error {
	for len(paths) > 0 {
		var failed []string
		var first error
		for _, p := range paths {
			if err := load(p); err != nil {
				failed = append(failed, p)
				first = cmp.Or(first, err)
			}
		}
		if len(failed) == len(paths) {
			return first
		}
		paths = failed
	}
	return nil
}

// findModules maps module names to their files under dir.
func findModules(dir string) (map[string]string, error) {
	found := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name, ok := strings.CutSuffix(d.Name(), ".ko"); ok && d.Type().IsRegular() {
			found[name] = path
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return found, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find modules in %s: %w", dir, err)
	}
	return found, nil
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("load module: %w", err)
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("load module %s: %w", path, err)
	}
	return nil
}
