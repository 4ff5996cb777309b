package runtime

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-dev/urunc/internal/guest"
	"github.com/urunc-dev/urunc/internal/unikernel"
	"github.com/urunc-dev/urunc/internal/vmm"
)

// rootShareTag is the 9p tag of the application's root filesystem.
const rootShareTag = "rootfs"

// monitorRootfs is where the image rootfs appears in the monitor root when
// it is shared with the guest.
const monitorRootfs = monitorDir + "/rootfs"

// nineP marks a kernel with 9p support: the protocol name its 9p client
// carries as a string. (A compressed bzImage hides it; such a kernel is
// taken to have no 9p.)
var nineP = []byte("9p2000.L")

// planShares decides which folders the guest mounts over 9p: the image
// rootfs when the image asks for it (mountRootfs), and every volume, a
// bind mount of a folder outside /dev, /proc and /sys. Bind mounts of files
// (resolv.conf, hosts, hostname, termination-log) and of the pod's
// /dev/shm are the client's plumbing for the container process; the guest
// gets DNS from the network set-up and makes its own /dev.
func planShares(meta *unikernel.Config, kernel string, s *specs.Spec, gs *guest.Spec, vs *vmm.Spec) error {
	if meta.MountRootfs {
		gs.RootShare = rootShareTag
		vs.Shares = append(vs.Shares, vmm.Share{Path: monitorRootfs, Tag: rootShareTag})
	}
	for _, m := range s.Mounts {
		if !isFolderBind(m) {
			continue
		}
		tag := "vol" + strconv.Itoa(len(gs.Mounts))
		ro := slices.Contains(m.Options, "ro")
		gs.Mounts = append(gs.Mounts, guest.Mount{Tag: tag, Target: m.Destination, ReadOnly: ro})
		vs.Shares = append(vs.Shares, vmm.Share{Path: m.Destination, Tag: tag, ReadOnly: ro})
	}
	if len(vs.Shares) == 0 {
		return nil
	}
	return checkShares(meta, kernel, gs, vs)
}

// pseudoDirs hold what the guest kernel makes itself (CRI binds the pod's
// /dev/shm, for one): binds there are not volumes.
var pseudoDirs = []string{"/dev", "/proc", "/sys"}

func isFolderBind(m specs.Mount) bool {
	if m.Type != "bind" && !slices.Contains(m.Options, "bind") && !slices.Contains(m.Options, "rbind") {
		return false
	}
	for _, d := range pseudoDirs {
		if m.Destination == d || strings.HasPrefix(m.Destination, d+"/") {
			return false
		}
	}
	fi, err := os.Stat(m.Source)
	return err == nil && fi.IsDir()
}

// fileContains reports whether the file holds needle, reading it in
// chunks: a kernel is read once, without holding it all in memory.
func fileContains(path string, needle []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20+len(needle))
	keep := 0 // bytes carried over, so a needle across chunks is found
	for {
		n, err := f.Read(buf[keep:])
		if bytes.Contains(buf[:keep+n], needle) {
			return true, nil
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		end := keep + n
		keep = min(len(needle)-1, end)
		copy(buf, buf[end-keep:end])
	}
}

// checkShares refuses shares the guest cannot take, naming the mount.
func checkShares(meta *unikernel.Config, kernel string, gs *guest.Spec, vs *vmm.Spec) error {
	what := "the image rootfs (" + unikernel.KeyMountRootfs + ")"
	if len(gs.Mounts) > 0 {
		what = "volume " + strconv.Quote(gs.Mounts[0].Target)
	}
	if meta.Type != string(guest.Linux) {
		return fmt.Errorf("%s: guest type %s cannot mount shared folders; only linux guests can (drop the mount)", what, meta.Type)
	}
	has9p, err := fileContains(kernel, nineP)
	if err != nil {
		return fmt.Errorf("%s: read kernel %q: %w", what, meta.Binary, err)
	}
	if !has9p {
		return fmt.Errorf("%s: the guest kernel %q has no 9p support (or is compressed): use an uncompressed kernel with CONFIG_9P_FS and CONFIG_NET_9P_VIRTIO, such as `make guest-kernel`'s vmlinux, or drop the mount", what, meta.Binary)
	}
	return nil
}
