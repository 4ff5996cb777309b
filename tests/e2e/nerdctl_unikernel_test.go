package e2e

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nerdctlOK runs nerdctl and fails the test unless it exits 0.
func (d *ctrdDaemon) nerdctlOK(args ...string) string {
	d.t.Helper()
	out, errs, code := d.nerdctl(args...)
	if code != 0 {
		d.t.Fatalf("nerdctl %v: exit %d: %s", args, code, errs)
	}
	return out
}

// waitLogs polls `nerdctl logs` until it contains want.
func (d *ctrdDaemon) waitLogs(name, want string, timeout time.Duration) string {
	d.t.Helper()
	var out string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if out, _, _ = d.nerdctl("logs", name); strings.Contains(out, want) {
			return out
		}
	}
	d.t.Fatalf("nerdctl logs %s lacks %q after %v:\n%s", name, want, timeout, out)
	return ""
}

// exitCode returns a stopped container's exit code.
func (d *ctrdDaemon) exitCode(name string) string {
	d.t.Helper()
	return strings.TrimSpace(d.nerdctlOK("inspect", "-f", "{{.State.ExitCode}}", name))
}

func TestNerdctlUnikernel(t *testing.T) {
	e, d := uruncCtrd(t)
	rt := []string{"--runtime", ctrdUruncRuntime}
	d.nerdctlOK("load", "-i", packApp(t, e, "urunc.local/hello:test", "hello", false))
	d.nerdctlOK("load", "-i", packApp(t, e, "urunc.local/httpd:test", "httpd", true))

	t.Run("run --rm returns the app's status", func(t *testing.T) {
		out, errs, code := d.nerdctl(append(append([]string{"run", "--rm"}, rt...), "urunc.local/hello:test", "42")...)
		if code != 42 || !strings.Contains(out, "hello from guest") {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 42 and the guest's line", code, out, errs)
		}
	})

	d.nerdctlOK(append(append([]string{"run", "-d", "--name", "web"}, rt...), "urunc.local/httpd:test")...)
	t.Cleanup(func() { d.nerdctl("rm", "-f", "web", "client", "stubborn") })
	d.waitLogs("web", "httpd: listening", 90*time.Second)
	ip := strings.TrimSpace(d.nerdctlOK("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"))

	t.Run("guest serves on the container IP", func(t *testing.T) {
		body, err := httpGet(ip + ":8080")
		for i := 0; err != nil && i < 20; i++ {
			time.Sleep(250 * time.Millisecond)
			body, err = httpGet(ip + ":8080")
		}
		if err != nil || !strings.Contains(body, "hello from guest httpd") {
			t.Fatalf("GET %s:8080: %v %q", ip, err, body)
		}
	})

	t.Run("update reaches urunc through containerd", func(t *testing.T) {
		pid, err := strconv.Atoi(strings.TrimSpace(d.nerdctlOK("inspect", "-f", "{{.State.Pid}}", "web")))
		if err != nil {
			t.Fatal(err)
		}
		d.nerdctlOK("update", "--cpu-quota", "50000", "--cpu-period", "100000", "web")
		if got := cgroupValue(t, pid, "cpu", "cpu.cfs_quota_us", "cpu.max"); got != "50000" && got != "50000 100000" {
			t.Errorf("VMM cpu quota after nerdctl update: %s, want 50000", got)
		}
		_, errs, code := d.nerdctl("update", "--memory", "32m", "web")
		if code == 0 || !strings.Contains(errs, "below what the VM needs") {
			t.Errorf("nerdctl update --memory 32m: exit %d, stderr %q; want urunc's refusal", code, errs)
		}
	})

	t.Run("two unikernels on one bridge reach each other", func(t *testing.T) {
		d.nerdctlOK(append(append([]string{"run", "-d", "--name", "client"}, rt...), "urunc.local/httpd:test", "get", "http://"+ip+":8080/")...)
		d.waitLogs("client", "httpd get: hello from guest httpd", 90*time.Second)
	})

	t.Run("stop asks the guest to stop", func(t *testing.T) {
		d.nerdctlOK("stop", "web")
		// 143: the app inside the guest died of the SIGTERM (not 137: the VMM killed).
		if code := d.exitCode("web"); code != "143" {
			t.Errorf("exit code after stop %s, want 143 (SIGTERM reached the guest's app)", code)
		}
	})

	t.Run("stop kills a guest that ignores SIGTERM after the timeout", func(t *testing.T) {
		d.nerdctlOK(append(append([]string{"run", "-d", "--name", "stubborn"}, rt...), "urunc.local/hello:test", "0", "600", "ignore-term")...)
		d.waitLogs("stubborn", "hello from guest", 90*time.Second)
		d.nerdctlOK("stop", "-t", "2", "stubborn")
		d.waitLogs("stubborn", "hello: ignoring SIGTERM", 5*time.Second)
		if code := d.exitCode("stubborn"); code != "137" {
			t.Errorf("exit code after stop -t 2 %s, want 137 (the VMM killed after the timeout)", code)
		}
	})

	d.nerdctlOK("rm", "-f", "web", "client", "stubborn")
	d.assertNoVMM(t)
	if out, _ := exec.Command("ip", "-o", "link", "show").CombinedOutput(); tapName.Match(out) {
		t.Errorf("tap left on the host after rm -f:\n%s", out)
	}
}
