package e2e

// The CRI driver: crictl and critest (scripts/install-tools.sh) against a
// private containerd's CRI plugin (harness.Containerd), with the runtime
// handler "urunc" that config registers. Images are built locally and
// imported into CRI's namespace; nothing is pulled.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/urunc-runtime/urunc/internal/pack"
	"github.com/urunc-runtime/urunc/internal/testutil/images"
)

const (
	criNamespace    = "k8s.io"                 // the CRI plugin's containerd namespace
	criHandler      = "urunc"                  // the runtime handler harness.Containerd configures
	criPauseImage   = "urunc.local/pause:test" // harness.DefaultSandboxImage, configured as the sandbox
	criHttpdImage   = "urunc.local/httpd:test"
	criBusyboxImage = "registry.k8s.io/e2e-test-images/busybox:1.29-2" // critest's default test image
	criBootTimeout  = 90 * time.Second
)

// criTools are the cri-tools binaries scripts/install-tools.sh builds.
var criTools = []string{"crictl", "critest"}

// criDaemon is a private containerd driven through its CRI plugin.
type criDaemon struct {
	*ctrdDaemon
	config string // crictl's config file: endpoints and timeout
	logs   string // pods' log directories
}

// criStart starts a containerd with the pause image imported, or skips
// saying what is missing.
func criStart(t *testing.T) *criDaemon {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: containerd runs pods for real (run `make test` as root)")
	}
	tools := os.Getenv("URUNC_TOOLS")
	if tools == "" {
		tools = "/var/cache/urunc/tools"
	}
	for _, b := range criTools {
		if _, err := os.Stat(filepath.Join(tools, b)); err != nil {
			t.Skipf("%s not found in %s: run scripts/install-tools.sh (or set URUNC_TOOLS)", b, tools)
		}
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH: needed to build the pause image")
	}
	d := &criDaemon{ctrdDaemon: ctrdStart(t)}
	d.logs = filepath.Join(d.dir, "pods")
	d.config = filepath.Join(d.dir, "crictl.yaml")
	ep := "unix://" + d.sock
	conf := fmt.Sprintf("runtime-endpoint: %s\nimage-endpoint: %s\ntimeout: 60\n", ep, ep)
	if err := os.WriteFile(d.config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "pause.tar")
	if err := images.WritePause(archive, criPauseImage, pack.FormatOCI, t.TempDir()); err != nil {
		t.Fatalf("build pause image: %v", err)
	}
	d.importImage(archive)
	return d
}

// criPgrep stands in for the pgrep applet, which Debian's busybox-static
// lacks and critest's execSync-with-timeout spec runs.
const criPgrep = `#!/bin/sh
ps -o pid,comm | awk -v n="$1" 'NR > 1 && $2 == n { print $1; found = 1 } END { exit !found }'
`

// criWriteBusybox writes critest's test image: the harness's busybox
// layer and a layer with /bin/pgrep.
func criWriteBusybox(path, ref string) error {
	base, err := images.BusyboxLayer()
	if err != nil {
		return err
	}
	pgrep, err := images.Tar([]images.File{{Name: "bin/", Dir: true, Mode: 0o755}, {Name: "bin/pgrep", Mode: 0o755, Data: []byte(criPgrep)}})
	if err != nil {
		return err
	}
	return images.Write(path, ref, pack.FormatOCI, [][]byte{base, pgrep}, v1.Config{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd: []string{"sh"},
	})
}

// importImage imports an image archive into CRI's namespace.
func (d *criDaemon) importImage(archive string) {
	d.t.Helper()
	_, errs, code := d.run("ctr", "--address", d.sock, "--namespace", criNamespace, "images", "import", archive)
	if code != 0 {
		d.t.Fatalf("ctr -n %s images import %s: exit %d: %s", criNamespace, archive, code, errs)
	}
}

// crictl runs crictl against this daemon and returns its output and status.
func (d *criDaemon) crictl(args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	return d.run("crictl", append([]string{"--config", d.config}, args...)...)
}

