package e2e

// Images that carry urunc's metadata only in their manifest annotations or
// config labels (issue 18): containerd's clients do not copy them into the
// spec, so the shim reads them through containerd's API. Without it such an
// image ran as a plain container, silently.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// packOmitting packs the hello app (with the kernel's modules) leaving out
// the metadata forms omit (annotations, labels, file).
func packOmitting(t *testing.T, e *env, ref, format string, omit []string, cmd ...string) string {
	t.Helper()
	rootfs := t.TempDir()
	copyFile(t, filepath.Join(e.bin, "hello"), filepath.Join(rootfs, "hello"), 0o755)
	e.agentModules(t, rootfs)
	archive := filepath.Join(t.TempDir(), "hello.tar")
	args := []string{"--kernel", e.kernel, "--type", "linux", "--hypervisor", "qemu",
		"--rootfs", rootfs, "--entrypoint", "/hello", "--tag", ref, "--format", format, "--output", archive}
	for _, o := range omit {
		args = append(args, "--omit-metadata", o)
	}
	for _, c := range cmd {
		args = append(args, "--cmd", c)
	}
	if out, err := exec.Command(filepath.Join(e.bin, "urunc-pack"), args...).CombinedOutput(); err != nil {
		t.Fatalf("urunc-pack: %v\n%s", err, out)
	}
	return archive
}

// imageForms are the images of the tests: metadata in one form only.
var imageForms = []struct {
	name string
	omit []string
}{
	{"annotations-only", []string{"file", "labels"}},
	{"labels-only", []string{"file", "annotations"}},
}

func TestCtrImageMetadata(t *testing.T) {
	e, d := uruncCtrd(t)
	for _, f := range imageForms {
		t.Run(f.name, func(t *testing.T) {
			ref := "urunc.local/hello:" + f.name
			d.ctrOK("images", "import", packOmitting(t, e, ref, "oci", f.omit, "0", "600"))
			id := "m-" + f.name
			d.ctrOK("run", "-d", "--runtime", ctrdUruncRuntime, ref, id)
			// hello runs as well on the host: only a VMM says it is a unikernel.
			pid, status := d.taskPid(id)
			if exe := vmmExe(pid); status != "RUNNING" || !strings.Contains(exe, "qemu-system") {
				t.Errorf("task %s: pid %d (%s) status %q, want RUNNING under a VMM", id, pid, exe, status)
			}
			d.ctrOK("tasks", "kill", "-s", "SIGKILL", id)
			d.waitTaskStopped(id, 30*time.Second)
			d.ctrOK("tasks", "delete", id)
			d.ctrOK("containers", "delete", id)
		})
	}
	d.assertNoVMM(t)
}

func TestNerdctlImageMetadata(t *testing.T) {
	e, d := uruncCtrd(t)
	for _, f := range imageForms {
		t.Run(f.name, func(t *testing.T) {
			ref := "urunc.local/hello:n-" + f.name
			d.nerdctlOK("load", "-i", packOmitting(t, e, ref, "oci", f.omit, "0", "600"))
			name := "n-" + f.name
			d.nerdctlOK("run", "-d", "--name", name, "--network", "none", "--runtime", ctrdUruncRuntime, ref)
			t.Cleanup(func() { d.nerdctl("rm", "-f", name) })
			pid, err := strconv.Atoi(strings.TrimSpace(d.nerdctlOK("inspect", "-f", "{{.State.Pid}}", name)))
			if err != nil {
				t.Fatal(err)
			}
			if exe := vmmExe(pid); !strings.Contains(exe, "qemu-system") {
				t.Errorf("container %s: pid %d runs %s, want a VMM", name, pid, exe)
			}
			d.nerdctlOK("rm", "-f", name)
		})
	}
	d.assertNoVMM(t)
}

