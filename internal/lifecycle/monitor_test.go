package lifecycle

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/launcher"
	"github.com/urunc-runtime/urunc/internal/unikernel"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

func testSetup(accel vmm.Accel) *vmSetup {
	return &vmSetup{
		meta:   &unikernel.Config{Type: "linux", KernelPath: "/bundle/rootfs/boot/vmlinuz"},
		plan:   launcher.Plan{VMM: vmm.QEMU, Spec: vmm.Spec{Binary: "/usr/bin/qemu-system-x86_64", Accel: accel, KernelFormat: vmm.FormatBzImage}},
		dir:    "/run/urunc/.urunc/c1",
		initrd: "/run/urunc/.urunc/c1/initrd",
	}
}

func TestMonitorSpec(t *testing.T) {
	in := &specs.Spec{
		Root:        &specs.Root{Path: "rootfs"},
		Process:     &specs.Process{Args: []string{"/app", "x"}, Cwd: "/srv", Env: []string{"SECRET=1"}},
		Mounts:      []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}},
		Linux:       &specs.Linux{},
		Annotations: map[string]string{"a": "b"},
	}
	out, err := monitorSpec(in, testSetup(vmm.AccelTCG), "/usr/local/bin/urunc")
	if err != nil {
		t.Fatal(err)
	}
	if out.Root.Path != "/run/urunc/.urunc/c1/rootfs" || !out.Root.Readonly {
		t.Errorf("root = %+v, want the read-only monitor root", out.Root)
	}
	if got := strings.Join(out.Process.Args, " "); got != "/urunc/urunc launch /urunc/share" {
		t.Errorf("process.args = %q", got)
	}
	if strings.Contains(strings.Join(out.Process.Env, " "), "SECRET") {
		t.Error("the app's environment reached the VMM process")
	}
	if !out.Process.NoNewPrivileges || in.Process.NoNewPrivileges {
		t.Error("the VMM may gain privileges (process.noNewPrivileges is off), or the input changed")
	}
	if in.Process.Args[0] != "/app" || len(in.Mounts) != 1 || len(in.Annotations) != 1 {
		t.Error("monitorSpec changed its input")
	}
	mounts := map[string]specs.Mount{}
	for _, m := range out.Mounts {
		mounts[m.Destination] = m
	}
	for dst, src := range map[string]string{
		"/urunc/urunc":  "/usr/local/bin/urunc",
		"/urunc/share":  filepath.Join("/run/urunc/.urunc/c1", shareDir),
		"/urunc/kernel": "/bundle/rootfs/boot/vmlinuz",
		"/urunc/initrd": "/run/urunc/.urunc/c1/initrd",
	} {
		m, ok := mounts[dst]
		if !ok || m.Source != src || !hasOpt(m.Options, "ro") {
			t.Errorf("mount %s = %+v, want read-only bind of %s", dst, m, src)
		}
	}
	if out.Annotations[annotationAccel] != "tcg" {
		t.Errorf("accel annotation = %q", out.Annotations[annotationAccel])
	}
	for _, d := range out.Linux.Devices {
		if d.Path == "/dev/kvm" {
			t.Error("/dev/kvm given to a TCG guest")
		}
	}
}

func hasOpt(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

func TestCheckTerminal(t *testing.T) {
	cases := []struct {
		name             string
		terminal, detach bool
		socket           string
		wantErr          bool
	}{
		{"foreground plain", false, false, "", false},
		{"foreground tty", true, false, "", false},
		{"detached tty with socket", true, true, "/s", false},
		{"detached tty without socket", true, true, "", true},
		{"socket without tty", false, true, "/s", true},
		{"socket in foreground", true, false, "/s", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkTerminal(tc.terminal, tc.detach, tc.socket); (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestValidateSpec(t *testing.T) {
	ok := func() *specs.Spec {
		return &specs.Spec{Root: &specs.Root{Path: "rootfs"}, Process: &specs.Process{Args: []string{"a"}, Cwd: "/"}, Linux: &specs.Linux{}}
	}
	cases := []struct {
		name string
		edit func(*specs.Spec)
		want string
	}{
		{"valid", func(*specs.Spec) {}, ""},
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path"},
		{"no process", func(s *specs.Spec) { s.Process = nil }, "process"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "srv" }, "process.cwd"},
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args"},
		{"no linux", func(s *specs.Spec) { s.Linux = nil }, "linux"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := ok()
			tc.edit(s)
			err := validateSpec(s)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestPodSandboxIsPlain(t *testing.T) {
	r := &Runtime{}
	spec := &specs.Spec{Root: &specs.Root{Path: "/nonexistent"}, Annotations: map[string]string{
		"io.kubernetes.cri.container-type":  "sandbox",
		"com.urunc.unikernel.unikernelType": "linux", // a pod annotation, meant for the pod's other containers
	}}
	meta, err := r.unikernelConfig(spec, "/")
	if err != nil || meta != nil {
		t.Fatalf("sandbox: metadata %v, error %v; want a plain container", meta, err)
	}
	spec.Annotations["io.kubernetes.cri.container-type"] = "container"
	if _, err := r.unikernelConfig(spec, "/"); err == nil {
		t.Fatal("a pod's container with partial metadata was not refused")
	}
}

func TestVMMCapabilities(t *testing.T) {
	docker := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}
	all := &specs.LinuxCapabilities{Bounding: docker, Effective: docker, Permitted: docker, Inheritable: docker, Ambient: docker}
	cases := []struct {
		name   string
		in     *specs.LinuxCapabilities
		shares bool
		want   []string
	}{
		{"no shares: none", all, false, []string{}},
		{"shares: the 9p server's, as granted", all, true, []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER"}},
		{"shares never add what was not granted", &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}}, true, []string{}},
		{"no capabilities at all", nil, true, []string{}},
	}
	for _, c := range cases {
		got := vmmCapabilities(c.in, c.shares)
		for name, set := range map[string][]string{"bounding": got.Bounding, "effective": got.Effective,
			"permitted": got.Permitted, "inheritable": got.Inheritable, "ambient": got.Ambient} {
			if !reflect.DeepEqual(set, c.want) {
				t.Errorf("%s: %s = %q, want %q", c.name, name, set, c.want)
			}
		}
	}
}
