package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"

	"github.com/urunc-runtime/urunc/internal/testutil/images"
)

// execBytes is what the throughput case streams out of the container.
const execBytes = 100 << 20

// execBench is section g: `exec ID true` round trips, a 1-byte echo through
// a terminal and `exec head -c 100MiB` throughput, into a Linux guest
// (urunit's agent over virtio-serial) and into a busybox container under
// runc, interleaved.
func (b *bench) execBench() *Section {
	s := &Section{}
	u := b.urunc("g", b.baseConfig())
	rc := b.runc("g")
	gb := b.appBundle(b.dir("g-uk"), b.o.kernel, "hello", "0", "3600")
	if err := withBusybox(gb); err != nil {
		s.Skipped = fmt.Sprintf("busybox: %v (install busybox-static)", err)
		return s
	}
	if mods := filepath.Join(filepath.Dir(b.o.kernel), "modules", "lib"); fileExists(mods) {
		// Debian's kernel builds virtio_console, the agent's driver, as a module.
		if out, err := exec.Command("cp", "-a", mods, gb.rootfs("")).CombinedOutput(); err != nil {
			s.Skipped = fmt.Sprintf("copy modules: %v: %s", err, out)
			return s
		}
	}
	rb, err := busyboxBundle(b.dir("g-bb"), "/bin/sleep", "3600")
	if err != nil {
		s.Skipped = fmt.Sprintf("busybox bundle: %v", err)
		return s
	}
	if err := withBusybox(rb); err != nil {
		s.Skipped = err.Error()
		return s
	}
	if err := b.startExecable(u, gb.write(), "g-u", "hello from guest"); err != nil {
		s.Skipped = "urunc: " + err.Error()
		return s
	}
	if err := b.startExecable(rc, rb.write(), "g-r", ""); err != nil {
		s.Skipped = "runc: " + err.Error()
		return s
	}
	var uT, rT []float64
	var uFail, rFail int
	for i := 0; i < b.o.nLifecycle && b.ctx.Err() == nil; i++ {
		if d, err := timedExec(u, "g-u", "true"); err != nil {
			uFail++
			s.note("urunc exec %d: %v", i, err)
		} else {
			uT = append(uT, d)
		}
		if d, err := timedExec(rc, "g-r", "true"); err != nil {
			rFail++
			s.note("runc exec %d: %v", i, err)
		} else {
			rT = append(rT, d)
		}
	}
	s.Rows = append(s.Rows, &Row{Name: "exec ID true", Unit: "ms", Urunc: newDist(uT, uFail), Runc: newDist(rT, rFail), Plot: true})
	ue, uerr := b.ptyEcho(u, "g-u")
	re, rerr := b.ptyEcho(rc, "g-r")
	if uerr != nil || rerr != nil {
		s.note("1-byte echo through a terminal: urunc: %v; runc: %v", uerr, rerr)
	}
	s.Rows = append(s.Rows, &Row{Name: "1-byte echo through exec -t cat", Unit: "ms", Urunc: newDist(ue, 0), Runc: newDist(re, 0)})
	ut, uerr := streamRate(u, "g-u")
	rt, rerr := streamRate(rc, "g-r")
	if uerr != nil || rerr != nil {
		s.note("throughput: urunc: %v; runc: %v", uerr, rerr)
	}
	s.Rows = append(s.Rows, &Row{Name: "exec head -c 100MiB /dev/zero", Unit: "MiB/s",
		Urunc: newDist(nonZero(ut), 0), Runc: newDist(nonZero(rt), 0)})
	s.note("urunc: a Linux guest (hello sleeping) with busybox, %s; runc: busybox sleep; %d exec pairs interleaved, one 30-byte echo session (stty raw -echo; cat) and one 100 MiB stream each",
		filepath.Base(b.o.kernel), b.o.nLifecycle)
	return s
}

