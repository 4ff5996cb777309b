// Package k8s runs unikernel workloads on a real single-node Kubernetes
// cluster (harness.Cluster: etcd, kube-apiserver, controller-manager,
// scheduler, kubelet, kube-proxy, all built from upstream by `make
// k8s-tools`) with urunc as the containerd runtime handler of the project's
// own RuntimeClass (deploy/runtimeclass.yaml), through client-go and
// kubectl. Images are built here and imported; nothing is pulled.
//
// Run it with `make k8s-e2e` (as root). `go test ./...` without root, or
// without the tools, skips and says why.
package k8s

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/urunc-runtime/urunc/internal/pack"
	"github.com/urunc-runtime/urunc/internal/testutil/images"
	"github.com/urunc-runtime/urunc/tests/e2e/harness"
)

const (
	ns            = "urunc-e2e"
	runtimeClass  = "urunc" // deploy/runtimeclass.yaml
	httpdV1       = "urunc.local/httpd:v1"
	httpdV2       = "urunc.local/httpd:v2"
	httpdPlain    = "urunc.local/httpd-plain:v1" // the same program as a plain container, for runc
	helloExit0    = "urunc.local/hello:exit0"
	helloExit3    = "urunc.local/hello:exit3"
	busyboxImage  = "urunc.local/busybox:test"
	readyTimeout  = 4 * time.Minute
	criNamespace  = "k8s.io"
	overheadBytes = 96 << 20 // deploy/runtimeclass.yaml's overhead.podFixed.memory

	// Each run's cluster lives in /tmp/<clusterPrefix>NNN (short: the
	// containerd socket path is limited).
	clusterPrefix = "k8s"
	clusterGlob   = "/tmp/" + clusterPrefix + "*"
)

// env is where `make k8s-e2e` points the tests, with the defaults it uses.
var env = map[string]string{
	"URUNC_BIN":          "../../bin",
	"URUNC_TOOLS":        harness.DefaultTools,
	"URUNC_GUEST_KERNEL": "/var/cache/urunc/guest-kernel/current/vmlinux",
}

func getenv(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	p, _ := filepath.Abs(env[name])
	return p
}

// cluster is the running cluster of TestKubernetes and its clients.
type cluster struct {
	*harness.Cluster
	cs  *kubernetes.Clientset
	ctx context.Context
	bin string
}

