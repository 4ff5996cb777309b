package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/launcher"
)

// A foreground run prints the guest's console and exits with the app's status.
func TestLinuxGuestRunExitStatus(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	for _, code := range []string{"3", "0"} {
		t.Run("exit"+code, func(t *testing.T) {
			dir := e.linuxBundle(t, code).write()
			res := r.urunc("run", "--bundle", dir, "guest"+code)
			if !strings.Contains(res.stdout, "hello from guest") {
				t.Errorf("stdout lacks the guest's line:\n%s\nstderr:\n%s", res.stdout, res.stderr)
			}
			if want := map[string]int{"3": 3, "0": 0}[code]; res.code != want {
				t.Errorf("exit status %d, want %d (stderr: %s)", res.code, want, res.stderr)
			}
		})
	}
}

// Docker and others pass no image annotations: the metadata then comes
// from /urunc.json (base64 values) at the rootfs root.
func TestLinuxGuestFromUruncJSON(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	b := e.linuxBundle(t, "3")
	b.uruncJSON(b.spec.Annotations)
	b.spec.Annotations = nil
	res := r.urunc("run", "--bundle", b.write(), "json1")
	if res.code != 3 || !strings.Contains(res.stdout, "hello from guest") {
		t.Fatalf("run: exit %d, stdout %q, stderr %q; want 3 and the guest's line", res.code, res.stdout, res.stderr)
	}
}

// Detached create+start: the VMM is the container's pid 1, SIGTERM stops it.
func TestLinuxGuestDetachedLifecycle(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	dir := e.linuxBundle(t, "0", "600").write()
	out := r.detached("create", "--bundle", dir, "--pid-file", filepath.Join(dir, "pid"), "vm1")
	if s := r.state("vm1"); s.Status != "created" {
		t.Fatalf("status after create %q, want created", s.Status)
	}
	r.ok("start", "vm1")
	s := r.waitStatus("vm1", "running", 10*time.Second)
	if exe := vmmExe(s.Pid); !strings.Contains(exe, "qemu-system") {
		t.Errorf("state pid %d runs %q, want the QEMU binary", s.Pid, exe)
	}
	if s.Annotations["com.urunc.vm.accel"] == "" {
		t.Errorf("state does not report the accelerator: %v", s.Annotations)
	}
	waitFor(t, out, "hello from guest", 90*time.Second)
	start := time.Now()
	r.ok("kill", "vm1", "SIGTERM")
	r.waitStatus("vm1", "stopped", 10*time.Second)
	t.Logf("stopped %v after SIGTERM", time.Since(start))
	waitFor(t, out, "hello: got SIGTERM", time.Second) // the guest's app got the signal
	r.ok("delete", "vm1")
	if _, err := os.Stat(filepath.Join(r.root, "vm1")); !os.IsNotExist(err) {
		t.Errorf("state dir left after delete: %v", err)
	}
}

// A foreground `urunc run` passes the signals it gets to the guest's
// application, as kill does: the app says so and dies of SIGTERM (143),
// where a signal to QEMU itself would end the VM without the app seeing it.
func TestLinuxGuestForegroundRunSignal(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	dir := e.linuxBundle(t, "0", "600").write()
	out, f := r.console()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := r.cmd(ctx, "run", "--bundle", dir, "vm3")
	c.Stdout, c.Stderr = f, f
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.urunc("delete", "--force", "vm3") })
	waitFor(t, out, "hello from guest", 90*time.Second)
	if err := c.Process.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := c.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != 143 {
		b, _ := os.ReadFile(out)
		t.Errorf("foreground run after SIGTERM: exit %d, want 143 (the guest's app died of it)\n%s", code, b)
	}
	waitFor(t, out, "hello: got SIGTERM", time.Second)
	if _, err := os.Stat(filepath.Join(r.root, "vm3")); !os.IsNotExist(err) {
		t.Errorf("state dir left after the foreground run: %v", err) // run removes it, as runc's does
	}
}

