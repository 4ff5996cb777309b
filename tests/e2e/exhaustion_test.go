package e2e

// Resources that run out or go away (issue 15, item 5): the VMM binary
// removed between create and start, a guest that never prints nor answers,
// a guest flooding its console, and a full state filesystem. Each gives a
// clear error or keeps working, and leaves nothing behind. (No free loop
// device cannot be simulated without taking the host's loop devices away
// from everyone else: not tested.)

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// guestAppSrc is a test-only guest app: "silent" never prints and ignores
// SIGTERM; "flood" prints lines as fast as it can.
const guestAppSrc = `package main

import (
	"bufio"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	switch os.Args[1] {
	case "silent":
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
		for {
			time.Sleep(time.Hour)
		}
	case "flood":
		w := bufio.NewWriterSize(os.Stdout, 4096)
		for i := 0; ; i++ {
			w.WriteString("flood line " + strconv.Itoa(i) + " ..........................................................\n")
			if i%64 == 0 {
				w.Flush()
			}
		}
	}
}
`

// buildGuestApp builds guestAppSrc, static, and returns the binary.
func buildGuestApp(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not in PATH: the test guest app is built from source")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.go"), guestAppSrc)
	writeFile(t, filepath.Join(dir, "go.mod"), "module guestapp\n\ngo 1.21\n")
	bin := filepath.Join(dir, "guestapp")
	c := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	c.Dir = dir
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("go build of the test guest app: %v\n%s", err, out)
	}
	return bin
}

// appBundle is a Linux guest running the test app in mode.
func (e *env) appBundle(t *testing.T, app, mode string) *bundle {
	b := e.linuxBundle(t)
	b.spec.Process.Args = []string{"/guestapp", mode}
	copyFile(t, app, b.rootfs("guestapp"), 0o755)
	return b
}

// linkOrCopy puts src at dst, a hard link when they share a filesystem.
func linkOrCopy(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.Link(src, dst); err != nil {
		copyFile(t, src, dst, 0o755)
	}
}