// crictlOK runs crictl and fails the test unless it exits 0.
func (d *criDaemon) crictlOK(args ...string) string {
	d.t.Helper()
	out, errs, code := d.crictl(args...)
	if code != 0 {
		d.t.Fatalf("crictl %v: exit %d: %s", args, code, errs)
	}
	return strings.TrimSpace(out)
}

// writeJSON stores v as a JSON file under the daemon's folder.
func (d *criDaemon) writeJSON(name string, v any) string {
	d.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		d.t.Fatal(err)
	}
	p := filepath.Join(d.dir, name)
	writeFile(d.t, p, string(b))
	return p
}

// criPod is one pod sandbox started with crictl runp.
type criPod struct {
	d      *criDaemon
	id     string
	config string // pod config file, needed again by crictl create
}

// runPod starts a pod sandbox with the urunc handler.
func (d *criDaemon) runPod(name string, annotations map[string]string) (*criPod, string, int) {
	d.t.Helper()
	logs := filepath.Join(d.logs, name)
	if err := os.MkdirAll(logs, 0o755); err != nil {
		d.t.Fatal(err)
	}
	config := d.writeJSON(name+"-pod.json", map[string]any{
		"metadata":      map[string]any{"name": name, "namespace": "default", "uid": name + "-uid", "attempt": 0},
		"hostname":      name,
		"log_directory": logs,
		"annotations":   annotations,
		"linux":         map[string]any{},
	})
	out, errs, code := d.crictl("runp", "--runtime", criHandler, config)
	return &criPod{d: d, id: strings.TrimSpace(out), config: config}, errs, code
}

// create creates a container in the pod; args override the image's command.
func (p *criPod) create(name, image string, args ...string) string {
	p.d.t.Helper()
	c := map[string]any{
		"metadata": map[string]any{"name": name},
		"image":    map[string]any{"image": image},
		"log_path": name + ".log",
		"linux":    map[string]any{},
	}
	if len(args) > 0 {
		c["args"] = args
	}
	return p.d.crictlOK("create", p.id, p.d.writeJSON(name+"-ctr.json", c), p.config)
}

// criInspect is what the tests read from crictl inspect and inspectp.
type criInspect struct {
	Status struct {
		State    string `json:"state"`
		ExitCode int    `json:"exitCode"`
		Network  struct {
			IP string `json:"ip"`
		} `json:"network"`
	} `json:"status"`
	Info struct {
		Pid         int `json:"pid"`
		RuntimeSpec struct {
			Linux struct {
				Namespaces []struct {
					Type string `json:"type"`
					Path string `json:"path"`
				} `json:"namespaces"`
			} `json:"linux"`
		} `json:"runtimeSpec"`
	} `json:"info"`
}

func (d *criDaemon) inspect(verb, id string) criInspect {
	d.t.Helper()
	var in criInspect
	if err := json.Unmarshal([]byte(d.crictlOK(verb, "-o", "json", id)), &in); err != nil {
		d.t.Fatalf("crictl %s %s: %v", verb, id, err)
	}
	return in
}

// netns is the path of the pod's network namespace.
func (p *criPod) netns() string {
	for _, ns := range p.d.inspect("inspectp", p.id).Info.RuntimeSpec.Linux.Namespaces {
		if ns.Type == "network" {
			return ns.Path
		}
	}
	p.d.t.Fatalf("pod %s has no network namespace path", p.id)
	return ""
}

// waitLogs polls crictl logs until it contains want.
func (d *criDaemon) waitLogs(id, want string) string {
	d.t.Helper()
	var out, errs string
	for deadline := time.Now().Add(criBootTimeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if out, errs, _ = d.crictl("logs", id); strings.Contains(out+errs, want) {
			return out + errs
		}
	}
	d.t.Fatalf("crictl logs %s lacks %q after %v:\n%s%s", id, want, criBootTimeout, out, errs)
	return ""
}

// criGet fetches http://addr/, retrying while the guest's server comes up.
func criGet(addr string, tries int) (string, error) {
	body, err := httpGet(addr)
	for i := 1; err != nil && i < tries; i++ {
		time.Sleep(250 * time.Millisecond)
		body, err = httpGet(addr)
	}
	return body, err
}

