package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urunc-runtime/urunc/internal/vmm"
)

const helloLine = "hello from guest"

// bootTimeout ends a foreground boot that hangs.
const bootTimeout = 30 * time.Second

// tail is the end of a console transcript, for notes.
func tail(s string) string {
	if len(s) > 200 {
		return "…" + s[len(s)-200:]
	}
	return s
}

// minimalKernelDir is where scripts/build-guest-kernel.sh puts the
// project's own guest kernel.
const minimalKernelDir = "/var/cache/urunc/guest-kernel/current"

// kernelVariant is one guest kernel section b boots.
type kernelVariant struct {
	name, path string
	id         string // short tag for container ids
	cmdline    string // com.urunc.unikernel.cmdline, "" for none
}

// timed is one foreground run: when the first stdout bytes and the line
// containing the marker arrived, and when the command exited.
type timed struct {
	firstByte, marker, total time.Duration
	code                     int
	stdout, stderr           string
}

// runTimed starts c, timestamps its stdout as it arrives and waits.
func runTimed(c *exec.Cmd, marker string) (timed, error) {
	var t timed
	pr, pw, err := os.Pipe()
	if err != nil {
		return t, err
	}
	var se bytes.Buffer
	c.Stdout, c.Stderr = pw, &se
	c.WaitDelay = 3 * time.Second
	t0 := time.Now()
	if err := c.Start(); err != nil {
		pr.Close()
		pw.Close()
		return t, err
	}
	pw.Close()
	var so bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		for {
			n, err := pr.Read(buf)
			if n > 0 {
				now := time.Since(t0)
				if t.firstByte == 0 {
					t.firstByte = now
				}
				so.Write(buf[:n])
				if t.marker == 0 && bytes.Contains(so.Bytes(), []byte(marker)) {
					t.marker = now
				}
			}
			if err != nil {
				return
			}
		}
	}()
	err = c.Wait()
	t.total = time.Since(t0)
	pr.Close()
	wg.Wait()
	t.stdout, t.stderr = so.String(), se.String()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.code, err = ee.ExitCode(), nil
	}
	return t, err
}

// boot is section b: `urunc run` of the hello app to its first line, per
// guest kernel, with runc running the same binary as the baseline.
func (b *bench) boot() *Section {
	s := &Section{}
	u := b.urunc("b", b.baseConfig())
	rc := b.runc("b")
	variants := []kernelVariant{
		{"Debian cloud vmlinuz (bzImage)", b.o.kernel, "dz", ""},
		{"Debian cloud vmlinux (PVH ELF)", filepath.Join(filepath.Dir(b.o.kernel), "vmlinux"), "dx", ""},
		{"Debian cloud vmlinux (PVH ELF) + tsc_early_khz", filepath.Join(filepath.Dir(b.o.kernel), "vmlinux"), "dt",
			fmt.Sprintf("tsc_early_khz=%d", vmm.HostTSCkHz())},
		{"minimal vmlinux (PVH ELF)", filepath.Join(minimalKernelDir, "vmlinux"), "mx", ""},
		{"minimal bzImage", filepath.Join(minimalKernelDir, "bzImage"), "mz", ""},
	}
	info := &Table{Title: "b. how each kernel was booted (from `urunc state` and the VMM's argv)",
		Header: []string{"kernel", "file", "kernel format", "machine", "accelerator"}}
	var present []kernelVariant
	bundles := map[string]string{}
	for _, v := range variants {
		if _, err := os.Stat(v.path); err != nil {
			info.Rows = append(info.Rows, []string{v.name, v.path, "not built", "—", "—"})
			continue
		}
		bu := b.appBundle(b.dir("b-"+v.id), v.path, "hello", "0")
		if v.cmdline != "" {
			bu.spec.Annotations["com.urunc.unikernel.cmdline"] = v.cmdline
		}
		dir := bu.write()
		format, machine, accel, err := b.probe(u, dir, "b-probe-"+v.id)
		if err != nil {
			s.note("%s: probe: %v", v.name, err)
			continue
		}
		info.Rows = append(info.Rows, []string{v.name, v.path, format, machine, accel})
		present = append(present, v)
		bundles[v.id] = dir
	}
	s.Tables = append(s.Tables, info)
	s.note("q35/pc: not selectable — urunc picks the QEMU machine from the kernel format (bzImage and PVH ELF → microvm; only multiboot kernels get pc), and no configuration key or annotation overrides it, so every Linux guest here boots on microvm")
	plain := b.plainBundle(b.dir("b-plain"), "hello", "0").write()
	first := map[string][]float64{}
	exit := map[string][]float64{}
	fail := map[string]int{}
	for i := 0; i < b.o.nBoot && b.ctx.Err() == nil; i++ {
		for _, v := range present {
			b.timedRun(u, bundles[v.id], fmt.Sprintf("b-%s%d", v.id, i), v.id, first, exit, fail, s)
		}
		b.timedRun(rc, plain, fmt.Sprintf("b-r%d", i), "runc", first, exit, fail, s)
	}
	runc := newDist(first["runc"], fail["runc"])
	runcExit := newDist(exit["runc"], fail["runc"])
	for _, v := range present {
		s.Rows = append(s.Rows,
			&Row{Name: "first line, " + v.name, Unit: "ms", Urunc: newDist(first[v.id], fail[v.id]), Runc: runc},
			&Row{Name: "  run to exit, " + v.name, Unit: "ms", Urunc: newDist(exit[v.id], fail[v.id]), Runc: runcExit})
	}
	if len(present) > 0 && hasTSC(present) {
		s.note("tsc_early_khz: urunc adds it on microvm under TCG for bzImage kernels only (internal/vmm/qemu.go); the \"+ tsc_early_khz\" row passes it to the PVH kernel through the image's com.urunc.unikernel.cmdline annotation, to show what it changes")
	}
	s.note("first line = time from starting `urunc run` (or `runc run` of the same static hello binary as a plain container) until its stdout delivered \"hello from guest\"; run to exit = until the CLI exited (app exits 0 at once); runs interleaved across kernels")
	return s
}

