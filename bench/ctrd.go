package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urunc-runtime/urunc/internal/pack"
	"github.com/urunc-runtime/urunc/internal/testutil/images"
	"github.com/urunc-runtime/urunc/tests/e2e/harness"
)

const (
	uruncRuntime = "io.containerd.urunc.v2"
	busyboxRef   = "docker.io/library/busybox:bench"
	helloRef     = "urunc.local/hello:bench"       // exits 0 at once
	sleepRef     = "urunc.local/hello-sleep:bench" // prints its line, sleeps 600 s
	helloMinRef  = "urunc.local/hello-min:bench"   // helloRef on the project kernel
	sleepMinRef  = "urunc.local/hello-min-sleep:bench"
)

// ctrd is a private containerd (the e2e tests' harness.Containerd),
// stopped and removed by the bench's cleanup.
type ctrd struct {
	b    *bench
	c    *harness.Containerd
	dir  string
	sock string
	ns   string
	conf string // urunc's config, read by every urunc the shims start

	limitMu sync.Mutex
	probes  map[string]string // "<guest MiB>-<with limit>" → "" when such a guest boots, else why not
}

// containerd returns the bench's containerd, starting it (once) with its
// images imported.
func (b *bench) containerd() (*ctrd, error) {
	b.mu.Lock()
	d := b.daemon
	b.mu.Unlock()
	if d != nil {
		return d, nil
	}
	for _, t := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "runc"} {
		if _, err := os.Stat(filepath.Join(b.o.tools, t)); err != nil {
			return nil, fmt.Errorf("%s missing in %s: run `make tools`", t, b.o.tools)
		}
	}
	conf := filepath.Join(b.work, "ctrd-urunc.toml")
	writeFile(conf, b.baseConfig(), 0o644)
	dir := filepath.Join(b.work, "c") // short: the socket path must fit 108 bytes
	d = &ctrd{b: b, dir: dir, conf: conf, probes: map[string]string{}, sock: filepath.Join(dir, "containerd.sock"), ns: "ub" + strconv.Itoa(os.Getpid()),
		c: &harness.Containerd{Dir: dir, Tools: b.o.tools, Bin: b.o.bin, DisableCRI: true, LogLevel: "info", Logf: b.logf,
			Env: []string{"URUNC_BIN=" + b.o.bin, "URUNC_CONFIG=" + conf}}}
	b.defer_("stop containerd", d.stop)
	if err := d.c.Start(); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	if err := d.importImages(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.daemon = d
	b.mu.Unlock()
	return d, nil
}

func (d *ctrd) stop() {
	if r, err := d.c.Stop(); err != nil {
		d.b.logf("stop containerd: %v\n%s", err, r)
	} else if len(r.Shims) > 0 {
		d.b.logf("stop containerd: shims outlived containerd:\n%s", r)
	}
	// The harness removes the runtime's namespace folder only when empty;
	// urunc leaves an empty .urunc in it.
	state := filepath.Join("/run/containerd/runc", d.ns)
	os.Remove(filepath.Join(state, ".urunc"))
	os.Remove(state)
}

// ctr runs ctr against this daemon, with urunc and the pinned runc first
// in PATH.
func (d *ctrd) ctr(timeout time.Duration, args ...string) out {
	env := []string{"PATH=" + d.b.o.bin + ":" + d.b.o.tools + ":" + os.Getenv("PATH")}
	all := append([]string{"--address", d.sock, "--namespace", d.ns}, args...)
	return execCmd(d.b.ctx, timeout, env, filepath.Join(d.b.o.tools, "ctr"), all...)
}

// ctrCmd is ctr for callers that handle stdio themselves.
func (d *ctrd) ctrCmd(c *exec.Cmd, args ...string) *exec.Cmd {
	c.Env = append(os.Environ(), "PATH="+d.b.o.bin+":"+d.b.o.tools+":"+os.Getenv("PATH"))
	c.Args = append([]string{c.Path, "--address", d.sock, "--namespace", d.ns}, args...)
	return c
}