// inNetns runs a command inside a network namespace file.
func criInNetns(path string, args ...string) string {
	out, err := exec.Command("nsenter", append([]string{"--net=" + path}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s (%v)", out, err)
	}
	return string(out)
}

// assertNetnsClean checks that no tap, ingress qdisc or filter of urunc is
// left in the pod's network namespace, which outlives its containers.
func (p *criPod) assertNetnsClean(t *testing.T, ns, after string) {
	t.Helper()
	if links := criInNetns(ns, "ip", "-o", "link", "show"); tapName.MatchString(links) {
		t.Errorf("tap left in the pod after %s:\n%s", after, links)
	}
	if q := criInNetns(ns, "tc", "qdisc", "show", "dev", "eth0", "ingress"); strings.Contains(q, "ingress") {
		t.Errorf("ingress qdisc left in the pod after %s:\n%s", after, q)
	}
}

// assertGone checks that nothing of the containers and pods ids is left:
// VMM processes, urunc shims of this daemon, runtime and VM state, taps.
func (d *criDaemon) assertGone(t *testing.T, vmmPids []int, ids ...string) {
	t.Helper()
	for _, pid := range vmmPids {
		for i := 0; i < 50 && strings.Contains(exeOf(strconv.Itoa(pid)), "qemu-system"); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if exe := exeOf(strconv.Itoa(pid)); strings.Contains(exe, "qemu-system") {
			t.Errorf("VMM pid %d (%s) still running", pid, exe)
		}
	}
	for i := 0; i < 50 && d.shimCount() > 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if n := d.shimCount(); n > 0 {
		t.Errorf("%d urunc shims left", n)
	}
	state := filepath.Join("/run/containerd/runc", criNamespace)
	for _, id := range ids {
		if id == "" {
			continue
		}
		for _, p := range []string{filepath.Join(state, id), filepath.Join(state, ".urunc", id)} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("runtime state left: %s", p)
			}
		}
	}
	if out, _ := exec.Command("ip", "-o", "link", "show").CombinedOutput(); tapName.Match(out) {
		t.Errorf("tap left on the host:\n%s", out)
	}
	if out := d.crictlOK("ps", "-a", "-q"); out != "" {
		t.Errorf("containers left: %s", out)
	}
	if out := d.crictlOK("pods", "-q"); out != "" {
		t.Errorf("pods left: %s", out)
	}
}

// criUnikernel starts a containerd and imports the httpd unikernel image.
func criUnikernel(t *testing.T) *criDaemon {
	e := setup(t, true)
	if _, err := os.Stat(filepath.Join(e.bin, "urunc-pack")); err != nil {
		t.Skip("urunc-pack not built: run `make`")
	}
	ctrdNeedUrunc(t)
	d := criStart(t)
	d.importImage(packApp(t, e, criHttpdImage, "httpd", true))
	return d
}

