package e2e

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/urunc-runtime/urunc/internal/launcher"
	"github.com/urunc-runtime/urunc/internal/testutil/solo5elf"
)

// The files of a VM folder that carry the application's args, env and
// network are the VMM user's alone (0600), and the state root and VM
// folders are root's (0700), as runc's state root is.
func TestVMFolderIsPrivate(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)

	// A Linux guest, run as a non-root user: its plan and initrd.
	b := e.linuxBundle(t)
	b.spec.Process.User.UID, b.spec.Process.User.GID = siUser, siUser
	b.spec.Process.Env = append(b.spec.Process.Env, "API_TOKEN=secret")
	r.ok("create", "--bundle", b.write(), "private")
	t.Cleanup(func() { r.urunc("delete", "--force", "private") })
	vm := filepath.Join(r.root, ".urunc", "private")
	wantMode(t, r.root, 0o700, 0)
	wantMode(t, filepath.Dir(vm), 0o700, 0)
	wantMode(t, vm, 0o700, 0)
	wantMode(t, filepath.Join(vm, "share", "vm.json"), 0o600, siUser)
	wantMode(t, filepath.Join(vm, "initrd"), 0o600, siUser)
	r.ok("delete", "--force", "private")

	// The network record start writes, on the stand-in spt (no boot).
	dir := siInstallStandin(t)
	siConfig(t, e, "spt", filepath.Join(dir, "solo5-spt"), filepath.Join(t.TempDir(), "no-kvm"))
	tn := newTestNet(t, 11)
	sb := siNonRoot(siSolo5Bundle("spt", "mirage", solo5elf.TargetSPT, true))(t, e)
	joinNetns(sb, tn.ctr)
	siCreateStart(t, r, sb.write(), "private-net")
	r.waitStatus("private-net", "stopped", 30*time.Second)
	vm = filepath.Join(r.root, ".urunc", "private-net")
	wantMode(t, filepath.Join(vm, "share", "net.json"), 0o600, siUser)
	wantMode(t, filepath.Join(vm, "share", "vm.json"), 0o600, siUser)
	wantMode(t, filepath.Join(vm, "run", launcher.ArgvFile), 0o600, siUser) // the VMM's argv, written at start
	r.ok("delete", "private-net")
}

func wantMode(t *testing.T, path string, mode os.FileMode, uid int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if fi.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
	}
	if got := int(fi.Sys().(*syscall.Stat_t).Uid); got != uid {
		t.Errorf("%s: owner %d, want %d", path, got, uid)
	}
}