func TestCRIImageMetadata(t *testing.T) {
	e := setup(t, true)
	ctrdNeedUrunc(t)
	d := criStart(t)
	for _, f := range imageForms {
		t.Run(f.name, func(t *testing.T) {
			ref := "urunc.local/hello:c-" + f.name
			d.importImage(packOmitting(t, e, ref, "oci", f.omit, "0", "600"))
			pod, errs, code := d.runPod("meta-"+f.name, nil)
			if code != 0 {
				t.Fatalf("crictl runp: exit %d: %s", code, errs)
			}
			id := pod.create("hello", ref)
			d.crictlOK("start", id)
			d.waitLogs(id, "hello from guest")
			c := d.inspect("inspect", id)
			if !strings.Contains(vmmExe(c.Info.Pid), "qemu-system") {
				t.Errorf("container %s: pid %d is not a VM's (a plain container?)", id, c.Info.Pid)
			}
			vmm := vmmPid(c.Info.Pid)
			d.crictlOK("stop", "--timeout", "10", id)
			d.crictlOK("rm", id)
			d.crictlOK("stopp", pod.id)
			d.crictlOK("rmp", pod.id)
			d.assertGone(t, []int{vmm}, id, pod.id)
		})
	}
}

// With [security] require_unikernel, or the annotation
// com.urunc.unikernel.required, a plain container is refused at create,
// with one line, and leaves nothing; without either it runs plain.
func TestRequireUnikernel(t *testing.T) {
	e := setup(t, false)
	strict := *e
	strict.config = filepath.Join(t.TempDir(), "config.toml")
	base, _ := os.ReadFile(e.config)
	writeFile(t, strict.config, string(base)+"\n[security]\nrequire_unikernel = true\n")
	cases := []struct {
		name string
		env  *env
		ann  map[string]string
		want string // "" when it runs
	}{
		{"default", e, nil, ""},
		{"strict config", &strict, nil, "require_unikernel"},
		{"annotation", e, map[string]string{"com.urunc.unikernel.required": "true"}, "com.urunc.unikernel.required requires one"},
		{"strict config, pod sandbox", &strict, map[string]string{"io.kubernetes.cri.container-type": "sandbox"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.env.runtime(t)
			b := busyboxBundle(t, "true")
			b.spec.Annotations = tc.ann
			res := r.urunc("run", "--bundle", b.write(), "req")
			if tc.want == "" {
				if res.code != 0 {
					t.Fatalf("run: exit %d: %s", res.code, res.stderr)
				}
				return
			}
			lines := nonEmptyLines(res.stderr)
			if res.code == 0 || len(lines) != 1 || !strings.Contains(lines[0], tc.want) || !strings.Contains(lines[0], "no unikernel metadata") {
				t.Fatalf("run: exit %d, stderr %q; want one line naming %q", res.code, res.stderr, tc.want)
			}
		})
	}
}

// podman copies an image's manifest annotations into the spec, not its
// config labels: an annotations-only image runs as a unikernel; a
// labels-only one would run plain, which the required annotation turns
// into a refusal naming the problem. (Docker copies neither: its images
// need /urunc.json, docs/podman-docker.md.)
func TestPodmanImageMetadata(t *testing.T) {
	e := setup(t, true)
	p := pdStartPodman(t, e)
	img := p.load(packOmitting(t, e, "urunc.local/hello:pm-annotations", "oci", []string{"file", "labels"}, "0", "600"))
	if _, errs, code := p.run("-d", "--name", "pm", img); code != 0 {
		t.Fatalf("podman run -d: exit %d: %s", code, errs)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(p.ok("inspect", "-f", "{{.State.Pid}}", "pm")))
	if err != nil {
		t.Fatal(err)
	}
	if exe := vmmExe(pid); !strings.Contains(exe, "qemu-system") {
		t.Errorf("annotations-only image under podman: pid %d runs %s, want a VMM", pid, exe)
	}
	p.ok("rm", "-f", "pm")
	labels := p.load(packOmitting(t, e, "urunc.local/hello:pm-labels", "oci", []string{"file", "annotations"}, "0", "600"))
	_, errs, code := p.run("--rm", "--annotation", "com.urunc.unikernel.required=true", labels)
	if code == 0 || !strings.Contains(errs, "no unikernel metadata") {
		t.Errorf("labels-only image with the required annotation: exit %d, stderr %q; want a refusal", code, errs)
	}
	p.assertNoState()
}
