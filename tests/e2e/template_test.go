package e2e

// Warm starts from VM templates (issue 17): a Linux guest is booted once
// per image and machine shape, saved while urunit waits for its orders,
// and every container of that image is restored from it with its own
// args, env, host name, network, clock and random seed.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/urunc-runtime/urunc/internal/launcher"
	"github.com/urunc-runtime/urunc/internal/qmp"
)

// withTemplates is e with warm starts on, in a template cache of the test's
// own; extra is more of the config file.
func withTemplates(t *testing.T, e *env, extra string) (*env, string) {
	dir := filepath.Join(t.TempDir(), "templates")
	return withConfig(t, e, "[linux]\nurunit = \""+filepath.Join(e.bin, "urunit")+"\"\n\n"+
		"[templates]\nenabled = true\ndir = \""+dir+"\"\n"+extra), dir
}

// templateBundle is a guest that prints its args, env, host name, clock
// and 16 random bytes, then serves HTTP on :8080 in netns (none: no
// network) or exits 0.
func (e *env) templateBundle(t *testing.T, netns string) *bundle {
	b := e.guestBundle(t)
	copyFile(t, filepath.Join(e.bin, "httpd"), b.rootfs("httpd"), 0o755)
	e.withModules(t, b)
	then := "exit 0"
	if netns != "" {
		joinNetns(b, netns)
		then = "exec /httpd :8080"
	}
	b.spec.Process.Args = []string{"/bin/sh", "-c",
		`echo "arg=$1 who=$WHO host=$(hostname) now=$(date +%s) rand=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n') mac=$(cat /sys/class/net/eth0/address 2>/dev/null)"; ` + then,
		"sh", "first"}
	b.spec.Process.Env = append(b.spec.Process.Env, "WHO=one")
	b.spec.Hostname = "one"
	return b
}

// bootRecord is how the container's guest started.
func (r *runtime) bootRecord(id string) launcher.BootRecord {
	r.t.Helper()
	data, err := os.ReadFile(filepath.Join(r.root, ".urunc", id, "run", launcher.BootFile))
	if err != nil {
		r.t.Fatalf("boot record of %s: %v", id, err)
	}
	var rec launcher.BootRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		r.t.Fatalf("boot record of %s: %v", id, err)
	}
	return rec
}

// templateAge is how old the template is when the second clone starts.
const templateAge = 8 * time.Second

var guestLine = regexp.MustCompile(`arg=(\S*) who=(\S*) host=(\S*) now=(\d+) rand=([0-9a-f]+) mac=(\S*)`)

// guestSays waits for the guest's line in out and returns its fields.
func guestSays(t *testing.T, out string) []string {
	t.Helper()
	waitFor(t, out, "rand=", 90*time.Second)
	data, _ := os.ReadFile(out)
	m := guestLine.FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf("no guest line in:\n%s", data)
	}
	return m[1:]
}

// Two containers of one image: the first builds the template and starts
// from it, the second only starts from it. Each has its own args, env,
// host name, address (two namespaces), random numbers and a clock of now.
func TestTemplateWarmStart(t *testing.T) {
	e, cache := withTemplates(t, setup(t, true), "")
	r := e.runtime(t)
	nets := []*testNet{newTestNet(t, 31), newTestNet(t, 32)}
	b := e.templateBundle(t, nets[0].ctr)
	var rands []string
	for i, tn := range nets {
		id := fmt.Sprintf("warm%d", i+1)
		who := []string{"one", "two"}[i]
		b.spec.Process.Args[len(b.spec.Process.Args)-1] = "arg-" + who
		b.spec.Process.Env[len(b.spec.Process.Env)-1] = "WHO=" + who
		b.spec.Hostname = "host-" + who
		joinNetns(b, tn.ctr)
		if i == 1 {
			// Let the template age: a clone whose clock urunit did not
			// set would tell the template's time, this far behind.
			time.Sleep(templateAge)
		}
		out := r.detached("run", "--detach", "--bundle", b.write(), id)
		got := guestSays(t, out)
		if got[0] != "arg-"+who || got[1] != who || got[2] != "host-"+who {
			t.Errorf("%s: guest says arg=%s who=%s host=%s, want arg-%s, %s, host-%s", id, got[0], got[1], got[2], who, who, who)
		}
		var now int64
		fmt.Sscan(got[3], &now)
		if d := time.Since(time.Unix(now, 0)); d > templateAge/2 || d < -templateAge/2 {
			t.Errorf("%s: guest clock is %v off the host's", id, d)
		}
		rands = append(rands, got[4])
		// The guest's NIC has the address of the container's interface,
		// not the template's: clones on one segment must not share one.
		if want := strings.TrimSpace(tn.in(tn.ctr, "cat", "/sys/class/net/eth0/address")); got[5] != want {
			t.Errorf("%s: guest NIC address %q, want the container interface's %q", id, got[5], want)
		}
		waitFor(t, out, "httpd: listening", 60*time.Second)
		rec := r.bootRecord(id)
		if rec.Mode != launcher.BootRestore || rec.Built != (i == 0) {
			t.Errorf("%s: boot %+v, want a restore (built by the first container only)", id, rec)
		}
	}
	for i, tn := range nets {
		body := tn.get(t, tn.peer, tn.ctrIP+":8080")
		if !strings.Contains(body, "hello from guest httpd") {
			t.Errorf("guest %d: HTTP answer %q", i+1, body)
		}
	}
	if rands[0] == rands[1] {
		t.Errorf("both clones drew the same random bytes %s: the pool was not reseeded", rands[0])
	}
	for i := range nets {
		id := fmt.Sprintf("warm%d", i+1)
		r.ok("kill", id, "KILL")
		r.waitStatus(id, "stopped", 10*time.Second)
		r.ok("delete", id)
	}
	assertOneTemplate(t, cache)
}

