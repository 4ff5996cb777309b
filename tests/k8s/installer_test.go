package k8s

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/urunc-runtime/urunc/internal/pack"
	"github.com/urunc-runtime/urunc/internal/testutil/images"
)

// deployImage is the installer image the DaemonSets name.
const deployImage = "urunc.local/urunc-deploy:latest"

// writeDeployImage builds deploy/Dockerfile's image without a Docker
// engine or debian:12-slim: busybox for the tools install.sh uses, the
// host's bash with its libraries, install.sh and the three binaries.
func writeDeployImage(path, bin string) error {
	base, err := images.BusyboxLayer()
	if err != nil {
		return err
	}
	files := []images.File{
		{Name: "usr/", Dir: true, Mode: 0o755}, {Name: "usr/bin/", Dir: true, Mode: 0o755},
		{Name: "usr/bin/env", Link: "/bin/busybox", Mode: 0o777},
		{Name: "lib/", Dir: true, Mode: 0o755}, {Name: "lib/x86_64-linux-gnu/", Dir: true, Mode: 0o755},
		{Name: "lib64/", Dir: true, Mode: 0o755},
		{Name: "opt/", Dir: true, Mode: 0o755}, {Name: "opt/urunc/", Dir: true, Mode: 0o755}, {Name: "opt/urunc/bin/", Dir: true, Mode: 0o755},
	}
	add := func(name, src string) error {
		b, err := os.ReadFile(src) // follows the library symlinks
		if err == nil {
			files = append(files, images.File{Name: name, Mode: 0o755, Data: b})
		}
		return err
	}
	for name, src := range map[string]string{
		"bin/bash":                           "/bin/bash",
		"lib/x86_64-linux-gnu/libtinfo.so.6": "/lib/x86_64-linux-gnu/libtinfo.so.6",
		"lib/x86_64-linux-gnu/libc.so.6":     "/lib/x86_64-linux-gnu/libc.so.6",
		"lib64/ld-linux-x86-64.so.2":         "/lib64/ld-linux-x86-64.so.2",
		// busybox has no install applet; debian:12-slim has coreutils'.
		"usr/bin/install":                        "/usr/bin/install",
		"lib/x86_64-linux-gnu/libselinux.so.1":   "/lib/x86_64-linux-gnu/libselinux.so.1",
		"lib/x86_64-linux-gnu/libacl.so.1":       "/lib/x86_64-linux-gnu/libacl.so.1",
		"lib/x86_64-linux-gnu/libattr.so.1":      "/lib/x86_64-linux-gnu/libattr.so.1",
		"lib/x86_64-linux-gnu/libpcre2-8.so.0":   "/lib/x86_64-linux-gnu/libpcre2-8.so.0",
		"opt/urunc/install.sh":                   "../../deploy/install.sh",
		"opt/urunc/bin/urunc":                    filepath.Join(bin, "urunc"),
		"opt/urunc/bin/urunit":                   filepath.Join(bin, "urunit"),
		"opt/urunc/bin/containerd-shim-urunc-v2": filepath.Join(bin, "containerd-shim-urunc-v2"),
	} {
		if err := add(name, src); err != nil {
			return fmt.Errorf("installer image: %w", err)
		}
	}
	layer, err := images.Tar(files)
	if err != nil {
		return err
	}
	return images.Write(path, deployImage, pack.FormatOCI, [][]byte{base, layer}, v1.Config{
		Entrypoint: []string{"/opt/urunc/install.sh"}, Cmd: []string{"install"},
	})
}

// daemonSet reads one of deploy/'s DaemonSets and points it at a scratch
// node root instead of the host's /, without restarting containerd: the
// manifest is otherwise applied as shipped.
func daemonSet(t *testing.T, file, root string) *appsv1.DaemonSet {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../deploy", file))
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(b, &ds); err != nil {
		t.Fatalf("deploy/%s: %v", file, err)
	}
	spec := &ds.Spec.Template.Spec
	for i := range spec.Volumes {
		if hp := spec.Volumes[i].HostPath; hp != nil && hp.Path == "/" {
			hp.Path = root
		}
	}
	c := &spec.Containers[0]
	for i := range c.Env {
		if c.Env[i].Name == "RESTART_CONTAINERD" {
			c.Env[i].Value = "no"
		}
	}
	return &ds
}

