package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// Configs as containerd writes them: 1.7's `config default` starts with
// version = 2 and a CRI plugin table, 2.x's with version = 3.
const (
	config17 = `version = 2
root = "/var/lib/containerd"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.8"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes]
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
          [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
            SystemdCgroup = true
`
	config2x = `version = 3
root = '/var/lib/containerd'
imports = ['/etc/containerd/conf.d/*.toml']

[plugins]
  [plugins.'io.containerd.cri.v1.runtime']
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes]
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
          runtime_type = 'io.containerd.runc.v2'
`
)

var binaries = []string{"urunc", "urunit", "containerd-shim-urunc-v2"}

// node is a scratch node root with containerd's config and the binaries to install.
type node struct {
	t         *testing.T
	root, src string
}

func newNode(t *testing.T, config string) *node {
	n := &node{t: t, root: t.TempDir(), src: t.TempDir()}
	for _, b := range binaries {
		if err := os.WriteFile(filepath.Join(n.src, b), []byte("#!/bin/sh\necho "+b+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if config != "" {
		if err := os.MkdirAll(filepath.Dir(n.config()), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(n.config(), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func (n *node) config() string { return filepath.Join(n.root, "etc", "containerd", "config.toml") }

// run runs install.sh verb; env adds variables.
func (n *node) run(verb string, env ...string) (string, error) {
	c := exec.Command("./install.sh", verb)
	c.Env = append(os.Environ(), "HOST_ROOT="+n.root, "SRC="+n.src, "RESTART_CONTAINERD=no")
	c.Env = append(c.Env, env...)
	out, err := c.CombinedOutput()
	return string(out), err
}

func (n *node) ok(verb string, env ...string) string {
	n.t.Helper()
	out, err := n.run(verb, env...)
	if err != nil {
		n.t.Fatalf("install.sh %s: %v\n%s", verb, err, out)
	}
	return out
}

func (n *node) read() string {
	n.t.Helper()
	b, err := os.ReadFile(n.config())
	if err != nil {
		n.t.Fatal(err)
	}
	return string(b)
}

// runtime returns the runtime table the config declares for handler urunc
// under the CRI plugin of config version v.
func runtime(t *testing.T, config string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := toml.Unmarshal([]byte(config), &doc); err != nil {
		t.Fatalf("config is not valid TOML: %v\n%s", err, config)
	}
	plugin := "io.containerd.cri.v1.runtime"
	if v, _ := doc["version"].(int64); v == 2 {
		plugin = "io.containerd.grpc.v1.cri"
	}
	var cur any = doc
	for _, k := range []string{"plugins", plugin, "containerd", "runtimes", "urunc"} {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	m, _ := cur.(map[string]any)
	return m
}

func TestInstallUninstall(t *testing.T) {
	for name, tc := range map[string]struct {
		config string
		env    []string
	}{
		"containerd 1.7 version 2": {config: config17},
		"containerd 2.x version 3": {config: config2x},
		"no config, version 3":     {env: []string{"CONFIG_VERSION=3"}},
		"no config, version 2":     {env: []string{"CONFIG_VERSION=2"}},
	} {
		t.Run(name, func(t *testing.T) {
			n := newNode(t, tc.config)
			n.ok("install", tc.env...)
			first := n.read()
			rt := runtime(t, first)
			if rt["runtime_type"] != "io.containerd.urunc.v2" {
				t.Fatalf("runtime urunc not registered:\n%s", first)
			}
			if tc.config != "" && !strings.HasPrefix(first, tc.config) {
				t.Errorf("install changed the existing config instead of adding to it:\n%s", first)
			}
			for _, b := range binaries {
				if got, err := os.ReadFile(filepath.Join(n.root, "usr/local/bin", b)); err != nil || !strings.Contains(string(got), b) {
					t.Errorf("%s not installed: %v", b, err)
				}
			}
			if out := n.ok("install", tc.env...); !strings.Contains(out, "already registered") || n.read() != first {
				t.Errorf("second install changed the config:\n%s\n%s", out, n.read())
			}
			containerdAccepts(t, n.config())
			n.ok("uninstall")
			if tc.config != "" && n.read() != tc.config {
				t.Errorf("uninstall did not restore the config:\n%s", n.read())
			}
			if runtime(t, n.read()) != nil {
				t.Errorf("runtime urunc still registered after uninstall")
			}
			for _, b := range binaries {
				if _, err := os.Stat(filepath.Join(n.root, "usr/local/bin", b)); err == nil {
					t.Errorf("%s left after uninstall", b)
				}
			}
			n.ok("uninstall") // idempotent too
		})
	}
}

// A runtime "urunc" that install.sh did not write is left alone: containerd
// would refuse a config defining the table twice.
func TestInstallRefusesForeignRuntime(t *testing.T) {
	config := config2x + "\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.urunc]\n  runtime_type = 'x'\n"
	n := newNode(t, config)
	if out, err := n.run("install"); err == nil || !strings.Contains(out, "outside install.sh's block") {
		t.Errorf("install over a foreign runtime urunc: %v\n%s", err, out)
	}
	if n.read() != config {
		t.Errorf("config changed:\n%s", n.read())
	}
}

func TestInstallNeedsAVersion(t *testing.T) {
	n := newNode(t, "")
	if out, err := n.run("install"); err == nil || !strings.Contains(out, "CONFIG_VERSION") {
		t.Errorf("install without config or version: %v\n%s", err, out)
	}
}

// containerdAccepts loads the config with the pinned containerd (make tools),
// when it is there, and checks the runtime in its effective configuration.
// containerd 2.x migrates version-2 files, so both layouts are checked.
func containerdAccepts(t *testing.T, config string) {
	t.Helper()
	tools := os.Getenv("URUNC_TOOLS")
	if tools == "" {
		tools = "/var/cache/urunc/tools"
	}
	bin := filepath.Join(tools, "containerd")
	if _, err := os.Stat(bin); err != nil {
		t.Logf("%s missing (make tools): config not loaded by containerd", bin)
		return
	}
	out, err := exec.Command(bin, "--config", config, "config", "dump").CombinedOutput()
	if err != nil {
		t.Fatalf("containerd config dump: %v\n%s", err, out)
	}
	rt := runtime(t, string(out))
	if rt["runtime_type"] != "io.containerd.urunc.v2" {
		t.Fatalf("containerd's effective config lacks runtime urunc:\n%s", out)
	}
	if a, _ := rt["container_annotations"].([]any); len(a) != 1 || a[0] != "com.urunc.unikernel.*" {
		t.Errorf("container_annotations %v, want [com.urunc.unikernel.*]", rt["container_annotations"])
	}
}
