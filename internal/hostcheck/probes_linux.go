//go:build linux

package hostcheck

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/vmm"
	"github.com/urunc-runtime/urunc/internal/vmmseccomp"
)

// probeTimeout bounds every command a probe runs.
const probeTimeout = 5 * time.Second

// sandboxProbe is the argv tail that checks a VMM's own sandbox option: the
// option and value internal/vmm passes when Spec.Sandbox is set, then an
// option that makes the VMM exit. Only one VMM has a sandbox of its own
// (Descriptor.OwnSandbox) and this is its syntax; the probe belongs in its
// descriptor, and moves there when a second such VMM comes.
var sandboxProbe = []string{"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny", "-version"}

// HostProbes returns the probes of this machine.
func HostProbes() Host {
	return Host{
		Executable:    executable,
		Version:       version,
		OpenRW:        openRW,
		HWVirt:        vmm.HasHWVirt,
		KVMUsable:     vmm.KVMUsable,
		TC:            probeTC,
		Static:        staticELF,
		OwnSandbox:    acceptsSandbox,
		KernelSeccomp: kernelSeccomp,
		SeccompBuilt:  vmmseccomp.Available,
	}
}

func executable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("not a regular file")
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("not executable (mode %v)", fi.Mode().Perm())
	}
	return nil
}

// version runs `path --version` and returns the first non-empty line.
func version(path string) (string, error) {
	out, err := run(path, "--version")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			return line, nil
		}
	}
	return "", fmt.Errorf("--version printed nothing")
}

// run runs a command with probeTimeout and returns its combined output.
func run(path string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if ctx.Err() != nil {
		return out, fmt.Errorf("%s %s: no answer within %v", path, strings.Join(args, " "), probeTimeout)
	}
	if err != nil {
		return out, fmt.Errorf("%w: %s", err, firstLine(out))
	}
	return out, nil
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return line
}

func openRW(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// staticELF reports whether path is an ELF executable without a program
// interpreter (PT_INTERP): static, or static-pie.
func staticELF(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// acceptsSandbox runs `path -sandbox <urunc's value> -version`. The VMM
// parses its options in order and exits at -version, so this checks that
// the binary was built with seccomp support and accepts every sub-option
// urunc passes, without starting a VM or applying the filter.
func acceptsSandbox(path string) error {
	_, err := run(path, sandboxProbe...)
	return err
}

// kernelSeccomp reports whether /proc/self/status has a Seccomp: line
// (CONFIG_SECCOMP).
func kernelSeccomp() bool {
	b, err := os.ReadFile("/proc/self/status")
	return err == nil && bytes.Contains(b, []byte("\nSeccomp:"))
}

// probeTC does what network.Setup does, on the loopback device of a
// throwaway network namespace: add an ingress qdisc, then a u32 match-all
// filter with a mirred egress redirect. It is the only reliable probe:
// sch_ingress, cls_u32 and act_mirred may be built in (absent from
// /proc/modules, and from /sys/module when they have no parameters) or
// loadable on demand (absent until first use).
func probeTC() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: trying tc needs root (a network namespace and CAP_NET_ADMIN)", ErrCannotProbe)
	}
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it exits with this goroutine and
		// the namespace goes with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("%w: create a throwaway network namespace: %w", ErrCannotProbe, err)
			return
		}
		errc <- tryRedirect()
	}()
	return <-errc
}

func tryRedirect() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo in the throwaway namespace: %w", err)
	}
	idx := lo.Attrs().Index
	q := &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: idx,
		Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_INGRESS}}
	if err := netlink.QdiscAdd(q); err != nil {
		return fmt.Errorf("add ingress qdisc (sch_ingress): %w", err)
	}
	f := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{LinkIndex: idx, Parent: netlink.MakeHandle(0xffff, 0),
			Priority: 1, Protocol: unix.ETH_P_ALL},
		Actions: []netlink.Action{netlink.NewMirredAction(idx)},
	}
	if err := netlink.FilterAdd(f); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("add u32 filter with mirred redirect (cls_u32, act_mirred): %w", err)
		}
		return fmt.Errorf("add u32 filter with mirred redirect: %w", err)
	}
	return nil
}