// A pod with the urunc handler: the sandbox is a plain container under urunc,
// the unikernel container in it serves HTTP on the pod's IP, and stop/rm of
// both leave nothing behind.
func TestCRIUnikernelPod(t *testing.T) {
	d := criUnikernel(t)
	pod, errs, code := d.runPod("web", nil)
	if code != 0 {
		t.Fatalf("crictl runp --runtime %s: exit %d: %s", criHandler, code, errs)
	}
	if shim := d.shimOf(pod.id); shim != "containerd-shim-urunc-v2" {
		t.Errorf("pod sandbox runs under shim %q, want containerd-shim-urunc-v2", shim)
	}
	if pid := d.inspect("inspectp", pod.id).Info.Pid; filepath.Base(exeOf(strconv.Itoa(pid))) != "pause" {
		t.Errorf("pod sandbox pid %d is %q, want the pause binary (a plain container)", pid, exeOf(strconv.Itoa(pid)))
	}
	id := pod.create("httpd", criHttpdImage)
	d.crictlOK("start", id)
	d.waitLogs(id, "httpd: listening")
	c := d.inspect("inspect", id)
	vmm := vmmPid(c.Info.Pid)
	if c.Status.State != "CONTAINER_RUNNING" || !strings.Contains(vmmExe(c.Info.Pid), "qemu-system") {
		t.Errorf("container %s: state %q, pid %d (%s); want CONTAINER_RUNNING with the VMM's pid",
			id, c.Status.State, c.Info.Pid, exeOf(strconv.Itoa(c.Info.Pid)))
	}
	ip := d.inspect("inspectp", pod.id).Status.Network.IP
	if body, err := criGet(ip+":8080", 40); err != nil || !strings.Contains(body, "hello from guest httpd") {
		t.Errorf("GET http://%s:8080/: %v %q", ip, err, body)
	}
	d.crictlOK("stop", "--timeout", "10", id) // crictl's default, 0, kills at once
	if code := d.inspect("inspect", id).Status.ExitCode; code != 143 {
		t.Errorf("exit code after crictl stop %d, want 143 (SIGTERM reached the guest's app)", code)
	}
	ns := pod.netns()
	d.crictlOK("rm", id)
	pod.assertNetnsClean(t, ns, "crictl rm")
	d.crictlOK("stopp", pod.id)
	d.crictlOK("rmp", pod.id)
	if _, err := os.Stat(ns); err == nil {
		t.Errorf("pod network namespace %s left after rmp", ns)
	}
	d.assertGone(t, []int{vmm}, id, pod.id)
}

// Two unikernels in one pod would share its one interface: urunc refuses
// the second at start, and the first keeps serving.
func TestCRITwoUnikernelsInOnePod(t *testing.T) {
	d := criUnikernel(t)
	pod, errs, code := d.runPod("two", nil)
	if code != 0 {
		t.Fatalf("crictl runp: exit %d: %s", code, errs)
	}
	ip, ns := d.inspect("inspectp", pod.id).Status.Network.IP, pod.netns()
	first := pod.create("first", criHttpdImage, ":8080")
	d.crictlOK("start", first)
	d.waitLogs(first, "httpd: listening")
	if _, err := criGet(ip+":8080", 40); err != nil {
		t.Fatalf("first guest does not answer on %s:8080: %v", ip, err)
	}
	second := pod.create("second", criHttpdImage, ":8081")
	_, errs, code = d.crictl("start", second)
	if code == 0 || !strings.Contains(errs, "one guest per network namespace") {
		t.Errorf("start of a second unikernel in the pod: exit %d %s; want a refusal", code, strings.TrimSpace(errs))
	}
	pids := []int{vmmPid(d.inspect("inspect", first).Info.Pid)}
	d.crictl("rm", "-f", second)
	if _, err := criGet(ip+":8080", 40); err != nil {
		pod.logNetwork(t, ns, ip, "after the refused second")
		t.Errorf("first guest stopped answering after the refused second: %v", err)
	}
	d.crictlOK("rm", "-f", first)
	pod.assertNetnsClean(t, ns, "crictl rm of both")
	d.crictlOK("stopp", pod.id)
	d.crictlOK("rmp", pod.id)
	d.assertGone(t, pids, first, second, pod.id)
}

// logNetwork logs the pod's taps and eth0 redirects and which guest answers.
func (p *criPod) logNetwork(t *testing.T, ns, ip, when string) {
	t.Helper()
	links := criInNetns(ns, "ip", "-o", "link", "show")
	t.Logf("%s: taps in the pod: %q", when, tapName.FindAllString(links, -1))
	t.Logf("%s: eth0 ingress filters:\n%s", when, criInNetns(ns, "tc", "filter", "show", "dev", "eth0", "ingress"))
	for _, port := range []string{"8080", "8081"} {
		body, err := criGet(ip+":"+port, 8)
		t.Logf("%s: GET %s:%s: %q, error %v", when, ip, port, strings.TrimSpace(body), err)
	}
}