// With [api] socket, QEMU serves QMP on /urunc/run/api.sock, which the
// state names and the host reaches through /proc/<pid>/root whatever the
// length of the container id.
func TestLinuxGuestAPISocket(t *testing.T) {
	e := setup(t, true)
	writeFile(t, e.config, "[linux]\nurunit = \""+filepath.Join(e.bin, "urunit")+"\"\n\n[api]\nsocket = true\n")
	r := e.runtime(t)
	dir := e.linuxBundle(t, "0", "600").write()
	id := strings.Repeat("a", 64) // as long as a containerd id
	out := r.detached("run", "--detach", "--bundle", dir, id)
	waitFor(t, out, "hello from guest", 90*time.Second)
	s := r.state(id)
	sock := s.Annotations["com.urunc.vm.apiSocket"]
	if sock != "/urunc/run/api.sock" {
		t.Fatalf("state annotation com.urunc.vm.apiSocket = %q, want /urunc/run/api.sock", sock)
	}
	// The launcher's record of QEMU's argv, in the VM folder's run/, names it.
	argvFile := filepath.Join(r.root, ".urunc", id, "run", launcher.ArgvFile)
	wantMode(t, argvFile, 0o600, 0)
	if b, err := os.ReadFile(argvFile); err != nil || !strings.Contains(string(b), sock) {
		t.Errorf("%s: %v, want a record naming the QMP socket %s:\n%s", argvFile, err, sock, b)
	}
	conn, err := net.DialTimeout("unix", fmt.Sprintf("/proc/%d/root%s", s.Pid, sock), 5*time.Second)
	if err != nil {
		t.Fatalf("dial QMP: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(conn)
	greeting, err := rd.ReadString('\n')
	if err != nil || !strings.Contains(greeting, `"QMP"`) {
		t.Fatalf("QMP greeting %q, %v", greeting, err)
	}
	for _, cmd := range []string{`{"execute":"qmp_capabilities"}`, `{"execute":"query-status"}`} {
		if _, err := conn.Write([]byte(cmd + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	var reply string
	for !strings.Contains(reply, `"status"`) {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("QMP reply: %v (so far %q)", err, reply)
		}
		reply += line
	}
	if !strings.Contains(reply, `"running"`) {
		t.Errorf("query-status: %q, want the VM running", reply)
	}
	r.ok("kill", id, "KILL")
	r.waitStatus(id, "stopped", 10*time.Second)
	r.ok("delete", id)
}

// A guest that ignores SIGTERM is killed when the grace period is over.
func TestLinuxGuestStopTimeout(t *testing.T) {
	e := setup(t, true)
	writeFile(t, e.config, "[linux]\nurunit = \""+filepath.Join(e.bin, "urunit")+"\"\nstop_grace_seconds = 2\n")
	r := e.runtime(t)
	dir := e.linuxBundle(t, "0", "600", "ignore-term").write()
	out := r.detached("run", "--detach", "--bundle", dir, "vm2")
	waitFor(t, out, "hello from guest", 90*time.Second)
	r.ok("kill", "vm2", "TERM")
	waitFor(t, out, "hello: ignoring SIGTERM", 5*time.Second)
	if s := r.state("vm2"); s.Status != "running" { // the guest took the signal and lives on
		t.Errorf("status %q right after the ignored SIGTERM, want running until the grace period ends", s.Status)
	}
	r.waitStatus("vm2", "stopped", 10*time.Second) // then the VMM is killed
	r.ok("delete", "vm2")
}

// With process.terminal the console socket receives a pty carrying the guest console.
func TestLinuxGuestTerminal(t *testing.T) {
	e := setup(t, true)
	r := e.runtime(t)
	b := e.linuxBundle(t, "0", "600")
	b.spec.Process.Terminal = true
	dir := b.write()
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan *os.File, 1)
	go func() { got <- receivePty(t, l) }()
	r.ok("create", "--bundle", dir, "--console-socket", sock, "tty1")
	var pty *os.File
	select {
	case pty = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no pty received on the console socket")
	}
	defer pty.Close()
	r.ok("start", "tty1")
	lines := make(chan string, 1)
	go func() { lines <- readUntil(pty, "hello from guest", 90*time.Second) }()
	if text := <-lines; !strings.Contains(text, "hello from guest") {
		t.Errorf("pty output lacks the guest line:\n%s", text)
	}
	r.ok("delete", "--force", "tty1")
}

// receivePty accepts one connection and returns the descriptor it carries.
func receivePty(t *testing.T, l *net.UnixListener) *os.File {
	conn, err := l.AcceptUnix()
	if err != nil {
		return nil
	}
	defer conn.Close()
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return nil
	}
	return os.NewFile(uintptr(fds[0]), "pty")
}

func readUntil(f *os.File, want string, d time.Duration) string {
	var sb strings.Builder
	buf := make([]byte, 4096)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && !strings.Contains(sb.String(), want) {
		n, err := f.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return sb.String()
}

// waitFor polls a file until it contains want.
func waitFor(t *testing.T, path, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), want) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%s lacks %q after %v:\n%s", path, want, d, b)
}

// The project's own kernel (make guest-kernel) boots as a PVH ELF on
// microvm, with virtio-net built in: no modules in the image.
func TestGuestKernel(t *testing.T) {
	e := setup(t, true)
	kernel := os.Getenv("URUNC_GUEST_KERNEL")
	if _, err := os.Stat(kernel); err != nil {
		t.Skipf("project guest kernel %q missing: run `make guest-kernel`", kernel)
	}
	e.kernel = kernel
	r := e.runtime(t)
	t.Run("exit status", func(t *testing.T) {
		res := r.urunc("run", "--bundle", e.linuxBundle(t, "3").write(), "gk1")
		if res.code != 3 || !strings.Contains(res.stdout, "hello from guest") {
			t.Fatalf("exit %d, stdout %q, stderr %q; want 3 and the guest's line", res.code, res.stdout, res.stderr)
		}
	})
	t.Run("network without modules", func(t *testing.T) {
		tn := newTestNet(t, 4)
		b := e.linuxBundle(t)
		b.spec.Process.Args = []string{"/httpd", ":8080"}
		copyFile(t, filepath.Join(e.bin, "httpd"), b.rootfs("httpd"), 0o755)
		joinNetns(b, tn.ctr)
		r.ok("run", "--detach", "--bundle", b.write(), "gk2")
		t.Cleanup(func() { r.urunc("delete", "--force", "gk2") })
		if body := tn.get(t, tn.peer, tn.ctrIP+":8080"); !strings.Contains(body, "hello from guest httpd") {
			t.Errorf("HTTP answer %q", body)
		}
		r.ok("delete", "--force", "gk2")
	})
}