func TestExhaustion(t *testing.T) {
	e := setup(t, true)
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	urunit := "[linux]\nurunit = \"" + filepath.Join(e.bin, "urunit") + "\"\n"

	// [qemu] binary outside the host folders urunc binds (/usr, /bin, ...):
	// create binds that very file into the monitor root, so removing it
	// from the host afterwards does not take it from the container. (A
	// wrapper script, not a copy of QEMU: Debian's QEMU finds its TCG
	// module relative to its own path, so a relocated copy cannot run.)
	t.Run("vmm binary removed, bound file", func(t *testing.T) {
		ee := *e
		bin := filepath.Join(t.TempDir(), "qemu-wrapper")
		writeFile(t, bin, "#!/bin/sh\nexec "+qemu+" \"$@\"\n")
		if err := os.Chmod(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		ee.config = filepath.Join(t.TempDir(), "config.toml")
		writeFile(t, ee.config, urunit+"\n[qemu]\nbinary = \""+bin+"\"\n")
		r := ee.runtime(t)
		const id = "gone1"
		out := r.detached("create", "--bundle", ee.linuxBundle(t, "0", "600").write(), id)
		if err := os.Remove(bin); err != nil {
			t.Fatal(err)
		}
		res := r.urunc("start", id)
		if res.code != 0 {
			t.Fatalf("start after the VMM binary's removal: exit %d: %s (the bound file should have kept it)", res.code, res.stderr)
		}
		waitFor(t, out, "hello from guest", 90*time.Second)
		r.ok("delete", "--force", id)
		noVMFolder(t, r.root, id)
		r.assertClean()
	})

	// [qemu] binary under /usr: the monitor root sees the host's /usr, so
	// the binary removed after create is gone for the launcher too. start
	// must fail naming it, and delete clean up.
	t.Run("vmm binary removed, host folder", func(t *testing.T) {
		ee := *e
		bin := "/usr/local/bin/urunc-e2e-qemu-" + strconv.Itoa(os.Getpid())
		linkOrCopy(t, qemu, bin)
		t.Cleanup(func() { os.Remove(bin) })
		ee.config = filepath.Join(t.TempDir(), "config.toml")
		writeFile(t, ee.config, urunit+"\n[qemu]\nbinary = \""+bin+"\"\n")
		r := ee.runtime(t)
		const id = "gone2"
		out := r.detached("create", "--bundle", ee.linuxBundle(t, "0", "600").write(), id)
		if err := os.Remove(bin); err != nil {
			t.Fatal(err)
		}
		// start checks the binary before it releases the container.
		res := r.urunc("start", id)
		if res.code == 0 || !strings.Contains(res.stderr, bin) {
			b, _ := os.ReadFile(out)
			t.Errorf("start after the VMM binary went: exit %d, stderr %q; want a failure naming %s (output: %s)", res.code, res.stderr, bin, b)
		}
		r.ok("delete", "--force", id)
		noVMFolder(t, r.root, id)
		r.assertClean()
	})

	app := buildGuestApp(t)

	// A guest that never prints and ignores SIGTERM, signalled while it
	// still boots: the stop watcher kills the VMM once the grace period is
	// over, and delete cleans up.
	t.Run("silent guest", func(t *testing.T) {
		ee := *e
		ee.config = filepath.Join(t.TempDir(), "config.toml")
		writeFile(t, ee.config, urunit+"stop_grace_seconds = 2\n")
		tn := newTestNet(t, 65)
		r := ee.runtime(t)
		b := ee.appBundle(t, app, "silent")
		joinNetns(b, tn.ctr)
		const id = "silent"
		r.detached("run", "--detach", "--bundle", b.write(), id)
		start := time.Now()
		r.ok("kill", id, "SIGTERM")
		r.waitStatus(id, "stopped", 12*time.Second)
		took := time.Since(start)
		t.Logf("stopped %v after SIGTERM (grace 2 s)", took)
		if took < 1500*time.Millisecond {
			t.Errorf("stopped after %v: before the grace period, though the app ignores SIGTERM", took)
		}
		r.ok("delete", id)
		noVMFolder(t, r.root, id)
		tn.assertNothingOfOurs("a silent guest's kill and delete")
		r.assertClean()
	})

	// A guest flooding its console: state, kill SIGTERM and delete still
	// work while it floods, and the first lines are in the log.
	t.Run("console flood", func(t *testing.T) {
		ee := *e
		ee.config = filepath.Join(t.TempDir(), "config.toml")
		writeFile(t, ee.config, urunit+"stop_grace_seconds = 3\n")
		tn := newTestNet(t, 66)
		r := ee.runtime(t)
		b := ee.appBundle(t, app, "flood")
		joinNetns(b, tn.ctr)
		const id = "flood"
		out := r.detached("run", "--detach", "--bundle", b.write(), id)
		waitFor(t, out, "flood line 1000 ", 90*time.Second)
		time.Sleep(time.Second) // flood on for a while
		if s := r.state(id); s.Status != "running" {
			t.Fatalf("status %q while flooding, want running", s.Status)
		}
		start := time.Now()
		r.ok("kill", id, "SIGTERM")
		r.waitStatus(id, "stopped", 15*time.Second)
		fi, _ := os.Stat(out)
		t.Logf("stopped %v after SIGTERM; console %d bytes", time.Since(start), fi.Size())
		r.ok("delete", id)
		r.assertLeftNothing(tn, out, id, "flood line 0 ", "a flooding guest's kill and delete")
	})

	// The state root is a full tmpfs: the initrd does not fit. create
	// fails naming the space problem and leaves nothing in the root.
	t.Run("state filesystem full", func(t *testing.T) {
		r := e.runtime(t) // its leak check runs last, once the tmpfs is gone
		if err := os.MkdirAll(r.root, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", r.root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=8m,mode=0700"); err != nil {
			t.Fatalf("mount tmpfs: %v", err)
		}
		leftInTmpfs := func() {
			t.Helper()
			var left []string
			filepath.Walk(r.root, func(p string, fi os.FileInfo, err error) error {
				if p != r.root {
					left = append(left, p)
				}
				return nil
			})
			if len(left) > 0 {
				t.Errorf("left in the state tmpfs: %v", left)
			}
		}
		t.Cleanup(func() {
			leftInTmpfs()
			if err := unix.Unmount(r.root, unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", r.root, err)
			}
		})
		b := e.linuxBundle(t, "0")
		pad, err := os.Create(b.rootfs("padding"))
		if err != nil {
			t.Fatal(err)
		}
		chunk := make([]byte, 1<<20)
		for i := range chunk {
			chunk[i] = byte(i*7 + i>>8)
		}
		for i := 0; i < 16; i++ {
			pad.Write(chunk)
		}
		pad.Close()
		const id = "full"
		res := r.urunc("create", "--bundle", b.write(), id)
		t.Cleanup(func() { r.urunc("delete", "--force", id) })
		if res.code == 0 {
			t.Fatalf("create on a full state filesystem succeeded")
		}
		t.Logf("create: exit %d: %s", res.code, strings.TrimSpace(res.stderr))
		if !strings.Contains(res.stderr, "no space left on device") || strings.Contains(res.stderr, "changed while read") {
			t.Errorf("create's error does not name the space problem alone: %s", res.stderr)
		}
		if st := r.urunc("state", id); st.code == 0 {
			t.Errorf("state of the failed create answers: %s", st.stdout)
		}
		leftInTmpfs()
	})
}
