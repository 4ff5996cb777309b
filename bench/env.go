package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// bench holds what every section shares: paths, the work folder and the
// cleanups to run, last registered first.
type bench struct {
	ctx   context.Context
	o     opts
	work  string // short /tmp folder: containerd's socket path must fit 108 bytes
	accel string // accelerator urunc used, from a container's state

	mu       sync.Mutex
	daemon   *ctrd // started by the first section that needs it
	cleanups []cleanup
}

type cleanup struct {
	name string
	fn   func()
}

func newBench(ctx context.Context, o opts) (*bench, error) {
	for _, f := range []string{"urunc", "urunit", "hello", "httpd", "urunc-pack", "containerd-shim-urunc-v2"} {
		if _, err := os.Stat(filepath.Join(o.bin, f)); err != nil {
			return nil, fmt.Errorf("%s not built in %s: run `make all`", f, o.bin)
		}
	}
	if _, err := os.Stat(o.kernel); err != nil {
		return nil, fmt.Errorf("guest kernel %q missing: run `make kernel`", o.kernel)
	}
	work, err := os.MkdirTemp("/tmp", "ub")
	if err != nil {
		return nil, err
	}
	b := &bench{ctx: ctx, o: o, work: work}
	b.defer_("remove "+work, func() { os.RemoveAll(work) })
	return b, nil
}

// defer_ registers a cleanup.
func (b *bench) defer_(name string, fn func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cleanups = append(b.cleanups, cleanup{name, fn})
}

// cleanup runs the registered cleanups once, newest first, each
// protected from the others' panics.
func (b *bench) cleanup() {
	b.mu.Lock()
	cs := b.cleanups
	b.cleanups = nil
	b.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if r := recover(); r != nil {
					b.logf("cleanup %s: %v", cs[i].name, r)
				}
			}()
			cs[i].fn()
		}()
	}
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// dir makes a folder under the work folder.
func (b *bench) dir(name string) string {
	d := filepath.Join(b.work, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		panic(err)
	}
	return d
}

// out is what one command did.
type out struct {
	stdout, stderr string
	code           int
	err            error // could not run, or timed out
	dur            time.Duration
}

func (o out) ok() bool { return o.err == nil && o.code == 0 }

func (o out) String() string {
	if o.err != nil {
		return o.err.Error()
	}
	return fmt.Sprintf("exit %d: %s", o.code, bytes.TrimSpace([]byte(o.stderr+o.stdout)))
}

// exec runs a command with a time limit, timing it. With a cancelled
// bench context it still runs when ctx is a cleanup context.
func execCmd(ctx context.Context, timeout time.Duration, env []string, name string, args ...string) out {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	if env != nil {
		c.Env = append(os.Environ(), env...)
	}
	// Files, not pipes: a detached container inherits them and would hold
	// a pipe open long after the command exits.
	so, se := tempOut(), tempOut()
	defer so.Close()
	defer se.Close()
	c.Stdout, c.Stderr = so, se
	t0 := time.Now()
	err := c.Run()
	r := out{stdout: readBack(so), stderr: readBack(se), dur: time.Since(t0)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.err = fmt.Errorf("%s %v: %w", filepath.Base(name), args, ctx.Err())
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		r.err = fmt.Errorf("%s: %w", filepath.Base(name), err)
	}
	return r
}

// tempOut is an unlinked temporary file for a command's output.
func tempOut() *os.File {
	f, err := os.CreateTemp("", "ub-out")
	if err != nil {
		panic(err)
	}
	os.Remove(f.Name())
	return f
}

func readBack(f *os.File) string {
	var b bytes.Buffer
	if _, err := f.Seek(0, 0); err == nil {
		b.ReadFrom(f)
	}
	return b.String()
}

// cleanCtx is for cleanups: it survives the interrupt that cancelled b.ctx.
func cleanCtx() context.Context { return context.Background() }

func writeFile(path, data string, mode os.FileMode) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		panic(err)
	}
}

func copyFile(src, dst string, mode os.FileMode) {
	data, err := os.ReadFile(src)
	if err != nil {
		panic(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		panic(err)
	}
}

// sleep waits d or until the bench is interrupted.
func (b *bench) sleep(d time.Duration) bool {
	select {
	case <-b.ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func newCmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, name, args...)
}