// startCluster checks what the tests need, builds and imports the images
// and starts the cluster; it is stopped, and the host checked for
// leftovers, when the test ends.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	// `make k8s-e2e` builds everything first and says so (URUNC_K8S_MAKE):
	// then a missing piece is a broken run, not a reason to skip.
	missing := t.Skipf
	if os.Getenv("URUNC_K8S_MAKE") != "" {
		missing = t.Fatalf
	}
	if os.Geteuid() != 0 {
		missing("needs root: the cluster runs a kubelet and containerd for real (run `make k8s-e2e` as root)")
	}
	bin, tools, kernel := getenv("URUNC_BIN"), getenv("URUNC_TOOLS"), getenv("URUNC_GUEST_KERNEL")
	for _, b := range []string{"urunc", "urunit", "containerd-shim-urunc-v2", "urunc-pack", "httpd", "hello"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			missing("%s not built in %s: run `make` (or set URUNC_BIN)", b, bin)
		}
	}
	for _, b := range append(harness.KubeTools, "containerd", "ctr", "runc") {
		if _, err := os.Stat(filepath.Join(tools, b)); err != nil {
			missing("%s not found in %s: run `make k8s-tools tools` (or set URUNC_TOOLS)", b, tools)
		}
	}
	if _, err := os.Stat(kernel); err != nil {
		missing("guest kernel %s missing: run `make guest-kernel` (or set URUNC_GUEST_KERNEL)", kernel)
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		missing("qemu-system-x86_64 not installed: run `make deps`")
	}
	if _, err := os.Stat(images.Busybox); err != nil {
		missing("%s missing: apt-get install busybox-static", images.Busybox)
	}
	// Clusters of earlier runs killed before their clean-up (a timeout, a
	// signal) still run: stop them before starting another.
	if swept, err := harness.SweepClusters(clusterGlob, tools, t.Logf); err != nil {
		t.Fatalf("stop the clusters of dead runs %v: %v", swept, err)
	} else if len(swept) > 0 {
		t.Logf("stopped the clusters of dead runs: %v", swept)
		for _, d := range swept {
			os.Remove(d + "-urunc.toml") // startCluster's file beside each
		}
	}
	dir, err := os.MkdirTemp("/tmp", clusterPrefix)
	if err != nil {
		t.Fatal(err)
	}
	conf := dir + "-urunc.toml"
	t.Cleanup(func() { os.Remove(conf) })
	if err := os.WriteFile(conf, []byte("[linux]\nurunit = \""+filepath.Join(bin, "urunit")+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k := &harness.Cluster{Dir: dir, Tools: tools, Bin: bin, Logf: t.Logf,
		CtrdEnv: []string{"URUNC_BIN=" + bin, "URUNC_CONFIG=" + conf}}
	t.Cleanup(func() { stopCluster(t, k) })
	start := time.Now()
	if err := k.Start(); err != nil {
		t.Fatalf("start the cluster: %v", err)
	}
	t.Logf("cluster up in %v: node %s at %s, pods %s, services %s", time.Since(start).Round(time.Millisecond), k.NodeName, k.NodeIP, k.PodSubnet, k.ServiceCIDR)
	importImages(t, k, bin, kernel)

	rc, err := clientcmd.BuildConfigFromFlags("", k.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 50, 100
	c := &cluster{Cluster: k, cs: kubernetes.NewForConfigOrDie(rc), ctx: context.Background(), bin: bin}
	if _, err := c.cs.CoreV1().Namespaces().Create(c.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The default service account is made by the controller manager.
	c.waitFor(t, time.Minute, "the default service account", func() (bool, string) {
		_, err := c.cs.CoreV1().ServiceAccounts(ns).Get(c.ctx, "default", metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
	return c
}

// stopCluster deletes the test namespace (so pods stop the ordinary way
// and their VMs go), stops the cluster and fails on anything left.
func stopCluster(t *testing.T, k *harness.Cluster) {
	if k.Kubeconfig != "" {
		if out, err := k.Kubectl(3*time.Minute, "delete", "namespace", ns, "--ignore-not-found", "--wait=true", "--timeout=150s"); err != nil {
			t.Errorf("delete namespace %s: %v %s", ns, err, out)
		}
		if vmms := qemuPids(); len(vmms) > 0 && !t.Failed() {
			t.Errorf("VMMs %v still run after every pod was deleted", vmms)
		}
	}
	if t.Failed() {
		for _, n := range []string{"kubelet", "kube-apiserver"} {
			if b, err := os.ReadFile(k.LogFile(n)); err == nil {
				lines := strings.Split(string(b), "\n")
				t.Logf("last lines of %s:\n%s", n, strings.Join(lines[max(0, len(lines)-40):], "\n"))
			}
		}
	}
	r, err := k.Stop()
	if err != nil {
		t.Errorf("stop the cluster: %v", err)
	}
	if s := r.String(); s != "" {
		t.Errorf("the cluster's stop found leftovers:\n%s", s)
	}
	if left := k.Leftovers(); len(left) > 0 {
		t.Errorf("left on the host after the cluster stopped: %v", left)
	}
}

// importImages builds the test images and imports them into the CRI
// plugin's namespace.
func importImages(t *testing.T, k *harness.Cluster, bin, kernel string) {
	t.Helper()
	dir := t.TempDir()
	archive := func(name string) string { return filepath.Join(dir, name+".tar") }
	if err := images.WritePause(archive("pause"), harness.DefaultSandboxImage, pack.FormatOCI, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := images.WriteBusybox(archive("busybox"), busyboxImage, pack.FormatOCI); err != nil {
		t.Fatal(err)
	}
	httpd, err := os.ReadFile(filepath.Join(bin, "httpd"))
	if err != nil {
		t.Fatal(err)
	}
	layer, err := images.Tar([]images.File{{Name: "httpd", Mode: 0o755, Data: httpd}})
	if err != nil {
		t.Fatal(err)
	}
	if err := images.Write(archive("httpd-plain"), httpdPlain, pack.FormatOCI, [][]byte{layer}, v1.Config{Entrypoint: []string{"/httpd"}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		name, app, ref string
		flags          []string
	}{
		{"httpd-v1", "httpd", httpdV1, []string{"--env", "HTTPD_VERSION=v1"}},
		{"httpd-v2", "httpd", httpdV2, []string{"--env", "HTTPD_VERSION=v2"}},
		{"hello-0", "hello", helloExit0, []string{"--cmd", "0"}},
		{"hello-3", "hello", helloExit3, []string{"--cmd", "3"}},
	} {
		root := filepath.Join(dir, p.name+"-rootfs")
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(bin, p.app))
		if err == nil {
			err = os.WriteFile(filepath.Join(root, p.app), b, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
		args := append([]string{"--kernel", kernel, "--type", "linux", "--hypervisor", "qemu", "--rootfs", root,
			"--entrypoint", "/" + p.app, "--tag", p.ref, "--output", archive(p.name)}, p.flags...)
		if out, err := exec.Command(filepath.Join(bin, "urunc-pack"), args...).CombinedOutput(); err != nil {
			t.Fatalf("urunc-pack %s: %v\n%s", p.ref, err, out)
		}
	}
	if err := writeDeployImage(archive("deploy"), bin); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"pause", "busybox", "httpd-plain", "httpd-v1", "httpd-v2", "hello-0", "hello-3", "deploy"} {
		if err := k.Ctrd.Import(criNamespace, archive(n)); err != nil {
			t.Fatal(err)
		}
	}
}

// applyRuntimeClass creates the project's RuntimeClass from deploy/.
func (c *cluster) applyRuntimeClass(t *testing.T) *nodev1.RuntimeClass {
	t.Helper()
	b, err := os.ReadFile("../../deploy/runtimeclass.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rc nodev1.RuntimeClass
	if err := yaml.UnmarshalStrict(b, &rc); err != nil {
		t.Fatalf("deploy/runtimeclass.yaml: %v", err)
	}
	got, err := c.cs.NodeV1().RuntimeClasses().Create(c.ctx, &rc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		got, err = c.cs.NodeV1().RuntimeClasses().Get(c.ctx, rc.Name, metav1.GetOptions{})
	}
	if err != nil {
		t.Fatalf("create RuntimeClass: %v", err)
	}
	return got
}

// waitFor polls cond every 500 ms until it holds, failing the test after
// timeout with cond's last word.
func (c *cluster) waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s", what, timeout, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// qemuPids lists the running QEMU processes.
func qemuPids() []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if strings.Contains(filepath.Base(exe), "qemu-system") {
			out = append(out, pid)
		}
	}
	return out
}
