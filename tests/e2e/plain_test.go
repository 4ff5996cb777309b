package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A bundle without unikernel metadata runs as under runc.
func TestPlainContainerLifecycle(t *testing.T) {
	e := setup(t, false)
	r := e.runtime(t)
	dir := busyboxBundle(t, "sleep", "600").write()
	r.ok("create", "--bundle", dir, "plain1")
	if s := r.state("plain1"); s.Status != "created" || s.Pid == 0 {
		t.Fatalf("after create: %+v", s)
	}
	r.ok("start", "plain1")
	s := r.waitStatus("plain1", "running", 5*time.Second)
	var pids []int
	if err := json.Unmarshal([]byte(r.ok("ps", "--format", "json", "plain1")), &pids); err != nil || len(pids) == 0 || pids[0] != s.Pid {
		t.Errorf("ps --format json: %v %v, want [%d]", pids, err, s.Pid)
	}
	if out := r.ok("list", "--format", "json"); !strings.Contains(out, `"plain1"`) {
		t.Errorf("list lacks the container: %s", out)
	}
	if res := r.urunc("exec", "plain1", "echo", "inside"); res.code != 0 || !strings.Contains(res.stdout, "inside") {
		t.Errorf("exec: %+v", res)
	}
	r.ok("kill", "plain1", "KILL")
	r.waitStatus("plain1", "stopped", 5*time.Second)
	r.ok("delete", "plain1")
}

func TestPlainContainerRunExitStatus(t *testing.T) {
	e := setup(t, false)
	r := e.runtime(t)
	dir := busyboxBundle(t, "sh", "-c", "echo plain says hi; exit 7").write()
	res := r.urunc("run", "--bundle", dir, "plain2")
	if res.code != 7 || !strings.Contains(res.stdout, "plain says hi") {
		t.Errorf("run: exit %d, stdout %q, stderr %q; want 7 and the line", res.code, res.stdout, res.stderr)
	}
}
