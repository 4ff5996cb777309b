package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// oci drives one runc-compatible CLI (urunc or runc) with its own state
// root, and force-deletes every container it created at cleanup.
type oci struct {
	b      *bench
	name   string // "urunc" or "runc"
	binary string
	global []string

	mu  sync.Mutex
	ids map[string]bool
}

// urunc returns a urunc CLI with a private root and the given config text.
func (b *bench) urunc(tag, config string) *oci {
	root := b.dir(tag + "-urunc-root")
	conf := filepath.Join(b.work, tag+"-urunc.toml")
	writeFile(conf, config, 0o644)
	return b.newOCI("urunc", filepath.Join(b.o.bin, "urunc"), "--root", root, "--config", conf)
}

// runc returns the pinned runc with a private root.
func (b *bench) runc(tag string) *oci {
	return b.newOCI("runc", filepath.Join(b.o.tools, "runc"), "--root", b.dir(tag+"-runc-root"))
}

func (b *bench) newOCI(name, bin string, global ...string) *oci {
	r := &oci{b: b, name: name, binary: bin, global: global, ids: map[string]bool{}}
	b.defer_(name+" containers", r.deleteAll)
	return r
}

// baseConfig is urunc's config for the bench: urunit from the build.
func (b *bench) baseConfig() string {
	return fmt.Sprintf("[linux]\nurunit = %q\n", filepath.Join(b.o.bin, "urunit"))
}

// do runs one verb; create and run register the id for cleanup.
func (r *oci) do(timeout time.Duration, args ...string) out {
	r.track(args)
	return execCmd(r.b.ctx, timeout, nil, r.binary, append(append([]string{}, r.global...), args...)...)
}

// cmd is a command for callers that handle stdio themselves.
func (r *oci) cmd(ctx context.Context, args ...string) *exec.Cmd {
	r.track(args)
	return exec.CommandContext(ctx, r.binary, append(append([]string{}, r.global...), args...)...)
}

func (r *oci) track(args []string) {
	if len(args) > 0 && (args[0] == "create" || args[0] == "run") {
		r.mu.Lock()
		r.ids[args[len(args)-1]] = true
		r.mu.Unlock()
	}
}

// forget drops an id that was deleted.
func (r *oci) forget(id string) {
	r.mu.Lock()
	delete(r.ids, id)
	r.mu.Unlock()
}

// deleteAll force-deletes every container this CLI may have left.
func (r *oci) deleteAll() {
	r.mu.Lock()
	ids := r.ids
	r.ids = map[string]bool{}
	r.mu.Unlock()
	for id := range ids {
		args := append(append([]string{}, r.global...), "delete", "--force", id)
		execCmd(cleanCtx(), 30*time.Second, nil, r.binary, args...)
	}
}

// ociState is the part of `state` the bench reads.
type ociState struct {
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Annotations map[string]string `json:"annotations"`
}

func (r *oci) state(id string) (ociState, error) {
	var s ociState
	o := r.do(30*time.Second, "state", id)
	if !o.ok() {
		return s, fmt.Errorf("%s state %s: %s", r.name, id, o)
	}
	return s, json.Unmarshal([]byte(o.stdout), &s)
}

// exeOf is the executable of a process, "" when gone.
func exeOf(pid int) string {
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return exe
}

// argvOf is a process's argv.
func argvOf(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// argAfter returns the argument after flag in argv.
func argAfter(argv []string, flag string) string {
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == flag {
			return argv[i+1]
		}
	}
	return ""
}