// assertOneTemplate checks the cache holds one entry with one complete
// template and no build left over.
func assertOneTemplate(t *testing.T, cache string) {
	t.Helper()
	states, _ := filepath.Glob(filepath.Join(cache, "*", "*", "current", "state"))
	builds, _ := filepath.Glob(filepath.Join(cache, "*", "*", "build-*"))
	if len(states) != 1 || len(builds) != 0 {
		t.Errorf("template cache: %d templates %v and builds %v left, want one template and no build", len(states), states, builds)
	}
}

// Containers of one image created at once all build the template; one
// build wins, the others' are dropped, and every container runs.
func TestTemplateBuildRace(t *testing.T) {
	e, cache := withTemplates(t, setup(t, true), "")
	r := e.runtime(t)
	b := e.templateBundle(t, "")
	dir := b.write()
	const n = 3
	var wg sync.WaitGroup
	outs := make([]string, n)
	codes := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i], outs[i] = r.runStatus(t, b, fmt.Sprintf("race%d", i), nil)
		}(i)
	}
	_ = dir
	wg.Wait()
	for i := 0; i < n; i++ {
		if codes[i] != 0 || !strings.Contains(outs[i], "arg=first who=one") {
			t.Errorf("race%d: status %d, output:\n%s", i, codes[i], outs[i])
		}
	}
	assertOneTemplate(t, cache)
}

// urunc templates list and prune; [templates] max_bytes evicts the least
// recently used entry when another image's template is made.
func TestTemplateCacheLimitAndPrune(t *testing.T) {
	e, cache := withTemplates(t, setup(t, true), "max_bytes = 1\n")
	r := e.runtime(t)
	b1 := e.templateBundle(t, "")
	if code, out := r.runStatus(t, b1, "img1", nil); code != 0 {
		t.Fatalf("img1: status %d:\n%s", code, out)
	}
	entries := func() []string {
		m, _ := filepath.Glob(filepath.Join(cache, "[0-9a-f]*"))
		return m
	}
	first := entries()
	if len(first) != 1 {
		t.Fatalf("cache entries after one image: %v", first)
	}
	if list := r.ok("templates", "list"); !strings.Contains(list, first[0]) {
		t.Errorf("templates list does not show %s:\n%s", first[0], list)
	}
	b2 := e.templateBundle(t, "")
	writeFile(t, b2.rootfs("other-image"), "another image\n")
	if code, out := r.runStatus(t, b2, "img2", nil); code != 0 {
		t.Fatalf("img2: status %d:\n%s", code, out)
	}
	second := entries()
	if len(second) != 1 || second[0] == first[0] {
		t.Errorf("cache entries over max_bytes: %v (first image's was %s): want only the second's", second, first[0])
	}
	if pruned := r.ok("templates", "prune"); !strings.Contains(pruned, second[0]) {
		t.Errorf("templates prune said %q, want %s", pruned, second[0])
	}
	if left := entries(); len(left) != 0 {
		t.Errorf("entries left after prune: %v", left)
	}
}