// waitDaemonSet waits for the DaemonSet's one pod to be Ready (its script
// ran and it sleeps).
func (c *cluster) waitDaemonSet(t *testing.T, ds *appsv1.DaemonSet) {
	t.Helper()
	c.waitFor(t, readyTimeout, "DaemonSet "+ds.Name+" ready", func() (bool, string) {
		got, err := c.cs.AppsV1().DaemonSets(ds.Namespace).Get(c.ctx, ds.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		s := got.Status
		pods, _ := c.cs.CoreV1().Pods(ds.Namespace).List(c.ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + ds.Name})
		var sum string
		if pods != nil {
			sum = podSummary(pods.Items)
			for _, p := range pods.Items {
				b, _ := c.cs.CoreV1().Pods(ds.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Previous: true}).DoRaw(c.ctx)
				if len(b) > 0 {
					sum += "\n  previous log: " + string(b)
				}
			}
		}
		return s.DesiredNumberScheduled == 1 && s.NumberReady == 1, fmt.Sprintf("%+v%s", s, sum)
	})
}

func (c *cluster) deleteDaemonSet(t *testing.T, ds *appsv1.DaemonSet) {
	t.Helper()
	if t.Failed() {
		pods, _ := c.cs.CoreV1().Pods(ds.Namespace).List(c.ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + ds.Name})
		for _, p := range pods.Items {
			b, err := c.cs.CoreV1().Pods(ds.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(c.ctx)
			t.Logf("log of %s: %s %v", p.Name, b, err)
		}
	}
	if err := c.cs.AppsV1().DaemonSets(ds.Namespace).Delete(c.ctx, ds.Name, metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete DaemonSet %s: %v", ds.Name, err)
	}
	c.waitFor(t, 2*time.Minute, "pods of "+ds.Name+" gone", func() (bool, string) {
		pods, err := c.cs.CoreV1().Pods(ds.Namespace).List(c.ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + ds.Name})
		return err == nil && len(pods.Items) == 0, fmt.Sprint(err)
	})
}

// The installer and uninstaller DaemonSets of deploy/, on a scratch node
// root: the installer copies the binaries and registers the handler in
// containerd's config; the uninstaller puts the config back byte for byte
// and removes the binaries.
func (c *cluster) testInstaller(t *testing.T) {
	root := filepath.Join(c.Dir, "node-root")
	config := filepath.Join(root, "etc", "containerd", "config.toml")
	before := "version = 3\n\n[plugins.'io.containerd.cri.v1.runtime'.containerd]\n  default_runtime_name = 'runc'\n"
	for _, d := range []string{filepath.Dir(config), filepath.Join(root, "usr", "local", "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(config, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	install := daemonSet(t, "urunc-installer.yaml", root)
	if _, err := c.cs.AppsV1().DaemonSets(install.Namespace).Create(c.ctx, install, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitDaemonSet(t, install)
	for _, b := range []string{"urunc", "urunit", "containerd-shim-urunc-v2"} {
		want, _ := os.ReadFile(filepath.Join(c.bin, b))
		got, err := os.ReadFile(filepath.Join(root, "usr", "local", "bin", b))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("the installer did not copy %s to the node (%v)", b, err)
		}
	}
	got, _ := os.ReadFile(config)
	if !strings.Contains(string(got), "# BEGIN urunc runtime urunc") || !strings.Contains(string(got), `runtime_type = "io.containerd.urunc.v2"`) {
		t.Errorf("containerd's config after the installer:\n%s", got)
	}
	c.deleteDaemonSet(t, install)

	uninstall := daemonSet(t, "urunc-uninstaller.yaml", root)
	if _, err := c.cs.AppsV1().DaemonSets(uninstall.Namespace).Create(c.ctx, uninstall, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitDaemonSet(t, uninstall)
	if got, _ := os.ReadFile(config); string(got) != before {
		t.Errorf("containerd's config after the uninstaller:\n%s\nwant it as before:\n%s", got, before)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "usr", "local", "bin")); len(left) > 0 {
		t.Errorf("binaries left after the uninstaller: %v", left)
	}
	c.deleteDaemonSet(t, uninstall)
}
