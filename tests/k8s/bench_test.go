package k8s

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The cluster figures of docs/performance.md, run by `make k8s-bench`
// (URUNC_K8S_BENCH=1), never by the tests: time from creating a Deployment
// to all its pods Ready, and 20 pods' Ready time and memory, urunc against
// runc in the same cluster.

// memAvailable is /proc/meminfo's MemAvailable in bytes.
func memAvailable() int64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemAvailable:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

// kubepodsCharged is the memory charged to every pod's cgroup.
func kubepodsCharged() int64 {
	for _, f := range []string{"/sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes", "/sys/fs/cgroup/kubepods/memory.current"} {
		if n := readInt(f); n > 0 {
			return n
		}
	}
	return 0
}

// quantile is the q-quantile of d (nearest rank): 0.5 the median, 0.95
// the p95 (the largest of fewer than 20).
func quantile(d []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*q+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// deployReady creates a Deployment of n pods and returns the time until
// all are Ready (or until it gave up: then ready says how many were), the
// memory figures then, and deletes it.
func (c *cluster) deployReady(t *testing.T, name, rc, image string, n int) (took time.Duration, ready int, drop, pods int64) {
	t.Helper()
	deps := c.cs.AppsV1().Deployments(ns)
	avail, charged := memAvailable(), kubepodsCharged()
	d := deployment(name, rc, image, int32(n))
	// 20 pods with the RuntimeClass's 100m each fill the 2-CPU node's
	// allocatable CPU: the pods themselves request none.
	d.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("0")
	start := time.Now()
	if _, err := deps.Create(c.ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A pod that never gets Ready is a figure too, not a reason to stop.
	for ready < n && time.Since(start) < readyTimeout {
		_, ready = c.readyPods(t, "app="+name)
		time.Sleep(200 * time.Millisecond)
	}
	took = time.Since(start)
	if ready < n {
		pods, _ := c.readyPods(t, "app="+name)
		t.Errorf("%s: %d of %d pods Ready after %v:%s", name, ready, n, took.Round(time.Second), podSummary(pods))
	}
	time.Sleep(5 * time.Second) // let the guests settle
	drop, pods = avail-memAvailable(), kubepodsCharged()-charged
	if err := deps.Delete(c.ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitNoPods(t, "app="+name)
	c.expectVMMs(t, 0)
	return took, ready, drop, pods
}

func (c *cluster) bench(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("URUNC_K8S_BENCH"))
	rounds = max(rounds, 3)
	var uruncT, runcT []time.Duration
	for i := 0; i < rounds; i++ {
		d, _, _, _ := c.deployReady(t, "bench-runc", "", httpdPlain, 3)
		runcT = append(runcT, d)
		d, _, _, _ = c.deployReady(t, "bench-urunc", runtimeClass, httpdV1, 3)
		uruncT = append(uruncT, d)
	}
	var all strings.Builder
	report := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		t.Log(line)
		all.WriteString(line + "\n")
	}
	report("create Deployment to 3 pods Ready, %d rounds: median urunc %v, runc %v (%.1fx); p95 urunc %v, runc %v; all urunc %v, runc %v", rounds,
		quantile(uruncT, 0.5).Round(time.Millisecond), quantile(runcT, 0.5).Round(time.Millisecond),
		float64(quantile(uruncT, 0.5))/float64(quantile(runcT, 0.5)),
		quantile(uruncT, 0.95).Round(time.Millisecond), quantile(runcT, 0.95).Round(time.Millisecond), uruncT, runcT)
	// The shipped RuntimeClass reserves 100m CPU a pod: 20 of them are the
	// whole of a 2-CPU node's allocatable CPU, and the kubelet turns one
	// away (OutOfcpu). The density run uses a copy with 50m.
	dense := c.applyRuntimeClass(t).DeepCopy()
	dense.ObjectMeta = metav1.ObjectMeta{Name: "urunc-density"}
	dense.Overhead.PodFixed[corev1.ResourceCPU] = resource.MustParse("50m")
	if _, err := c.cs.NodeV1().RuntimeClasses().Create(c.ctx, dense, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	rt, rn, rdrop, rpods := c.deployReady(t, "density-runc", "", httpdPlain, 20)
	ut, un, udrop, upods := c.deployReady(t, "density-urunc", dense.Name, httpdV1, 20)
	report("20 pods: urunc %d Ready after %v, runc %d Ready after %v", un, ut.Round(time.Millisecond), rn, rt.Round(time.Millisecond))
	report("20 pods, node MemAvailable drop: urunc %d MiB, runc %d MiB; charged to kubepods: urunc %d MiB, runc %d MiB",
		udrop>>20, rdrop>>20, upods>>20, rpods>>20)
	if dir := os.Getenv("URUNC_K8S_BENCH_OUT"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "k8s-bench.txt"), []byte(all.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}