// Pod annotations are passed to every container of the pod, the sandbox
// included (harness.Containerd sets pod_annotations); urunc runs the
// sandbox as a plain container all the same.
func TestCRIPodAnnotationsReachSandbox(t *testing.T) {
	d := criUnikernel(t)
	pod, errs, code := d.runPod("annotated", map[string]string{
		"com.urunc.unikernel.unikernelType": "linux",
		"com.urunc.unikernel.hypervisor":    "qemu",
		"com.urunc.unikernel.binary":        "/urunc/kernel",
	})
	if code != 0 {
		t.Errorf("crictl runp of a pod with com.urunc.unikernel.* annotations: exit %d %s; want the sandbox to run", code, strings.TrimSpace(errs))
	} else {
		d.crictlOK("stopp", pod.id)
		d.crictlOK("rmp", pod.id)
	}
	for _, id := range strings.Fields(d.crictlOK("pods", "-q")) {
		d.crictl("rmp", "-f", id)
	}
	d.assertGone(t, nil, pod.id)
}

// criCritestFocus selects critest's basic sandbox and container lifecycle specs.
const criCritestFocus = `\[k8s\.io\] (PodSandbox|Container) runtime should support (basic operations|log)`

// criSpec is one spec of ginkgo's JSON report.
type criSpec struct {
	ContainerHierarchyTexts []string
	LeafNodeText            string
	State                   string
	Failure                 *struct{ Message string }
}

// critest runs critest's lifecycle specs with handler (empty: the default,
// runc) and returns the specs it ran.
func (d *criDaemon) critest(t *testing.T, handler string) []criSpec {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.json")
	args := []string{
		"--runtime-endpoint", "unix://" + d.sock, "--image-endpoint", "unix://" + d.sock,
		"--config", d.config, "--ginkgo.focus", criCritestFocus, "--ginkgo.no-color",
		"--ginkgo.json-report", report, "--ginkgo.timeout", "8m",
	}
	if handler != "" {
		args = append(args, "--runtime-handler", handler)
	}
	start := time.Now()
	out, errs, code, err := d.exec("critest", args...)
	t.Logf("critest --runtime-handler %q: exit %d in %v", handler, code, time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("critest: %v\n%s", err, errs)
	}
	var reports []struct{ SpecReports []criSpec }
	b, rerr := os.ReadFile(report)
	if rerr == nil {
		rerr = json.Unmarshal(b, &reports)
	}
	if rerr != nil || len(reports) == 0 {
		t.Fatalf("critest report: %v (exit %d)\n%s\n%s", rerr, code, out, errs)
	}
	var specs []criSpec
	for _, s := range reports[0].SpecReports {
		if s.LeafNodeText != "" && s.State != "skipped" {
			specs = append(specs, s)
		}
	}
	return specs
}

// critest's basic PodSandbox and container specs pass under the urunc
// handler (plain containers through libcontainer) as they do under runc.
func TestCRICritest(t *testing.T) {
	ctrdNeedUrunc(t)
	d := criStart(t)
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	if _, err := os.Stat(ctrdHostBusybox); err != nil {
		t.Skipf("%s missing: run `make deps` (busybox-static)", ctrdHostBusybox)
	}
	if err := criWriteBusybox(archive, criBusyboxImage); err != nil {
		t.Fatalf("build busybox image: %v", err)
	}
	d.importImage(archive)
	results := map[string]map[string]string{}
	for _, h := range []string{"", criHandler} {
		for _, s := range d.critest(t, h) {
			name := strings.Join(append(s.ContainerHierarchyTexts, s.LeafNodeText), " / ")
			if results[name] == nil {
				results[name] = map[string]string{}
			}
			results[name][h] = s.State
			if s.State != "passed" && s.Failure != nil {
				t.Logf("handler %q: %s: %s", h, name, s.Failure.Message)
			}
		}
	}
	if len(results) == 0 {
		t.Fatal("critest ran no specs")
	}
	for name, r := range results {
		t.Logf("runc %-7s urunc %-7s %s", r[""], r[criHandler], name)
		if r[criHandler] != "passed" && r[""] == "passed" {
			t.Errorf("%s: %s under urunc, passed under runc", name, r[criHandler])
		}
	}
}