// importImages builds and imports busybox and the hello images.
func (d *ctrd) importImages() error {
	bb := filepath.Join(d.b.work, "busybox.tar")
	if err := images.WriteBusybox(bb, busyboxRef, pack.FormatOCI); err != nil {
		return fmt.Errorf("build busybox image: %w", err)
	}
	archives := []string{bb}
	for ref, cmd := range map[string][]string{helloRef: {"0"}, sleepRef: {"0", "600"}} {
		a, err := d.b.packApp(ref, d.b.o.kernel, "hello", false, cmd...)
		if err != nil {
			return err
		}
		archives = append(archives, a)
	}
	// The project kernel packed as an image (as `make guest-kernel-image`
	// does), for section h: Debian's kernel lacks virtio_console without
	// its modules, so its guests cannot start from templates.
	if minimal := filepath.Join(minimalKernelDir, "vmlinux"); fileExists(minimal) {
		for ref, cmd := range map[string][]string{helloMinRef: {"0"}, sleepMinRef: {"0", "600"}} {
			a, err := d.b.packApp(ref, minimal, "hello", false, cmd...)
			if err != nil {
				return err
			}
			archives = append(archives, a)
		}
	}
	for _, a := range archives {
		if o := d.ctr(2*time.Minute, "images", "import", a); !o.ok() {
			return fmt.Errorf("import %s: %s", a, o)
		}
	}
	return nil
}

// packApp builds a Linux-guest image archive of an example app with
// urunc-pack, optionally with the guest kernel's modules.
func (b *bench) packApp(ref, kernel, app string, modules bool, cmd ...string) (string, error) {
	root := b.dir("pack-" + strings.NewReplacer("/", "_", ":", "_").Replace(ref))
	copyFile(filepath.Join(b.o.bin, app), filepath.Join(root, app), 0o755)
	if modules {
		if o := execCmd(b.ctx, time.Minute, nil, "cp", "-a", filepath.Join(filepath.Dir(b.o.kernel), "modules", "lib"), root); !o.ok() {
			return "", fmt.Errorf("copy modules: %s", o)
		}
	}
	archive := root + ".tar"
	args := []string{"--kernel", kernel, "--type", "linux", "--hypervisor", "qemu",
		"--rootfs", root, "--entrypoint", "/" + app, "--tag", ref, "--output", archive}
	for _, c := range cmd {
		args = append(args, "--cmd", c)
	}
	if o := execCmd(b.ctx, 2*time.Minute, nil, filepath.Join(b.o.bin, "urunc-pack"), args...); !o.ok() {
		return "", fmt.Errorf("urunc-pack %s: %s", ref, o)
	}
	return archive, nil
}

// task is one row of `ctr tasks ls`.
type task struct {
	pid    int
	status string
}

func (d *ctrd) tasks() map[string]task {
	ts := map[string]task{}
	o := d.ctr(time.Minute, "tasks", "ls")
	for _, line := range strings.Split(o.stdout, "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			pid, err := strconv.Atoi(f[1])
			if err == nil {
				ts[f[0]] = task{pid, f[2]}
			}
		}
	}
	return ts
}

// shimPid is the pid of the shim serving container id.
func (d *ctrd) shimPid(id string) int {
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range pids {
		argv := argvOf(atoi(filepath.Base(p)))
		if len(argv) > 0 && strings.HasPrefix(filepath.Base(argv[0]), "containerd-shim") &&
			argAfter(argv, "-address") == d.sock && argAfter(argv, "-id") == id {
			return atoi(filepath.Base(p))
		}
	}
	return 0
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// remove kills and deletes containers, a few at a time.
func (d *ctrd) remove(ids []string) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			env := []string{"PATH=" + d.b.o.bin + ":" + d.b.o.tools + ":" + os.Getenv("PATH")}
			ctr := filepath.Join(d.b.o.tools, "ctr")
			g := []string{"--address", d.sock, "--namespace", d.ns}
			execCmd(cleanCtx(), time.Minute, env, ctr, append(g, "tasks", "delete", "--force", id)...)
			execCmd(cleanCtx(), time.Minute, env, ctr, append(g, "containers", "delete", id)...)
		}()
	}
	wg.Wait()
}

// withGuestMemory makes urunc give containers without a memory limit a
// guest of mib MiB (default_memory_mib) until the returned func is called.
func (d *ctrd) withGuestMemory(mib int) func() {
	writeFile(d.conf, d.b.baseConfig()+fmt.Sprintf("[vm]\ndefault_memory_mib = %d\n", mib), 0o644)
	return func() { writeFile(d.conf, d.b.baseConfig(), 0o644) }
}

// oomKilled tells whether the kernel log shows the memory cgroup of
// container id killing a process.
func (d *ctrd) oomKilled(id string) bool {
	o := execCmd(cleanCtx(), 10*time.Second, nil, "dmesg")
	return strings.Contains(o.stdout, "oom_memcg=/"+d.ns+"/"+id+",")
}