// A template that no longer fits is not used: a changed kernel keys a new
// template, and a template that fails to restore boots the guest cold
// and is dropped, so the next container builds it anew.
func TestTemplateStaleFallback(t *testing.T) {
	e, cache := withTemplates(t, setup(t, true), "")
	r := e.runtime(t)
	b := e.templateBundle(t, "")
	check := func(id string, wantBuilt bool, wantMode launcher.BootMode) {
		t.Helper()
		out, rec := r.runToEnd(b, id)
		// Cold or warm, the guest has the container's args, env and
		// host name.
		if got := guestSays(t, out); got[0] != "first" || got[1] != "one" || got[2] != "one" {
			t.Errorf("%s: guest says %v, want arg first, who one, host one", id, got)
		}
		if rec.Mode != wantMode || (wantMode == launcher.BootRestore && rec.Built != wantBuilt) {
			t.Errorf("%s: boot %+v, want mode %s built %v", id, rec, wantMode, wantBuilt)
		}
	}
	check("stale1", true, launcher.BootRestore)
	check("stale2", false, launcher.BootRestore)

	// Another kernel: another template, built and used.
	kernel := b.rootfs("boot/vmlinuz")
	data, err := os.ReadFile(kernel)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kernel, append(data, make([]byte, 4096)...), 0o644); err != nil {
		t.Fatal(err)
	}
	check("stale3", true, launcher.BootRestore)
	if m, _ := filepath.Glob(filepath.Join(cache, "[0-9a-f]*")); len(m) != 2 {
		t.Errorf("cache entries after a kernel change: %v, want two", m)
	}

	// A template whose state no longer loads.
	states, _ := filepath.Glob(filepath.Join(cache, "*", "*", "current", "state"))
	for _, s := range states {
		if err := os.WriteFile(s, []byte("QEVM not a state"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	check("stale4", false, launcher.BootCold)
	check("stale5", true, launcher.BootRestore)
}

// A guest that cannot wait for orders (its kernel has no virtio_console:
// Debian's, without its modules in the image) cannot be a template: the
// first container's build fails and it boots cold, as does every later
// one without trying again, and each exits with its application's status.
func TestTemplateUnbuildableBootsCold(t *testing.T) {
	e, _ := withTemplates(t, setup(t, true), "")
	r := e.runtime(t)
	b := e.linuxBundle(t, "3")
	if err := os.RemoveAll(b.rootfs("lib/modules")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(e.kernel), "modules", "lib")); err != nil {
		// make kernel keeps Debian's modules beside it; without them this
		// test would not show what it claims, so it must not pass.
		t.Fatalf("URUNC_KERNEL %s has no modules beside it (run `make kernel`): the test needs a kernel whose virtio_console is a module", e.kernel)
	}
	for i, wantWhy := range []string{"build the template", "cannot be built"} {
		id := fmt.Sprintf("unbuildable%d", i)
		out, rec := r.runToEnd(b, id)
		if data, _ := os.ReadFile(out); !strings.Contains(string(data), "hello from guest") {
			t.Errorf("%s: output:\n%s", id, data)
		}
		if rec.Mode != launcher.BootCold || !strings.Contains(rec.Why, wantWhy) {
			t.Errorf("%s: boot %+v, want cold because %q", id, rec, wantWhy)
		}
	}
}

// runToEnd runs b detached as id until it stops, and returns its console
// file and how its guest started; the container is deleted.
func (r *runtime) runToEnd(b *bundle, id string) (string, launcher.BootRecord) {
	r.t.Helper()
	out := r.detached("run", "--detach", "--bundle", b.write(), id)
	r.waitStatus(id, "stopped", 90*time.Second)
	rec := r.bootRecord(id)
	r.ok("delete", id)
	return out, rec
}

// With [api] socket on, the template is saved and restored over that
// socket, which still answers the user once the clone runs.
func TestTemplateWithAPISocket(t *testing.T) {
	e, _ := withTemplates(t, setup(t, true), "\n[api]\nsocket = true\n")
	r := e.runtime(t)
	b := e.templateBundle(t, "")
	b.spec.Process.Args[2] = strings.Replace(b.spec.Process.Args[2], "exit 0", "exec sleep 600", 1)
	for i, built := range []bool{true, false} {
		id := fmt.Sprintf("api%d", i)
		out := r.detached("run", "--detach", "--bundle", b.write(), id)
		guestSays(t, out)
		if rec := r.bootRecord(id); rec.Mode != launcher.BootRestore || rec.Built != built {
			t.Errorf("%s: boot %+v, want a restore (built: %v)", id, rec, built)
		}
		q, err := qmp.Dial(filepath.Join(r.root, ".urunc", id, "run", "api.sock"), time.Now().Add(10*time.Second))
		if err != nil {
			t.Fatalf("%s: API socket: %v", id, err)
		}
		if st, err := q.Status(); err != nil || st != "running" {
			t.Errorf("%s: API socket says the VM is %q (%v), want running", id, st, err)
		}
		q.Close()
		r.ok("kill", id, "KILL")
		r.waitStatus(id, "stopped", 10*time.Second)
		r.ok("delete", id)
	}
}

// A container killed while it builds its template leaves no VMM behind,
// and the next container of the image sweeps the build it left.
func TestTemplateKilledDuringBuild(t *testing.T) {
	e, cache := withTemplates(t, setup(t, true), "")
	r := e.runtime(t)
	b := e.templateBundle(t, "")
	r.detached("run", "--detach", "--bundle", b.write(), "killed1")
	pid := r.state("killed1").Pid
	var builds []string
	for deadline := time.Now().Add(60 * time.Second); len(builds) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no template build started within 60 s")
		}
		builds, _ = filepath.Glob(filepath.Join(cache, "*", "*", "build-*"))
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.waitStatus("killed1", "stopped", 10*time.Second)
	r.ok("delete", "killed1")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, _ := exec.Command("pgrep", "-f", "mem-path="+builds[0]).Output()
		if len(out) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the build's VMM outlived its container: pids %s", out)
		}
	}
	if _, rec := r.runToEnd(b, "killed2"); rec.Mode != launcher.BootRestore || !rec.Built {
		t.Errorf("killed2: boot %+v, want a restore of a template it built", rec)
	}
	if _, err := os.Stat(builds[0]); !os.IsNotExist(err) {
		t.Errorf("the killed build %s is still there (%v)", builds[0], err)
	}
	assertOneTemplate(t, cache)
}