// withBusybox adds the applets the exec cases run.
func withBusybox(bb *bundle) error {
	if !fileExists(bb.rootfs("bin/busybox")) {
		if _, err := os.Stat(images.Busybox); err != nil {
			return err
		}
		copyFile(images.Busybox, bb.rootfs("bin/busybox"), 0o755)
	}
	for _, l := range []string{"sh", "true", "cat", "head", "sleep", "stty", "echo"} {
		if fileExists(bb.rootfs("bin/" + l)) {
			continue
		}
		if err := os.Symlink("busybox", bb.rootfs("bin/"+l)); err != nil {
			return err
		}
	}
	bb.spec.Process.Env = append(bb.spec.Process.Env, "PATH=/bin")
	return nil
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// startExecable starts a container in the background (startDetached,
// waiting for want in its output) and then until exec works in it.
func (b *bench) startExecable(r *oci, bundle, id, want string) error {
	if _, err := b.startDetached(r, bundle, id, want, 2*time.Minute); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && b.ctx.Err() == nil {
		if _, err := timedExec(r, id, "true"); err == nil {
			return nil
		}
		b.sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("exec never worked in %s", id)
}

// timedExec is one `exec ID cmd...` in ms.
func timedExec(r *oci, id string, cmd ...string) (float64, error) {
	t0 := time.Now()
	o := r.do(time.Minute, append([]string{"exec", id}, cmd...)...)
	if !o.ok() {
		return 0, fmt.Errorf("%s", o)
	}
	return msOf(time.Since(t0)), nil
}

// ptyEcho runs `exec -t ID cat` on a terminal and times 30 one-byte round
// trips: the byte goes in, the terminal's echo (or cat's copy) comes back.
func (b *bench) ptyEcho(r *oci, id string) ([]float64, error) {
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	// The process's own terminal is raw too, so the byte comes back from
	// cat, not from a terminal's echo on the way.
	c := r.cmd(ctx, "exec", "-t", id, "sh", "-c", "stty raw -echo; echo ready; exec cat")
	f, tty, err := pty.Open()
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	// A raw terminal, as a user's under an interactive client: its own
	// echo would answer at once and measure nothing.
	if _, err := term.MakeRaw(int(tty.Fd())); err != nil {
		f.Close()
		return nil, err
	}
	c.Stdin, c.Stdout, c.Stderr = tty, tty, tty
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := c.Start(); err != nil {
		f.Close()
		return nil, err
	}
	defer func() { f.Close(); _ = c.Process.Kill(); _ = c.Wait() }()
	buf := make([]byte, 256)
	for seen := ""; !strings.Contains(seen, "ready"); {
		if err := f.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
			return nil, err
		}
		n, err := f.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("wait for the session: %w", err)
		}
		seen += string(buf[:n])
	}
	var out []float64
	for i := 0; i < 30; i++ {
		ch := byte('a' + i%26)
		t0 := time.Now()
		if _, err := f.Write([]byte{ch}); err != nil {
			return out, err
		}
		for seen := false; !seen; {
			if err := f.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
				return out, err
			}
			n, err := f.Read(buf)
			if err != nil {
				return out, err
			}
			seen = bytes.IndexByte(buf[:n], ch) >= 0
		}
		out = append(out, msOf(time.Since(t0)))
	}
	return out, nil
}

// streamRate streams execBytes out of the container and returns MiB/s.
func streamRate(r *oci, id string) (float64, error) {
	c := r.cmd(context.Background(), "exec", id, "head", "-c", fmt.Sprint(execBytes), "/dev/zero")
	p, err := c.StdoutPipe()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := c.Start(); err != nil {
		return 0, err
	}
	n, _ := io.Copy(io.Discard, p)
	if err := c.Wait(); err != nil {
		return 0, err
	}
	if n != execBytes {
		return 0, fmt.Errorf("got %d bytes, want %d", n, execBytes)
	}
	return float64(n) / (1 << 20) / time.Since(t0).Seconds(), nil
}

func nonZero(v float64) []float64 {
	if v == 0 {
		return nil
	}
	return []float64{v}
}