// probe creates and starts one container to read how urunc booted the
// kernel, then deletes it.
func (b *bench) probe(u *oci, bundle, id string) (format, machine, accel string, err error) {
	defer func() { u.do(time.Minute, "delete", "--force", id); u.forget(id) }()
	if o := u.do(time.Minute, "create", "--bundle", bundle, id); !o.ok() {
		return "", "", "", fmt.Errorf("create: %s", o)
	}
	st, err := u.state(id)
	if err != nil {
		return "", "", "", err
	}
	format, accel = st.Annotations["com.urunc.vm.kernelFormat"], st.Annotations["com.urunc.vm.accel"]
	if accel != "" {
		b.accel = accel
	}
	if o := u.do(time.Minute, "start", id); !o.ok() {
		return format, "", accel, fmt.Errorf("start: %s", o)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		pid := st.Pid
		if c := firstChild(pid); c != 0 {
			pid = c // a Linux guest's init is urunc's supervisor
		}
		if strings.Contains(exeOf(pid), "qemu") {
			argv := argvOf(pid)
			m := argAfter(argv, "-machine")
			machine, _, _ = strings.Cut(m, ",")
			if i := strings.Index(m, "accel="); i >= 0 {
				accel, _, _ = strings.Cut(m[i+len("accel="):], ",")
			}
			return format, machine, accel, nil
		}
	}
	return format, "?", accel, nil
}

// timedRun is one foreground run recorded under key.
func (b *bench) timedRun(r *oci, bundle, id, key string, first, exit map[string][]float64, fail map[string]int, s *Section) {
	ctx, cancel := context.WithTimeout(b.ctx, bootTimeout)
	defer cancel()
	t, err := runTimed(r.cmd(ctx, "run", "--bundle", bundle, id), helloLine)
	switch {
	case ctx.Err() != nil && b.ctx.Err() == nil:
		err = fmt.Errorf("no exit within %v (first line after %v; guest hung?); stdout %q", bootTimeout, t.marker.Round(time.Millisecond), tail(t.stdout))
	case err != nil:
		err = fmt.Errorf("%v", err)
	case t.code != 0:
		err = fmt.Errorf("exit %d: %s", t.code, strings.TrimSpace(t.stderr))
	case t.marker == 0:
		err = fmt.Errorf("no %q in stdout %q", helloLine, t.stdout)
	}
	if err != nil {
		fail[key]++
		s.note("%s %s: %v", r.name, id, err)
		r.do(time.Minute, "delete", "--force", id)
		return
	}
	r.forget(id)
	first[key] = append(first[key], float64(t.marker.Nanoseconds())/1e6)
	exit[key] = append(exit[key], float64(t.total.Nanoseconds())/1e6)
}

func hasTSC(vs []kernelVariant) bool {
	for _, v := range vs {
		if v.cmdline != "" {
			return true
		}
	}
	return false
}
