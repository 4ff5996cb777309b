package lifecycle

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

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
	if err != nil || h.Wiring != nil || h.RootDisk != nil || len(h.Watchers) != 0 {
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

// A process is known by pid and start time: a recorded watcher that ended
// is not alive, and kill signals only the process recorded.
func TestProcID(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a process to record: %v", err)
	}
	p, err := processID(cmd.Process.Pid)
	if err != nil || !p.alive() {
		t.Fatalf("processID: %+v, %v; want a live process", p, err)
	}
	other := p
	other.StartTime++ // the same pid, another process
	if other.alive() {
		t.Error("a process with another start time counts as the recorded one")
	}
	other.kill()
	time.Sleep(50 * time.Millisecond)
	if !p.alive() {
		t.Fatal("kill of a record with another start time signalled the process")
	}
	p.kill()
	_ = cmd.Wait()
	if p.alive() {
		t.Error("the recorded process survived kill")
	}
}

// restoreLoop leaves alone a device that is not bound (or not there): a
// record of a loop device released since is not an error.
func TestRestoreLoopGone(t *testing.T) {
	if err := restoreLoop(loopID{Device: filepath.Join(t.TempDir(), "loop99")}); err != nil {
		t.Errorf("restoreLoop of a missing device: %v", err)
	}
}
