package lifecycle

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/urunc-runtime/urunc/internal/network"
)

// The host record starts empty, keeps every update and is 0600.
func TestHostRecord(t *testing.T) {
	r := testRuntime(t)
	const id = "c1"
	if err := os.MkdirAll(r.vmDir(id), 0o700); err != nil {
		t.Fatal(err)
	}
	h, err := r.readRecord(id)
	if err != nil || h.Wiring != nil || h.RootDisk != nil {
		t.Fatalf("missing record: %+v, %v; want empty", h, err)
	}
	w := network.Wiring{Interface: "eth0", Tap: "urunc00000001", IngressQdisc: true}
	if err := r.updateRecord(id, func(h *hostRecord) { h.NetNS, h.Wiring = "/run/netns/pod", &w }); err != nil {
		t.Fatal(err)
	}
	if err := r.updateRecord(id, func(h *hostRecord) { h.RootDisk = &loopID{Device: "/dev/loop9", Dev: 1, Inode: 2} }); err != nil {
		t.Fatal(err)
	}
	h, err = r.readRecord(id)
	if err != nil || h.NetNS != "/run/netns/pod" || h.Wiring == nil || *h.Wiring != w || h.RootDisk == nil || h.RootDisk.Inode != 2 {
		t.Fatalf("record %+v, %v: an update lost another", h, err)
	}
	fi, err := os.Stat(filepath.Join(r.vmDir(id), hostRecordFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("record mode %v, %v; want 0600", fi.Mode(), err)
	}
}

// restoreLoop leaves alone a device that is not bound (or not there): a
// record of a loop device released since is not an error.
func TestRestoreLoopGone(t *testing.T) {
	if err := restoreLoop(loopID{Device: filepath.Join(t.TempDir(), "loop99")}); err != nil {
		t.Errorf("restoreLoop of a missing device: %v", err)
	}
}
