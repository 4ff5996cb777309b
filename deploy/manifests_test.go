// Package deploy holds the Kubernetes manifests and the node installer; its
// tests decode the manifests with the Kubernetes API types and run install.sh
// against scratch node roots.
package deploy

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// vmmOverhead is urunc's default qemu.memory_overhead_mib
// (internal/config.Default), which the RuntimeClass reserves per pod.
const vmmOverhead = "96Mi"

// decode reads a one-document manifest strictly (unknown or misspelt fields
// are errors) into obj, checking its apiVersion and kind.
func decode(t *testing.T, path, apiVersion, kind string, obj any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if docs := regexp.MustCompile(`(?m)^---`).Split(string(b), -1); len(docs) != 1 {
		t.Fatalf("%s: %d YAML documents, want 1", path, len(docs))
	}
	if err := yaml.UnmarshalStrict(b, obj); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.APIVersion != apiVersion || meta.Kind != kind {
		t.Fatalf("%s: %s %s, want %s %s", path, meta.APIVersion, meta.Kind, apiVersion, kind)
	}
}

func TestRuntimeClass(t *testing.T) {
	var rc nodev1.RuntimeClass
	decode(t, "runtimeclass.yaml", "node.k8s.io/v1", "RuntimeClass", &rc)
	if rc.Name != "urunc" || rc.Handler != "urunc" {
		t.Errorf("name %q handler %q, want urunc and urunc (install.sh's RUNTIME_NAME)", rc.Name, rc.Handler)
	}
	if rc.Overhead == nil {
		t.Fatal("no overhead: the VMM's memory would go unaccounted")
	}
	mem, cpu := rc.Overhead.PodFixed[corev1.ResourceMemory], rc.Overhead.PodFixed[corev1.ResourceCPU]
	if want := resource.MustParse(vmmOverhead); mem.Cmp(want) != 0 {
		t.Errorf("overhead memory %s, want %s (qemu.memory_overhead_mib)", mem.String(), vmmOverhead)
	}
	if cpu.IsZero() {
		t.Error("overhead cpu is zero: QEMU's own threads need some")
	}
}

// checkDaemonSet checks what install.sh relies on: the node's root at
// /host, privileges, the host's pid namespace and the verb it runs.
func checkDaemonSet(t *testing.T, path, name, verb string) {
	var ds appsv1.DaemonSet
	decode(t, path, "apps/v1", "DaemonSet", &ds)
	if ds.Name != name || ds.Namespace != "kube-system" {
		t.Errorf("%s/%s, want kube-system/%s", ds.Namespace, ds.Name, name)
	}
	if ds.Spec.Selector == nil {
		t.Fatal("no selector")
	}
	for k, v := range ds.Spec.Selector.MatchLabels {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels %v", k, v, ds.Spec.Template.Labels)
		}
	}
	pod := ds.Spec.Template.Spec
	if !pod.HostPID {
		t.Error("hostPID is off: install.sh cannot reach the node's systemd to restart containerd")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Error("container is not privileged")
	}
	if cmd := strings.Join(c.Command, " "); !strings.Contains(cmd, "/opt/urunc/install.sh "+verb+" ") {
		t.Errorf("command %q does not run install.sh %s", cmd, verb)
	}
	if p := c.ReadinessProbe; p == nil || p.Exec == nil || strings.Join(p.Exec.Command, " ") != "test -e /tmp/ready" ||
		!strings.Contains(strings.Join(c.Command, " "), " && touch /tmp/ready && ") {
		t.Errorf("readiness %+v, command %q: the pod must be Ready only once install.sh %s succeeded", p, c.Command, verb)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["HOST_ROOT"] != "/host" {
		t.Errorf("HOST_ROOT=%q, want /host", env["HOST_ROOT"])
	}
	host := ""
	for _, v := range pod.Volumes {
		if v.HostPath != nil && v.HostPath.Path == "/" {
			host = v.Name
		}
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || (m.Name == host && m.MountPath == "/host" && !m.ReadOnly)
	}
	if host == "" || !mounted {
		t.Error("the node's / is not mounted read-write at /host")
	}
}

func TestInstallerDaemonSet(t *testing.T) {
	checkDaemonSet(t, "urunc-installer.yaml", "urunc-installer", "install")
}

func TestUninstallerDaemonSet(t *testing.T) {
	checkDaemonSet(t, "urunc-uninstaller.yaml", "urunc-uninstaller", "uninstall")
}

func TestExamplePod(t *testing.T) {
	var pod corev1.Pod
	decode(t, "example-pod.yaml", "v1", "Pod", &pod)
	if pod.Spec.RuntimeClassName == nil || *pod.Spec.RuntimeClassName != "urunc" {
		t.Errorf("runtimeClassName %v, want urunc", pod.Spec.RuntimeClassName)
	}
	lim := pod.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]
	if min := resource.MustParse("128Mi"); lim.Cmp(min) < 0 {
		t.Errorf("memory limit %s leaves the guest less than 64 MiB after the VMM's 64 MiB", lim.String())
	}
}

// The Dockerfile ships what the DaemonSets run.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"bin/urunc ", "bin/urunit ", "bin/containerd-shim-urunc-v2 ", "/opt/urunc/bin/", "deploy/install.sh /opt/urunc/install.sh"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
