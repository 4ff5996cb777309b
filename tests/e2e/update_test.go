package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// urunc update changes the limits of a plain container as runc's does,
// from flags and from the --resources JSON containerd sends on stdin.
func TestUpdatePlainContainer(t *testing.T) {
	e := setup(t, false)
	r := e.runtime(t)
	dir := busyboxBundle(t, "sleep", "600").write()
	r.ok("run", "--detach", "--bundle", dir, "upd1")
	t.Cleanup(func() { r.urunc("delete", "--force", "upd1") })
	pid := r.waitStatus("upd1", "running", 5*time.Second).Pid

	r.ok("update", "--memory", "64m", "--pids-limit", "50", "upd1")
	if got := cgroupValue(t, pid, "memory", "memory.limit_in_bytes", "memory.max"); got != "67108864" {
		t.Errorf("memory limit after update --memory 64m: %s, want 67108864", got)
	}
	if got := cgroupValue(t, pid, "pids", "pids.max", "pids.max"); got != "50" {
		t.Errorf("pids limit after update --pids-limit 50: %s, want 50", got)
	}

	c := r.cmd(context.Background(), "update", "--resources", "-", "upd1")
	c.Stdin = strings.NewReader(`{"cpu":{"quota":50000,"period":100000}}`)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("update --resources -: %v: %s", err, out)
	}
	if got := cgroupValue(t, pid, "cpu", "cpu.cfs_quota_us", "cpu.max"); got != "50000" && got != "50000 100000" {
		t.Errorf("cpu quota after update: %s, want 50000", got)
	}
	if got := cgroupValue(t, pid, "memory", "memory.limit_in_bytes", "memory.max"); got != "67108864" {
		t.Errorf("memory limit changed by a CPU-only update: %s", got)
	}

	if res := r.urunc("update", "upd1"); res.code == 0 || !strings.Contains(res.stderr, "nothing to update") {
		t.Errorf("update without limits: exit %d, stderr %q; want an error saying so", res.code, res.stderr)
	}
	if res := r.urunc("update", "--memory", "lots", "upd1"); res.code == 0 || !strings.Contains(res.stderr, "--memory") {
		t.Errorf("update --memory lots: exit %d, stderr %q; want an error naming the flag", res.code, res.stderr)
	}
}

// For a unikernel the cgroup holds the VMM: CPU limits apply, but a memory
// limit below the VM's fixed size is refused and leaves the limit as it was.
func TestUpdateUnikernel(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	b := e.linuxBundle(t, "0", "600")
	limit := int64(512 << 20)
	if b.spec.Linux.Resources == nil {
		b.spec.Linux.Resources = &specs.LinuxResources{}
	}
	b.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
	dir := b.write()
	out := r.detached("run", "--detach", "--bundle", dir, "upd2")
	pid := r.waitStatus("upd2", "running", 10*time.Second).Pid
	before := cgroupValue(t, pid, "memory", "memory.limit_in_bytes", "memory.max")

	res := r.urunc("update", "--memory", "64m", "upd2")
	if res.code == 0 || !strings.Contains(res.stderr, "below what the VM needs") {
		t.Errorf("update --memory 64m of a VM: exit %d, stderr %q; want a refusal naming the VM's size", res.code, res.stderr)
	}
	if got := cgroupValue(t, pid, "memory", "memory.limit_in_bytes", "memory.max"); got != before {
		t.Errorf("memory limit %s after the refused update, was %s", got, before)
	}
	r.ok("update", "--cpu-quota", "50000", "--cpu-period", "100000", "upd2")
	if got := cgroupValue(t, pid, "cpu", "cpu.cfs_quota_us", "cpu.max"); got != "50000" && got != "50000 100000" {
		t.Errorf("VMM cpu quota after update: %s, want 50000", got)
	}
	waitFor(t, out, "hello from guest", 90*time.Second) // the throttled VM still runs
}

// cgroupValue reads a cgroup file of process pid: the v1 file under the
// controller's hierarchy, or the v2 file in the unified one.
func cgroupValue(t *testing.T, pid int, controller, v1, v2 string) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var path string
		switch {
		case parts[0] == "0" && parts[1] == "":
			path = filepath.Join("/sys/fs/cgroup", parts[2], v2)
		case hasController(parts[1], controller):
			path = filepath.Join("/sys/fs/cgroup", parts[1], parts[2], v1)
		default:
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue // a v2 line on a hybrid host: try the v1 one
		}
		return strings.TrimSpace(string(b))
	}
	t.Fatalf("no %s cgroup for pid %d", controller, pid)
	return ""
}

func hasController(list, controller string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == controller {
			return true
		}
	}
	return false
}
