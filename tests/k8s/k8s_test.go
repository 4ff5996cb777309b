package k8s

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// TestKubernetes starts the cluster once and runs every scenario on it, in
// order; each scenario removes what it made, and the cluster's stop checks
// that nothing is left on the host.
func TestKubernetes(t *testing.T) {
	c := startCluster(t)
	rc := c.applyRuntimeClass(t)
	if mem := rc.Overhead.PodFixed[corev1.ResourceMemory]; rc.Handler != "urunc" || mem.Value() != overheadBytes {
		t.Fatalf("RuntimeClass %s: handler %q, overhead %v; want handler urunc and %d bytes", rc.Name, rc.Handler, rc.Overhead, overheadBytes)
	}
	for _, s := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"Installer", c.testInstaller},
		{"Deployment", c.testDeployment},
		{"Jobs", c.testJobs},
		{"Volumes", c.testVolumes},
		{"LogsAndExec", c.testLogsAndExec},
		{"Limits", c.testLimits},
		{"LivenessProbes", c.testLiveness},
		{"PlainPods", c.testPlainPods},
		{"NodeRestart", c.testNodeRestart},
	} {
		t.Run(s.name, s.run)
	}
	if os.Getenv("URUNC_K8S_BENCH") != "" {
		t.Run("Bench", c.bench)
	}
}

// startPod creates pod, waits for it to be Ready and returns it; when
// the test ends, it is deleted and its VMs are waited out.
func (c *cluster) startPod(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	pods := c.cs.CoreV1().Pods(ns)
	if _, err := pods.Create(c.ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
	t.Cleanup(func() {
		_ = pods.Delete(c.ctx, pod.Name, metav1.DeleteOptions{})
		c.waitFor(t, 2*time.Minute, "pod "+pod.Name+" gone", func() (bool, string) {
			_, err := pods.Get(c.ctx, pod.Name, metav1.GetOptions{})
			return err != nil, fmt.Sprint(err)
		})
		c.expectVMMs(t, 0)
	})
	var p *corev1.Pod
	c.waitFor(t, readyTimeout, "pod "+pod.Name+" Ready", func() (bool, string) {
		var err error
		if p, err = pods.Get(c.ctx, pod.Name, metav1.GetOptions{}); err != nil {
			return false, err.Error()
		}
		return podReady(p), podSummary([]corev1.Pod{*p})
	})
	return p
}

// expectVMMs waits until exactly n QEMU processes run.
func (c *cluster) expectVMMs(t *testing.T, n int) {
	t.Helper()
	c.waitFor(t, 2*time.Minute, fmt.Sprintf("%d VMMs", n), func() (bool, string) {
		p := qemuPids()
		return len(p) == n, fmt.Sprintf("%d run: %v", len(p), p)
	})
}

// serviceAnswer runs a plain client pod that fetches url and returns its
// output.
func (c *cluster) serviceAnswer(t *testing.T, name, url string) string {
	t.Helper()
	p := c.runPod(t, clientPod(name, url))
	out := c.podLogs(t, name, "client")
	if err := c.cs.CoreV1().Pods(ns).Delete(c.ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Errorf("delete pod %s: %v", name, err)
	}
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("client pod %s: %s, output %q", name, podSummary([]corev1.Pod{*p}), out)
	}
	return out
}

// A Deployment of three unikernel pods behind a ClusterIP Service: every
// pod is a VM, the Service answers a plain client pod, scaling to 6 and
// back to 1 starts and removes VMs, and a rolling update replaces every
// pod with the new image's.
func (c *cluster) testDeployment(t *testing.T) {
	deps := c.cs.AppsV1().Deployments(ns)
	// runc first, in the same cluster, for the figure in the log.
	ref := deployment("web-runc", "", httpdPlain, 3)
	start := time.Now()
	if _, err := deps.Create(c.ctx, ref, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitPods(t, "app=web-runc", 3)
	runcReady := time.Since(start)
	if err := deps.Delete(c.ctx, "web-runc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitNoPods(t, "app=web-runc")

	start = time.Now()
	if _, err := deps.Create(c.ctx, deployment("web", runtimeClass, httpdV1, 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods, _ := c.waitPods(t, "app=web", 3)
	t.Logf("create Deployment to 3 pods Ready: urunc %v, runc %v", time.Since(start).Round(time.Millisecond), runcReady.Round(time.Millisecond))
	c.expectVMMs(t, 3)
	for _, p := range pods {
		if out, err := fetch("http://" + p.Status.PodIP + ":8080/"); err != nil || !strings.Contains(out, "(v1)") {
			t.Fatalf("pod %s at %s: %q, %v; want the v1 guest's greeting", p.Name, p.Status.PodIP, out, err)
		}
	}
	defer func() {
		_ = deps.Delete(c.ctx, "web", metav1.DeleteOptions{})
		_ = c.cs.CoreV1().Services(ns).Delete(c.ctx, "web", metav1.DeleteOptions{})
		c.waitNoPods(t, "app=web")
		c.expectVMMs(t, 0)
	}()
	svc, err := c.cs.CoreV1().Services(ns).Create(c.ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + svc.Spec.ClusterIP + "/"
	if out := c.serviceAnswer(t, "client-v1", url); !strings.Contains(out, "hello from guest httpd") || !strings.Contains(out, "(v1)") {
		t.Fatalf("Service %s answered %q; want the v1 guest's greeting", url, out)
	}

	scale := func(n int32) {
		t.Helper()
		if _, err := deps.UpdateScale(c.ctx, "web", &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: autoscalingv1.ScaleSpec{Replicas: n},
		}, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("scale to %d: %v", n, err)
		}
		c.waitPods(t, "app=web", int(n))
		c.expectVMMs(t, int(n))
	}
	scale(6)
	scale(1)
	scale(3)

	d, err := deps.Get(c.ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = httpdV2
	if _, err := deps.Update(c.ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, readyTimeout, "rolling update to v2", func() (bool, string) {
		d, err := deps.Get(c.ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == 3 && s.Replicas == 3 && s.AvailableReplicas == 3,
			fmt.Sprintf("%+v", s)
	})
	pods, _ = c.waitPods(t, "app=web", 3)
	for _, p := range pods {
		if img := p.Spec.Containers[0].Image; img != httpdV2 {
			t.Errorf("pod %s runs %s after the update", p.Name, img)
		}
		if out, err := fetch("http://" + p.Status.PodIP + ":8080/"); err != nil || !strings.Contains(out, "(v2)") {
			t.Errorf("pod %s: %q, %v; want the v2 guest's greeting", p.Name, out, err)
		}
	}
	c.expectVMMs(t, 3)
	if out := c.serviceAnswer(t, "client-v2", url); !strings.Contains(out, "(v2)") {
		t.Fatalf("Service after the update answered %q; want v2", out)
	}
}

func job(name, image string) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](0),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"job": name}},
				Spec: corev1.PodSpec{
					RuntimeClassName: runtimeClassFor(runtimeClass),
					RestartPolicy:    corev1.RestartPolicyNever,
					Containers:       []corev1.Container{{Name: "hello", Image: image, ImagePullPolicy: corev1.PullNever}},
				},
			},
		},
	}
}

// A Job whose unikernel exits 0 completes; one whose unikernel exits 3
// fails, and its pod's status holds exit code 3.
func (c *cluster) testJobs(t *testing.T) {
	jobs := c.cs.BatchV1().Jobs(ns)
	for _, j := range []*batchv1.Job{job("exit0", helloExit0), job("exit3", helloExit3)} {
		if _, err := jobs.Create(c.ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, n := range []string{"exit0", "exit3"} {
			_ = jobs.Delete(c.ctx, n, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)})
			c.waitNoPods(t, "job="+n)
		}
		c.expectVMMs(t, 0)
	}()
	for _, w := range []struct {
		job  string
		cond batchv1.JobConditionType
		code int32
	}{{"exit0", batchv1.JobComplete, 0}, {"exit3", batchv1.JobFailed, 3}} {
		c.waitFor(t, readyTimeout, "job "+w.job+" "+string(w.cond), func() (bool, string) {
			j, err := jobs.Get(c.ctx, w.job, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			for _, cd := range j.Status.Conditions {
				if cd.Type == w.cond && cd.Status == corev1.ConditionTrue {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%+v", j.Status)
		})
		pods, err := c.cs.CoreV1().Pods(ns).List(c.ctx, metav1.ListOptions{LabelSelector: "job=" + w.job})
		if err != nil || len(pods.Items) != 1 {
			t.Fatalf("pods of job %s: %v, %v", w.job, pods, err)
		}
		p := pods.Items[0]
		st := p.Status.ContainerStatuses
		if len(st) != 1 || st[0].State.Terminated == nil || st[0].State.Terminated.ExitCode != w.code {
			t.Fatalf("job %s: pod %s: %s; want exit code %d", w.job, p.Name, podSummary(pods.Items), w.code)
		}
		if out := c.podLogs(t, p.Name, "hello"); !strings.Contains(out, "hello from guest") {
			t.Errorf("job %s: log %q lacks the guest's line", w.job, out)
		}
		t.Logf("job %s: %s, pod exit code %d (%s)", w.job, w.cond, st[0].State.Terminated.ExitCode, st[0].State.Terminated.Reason)
	}
}

// A unikernel pod reads its ConfigMap, Secret and service-account token
// volumes, and shares an emptyDir with a plain sidecar both ways.
func (c *cluster) testVolumes(t *testing.T) {
	core := c.cs.CoreV1()
	if _, err := core.ConfigMaps(ns).Create(c.ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Data: map[string]string{"greeting": "hello from a ConfigMap"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Secrets(ns).Create(c.ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "secret"}, StringData: map[string]string{"password": "s3cret"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	guest := httpdContainer(httpdV1, 0)
	guest.VolumeMounts = []corev1.VolumeMount{
		{Name: "cfg", MountPath: "/etc/cfg"},
		{Name: "secret", MountPath: "/etc/secret", ReadOnly: true},
		{Name: "token", MountPath: "/var/run/secrets/tokens", ReadOnly: true},
		{Name: "shared", MountPath: "/shared"},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "volumes", Namespace: ns},
		Spec: corev1.PodSpec{
			RuntimeClassName:              runtimeClassFor(runtimeClass),
			TerminationGracePeriodSeconds: ptr.To[int64](2),
			Containers: []corev1.Container{guest, {
				Name: "sidecar", Image: busyboxImage, ImagePullPolicy: corev1.PullNever,
				Command: []string{"/bin/sh", "-c", `echo from-sidecar > /shared/from-sidecar
while [ ! -s /shared/from-guest ]; do sleep 0.5; done
echo "sidecar read: $(cat /shared/from-guest)"
exec sleep 3600`},
				VolumeMounts: []corev1.VolumeMount{{Name: "shared", MountPath: "/shared"}},
			}},
			Volumes: []corev1.Volume{
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "secret"}}},
				{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{
					ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", Audience: "urunc-e2e", ExpirationSeconds: ptr.To[int64](3600)},
				}}}}},
				{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
	t.Cleanup(func() {
		_ = core.ConfigMaps(ns).Delete(c.ctx, "cfg", metav1.DeleteOptions{})
		_ = core.Secrets(ns).Delete(c.ctx, "secret", metav1.DeleteOptions{})
	})
	p := c.startPod(t, pod)
	base := "http://" + p.Status.PodIP + ":8080/file?path="
	for path, want := range map[string]string{
		"/etc/cfg/greeting":    "hello from a ConfigMap",
		"/etc/secret/password": "s3cret",
		"/var/run/secrets/kubernetes.io/serviceaccount/namespace": ns,
		"/shared/from-sidecar": "from-sidecar\n",
	} {
		if got, err := fetch(base + path); err != nil || got != want {
			t.Errorf("the guest read %s: %q, %v; want %q", path, got, err, want)
		}
	}
	for path, audience := range map[string]string{
		"/var/run/secrets/tokens/token":                       "urunc-e2e",
		"/var/run/secrets/kubernetes.io/serviceaccount/token": "https://kubernetes.default.svc",
	} {
		token, err := fetch(base + path)
		if err != nil {
			t.Errorf("the guest read %s: %v", path, err)
			continue
		}
		tr, err := c.cs.AuthenticationV1().TokenReviews().Create(c.ctx, &authv1.TokenReview{Spec: authv1.TokenReviewSpec{
			Token: token, Audiences: []string{audience},
		}}, metav1.CreateOptions{})
		want := "system:serviceaccount:" + ns + ":default"
		if err != nil || !tr.Status.Authenticated || tr.Status.User.Username != want {
			t.Errorf("the token the guest read from %s does not authenticate as %s: %+v, %v", path, want, tr.Status, err)
		}
	}
	if err := put(base+"/shared/from-guest", "from-guest"); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, time.Minute, "the sidecar reads the guest's file", func() (bool, string) {
		out := c.podLogs(t, "volumes", "sidecar")
		return strings.Contains(out, "sidecar read: from-guest"), out
	})
}

// kubectl logs shows the guest's console, and kubectl exec runs a process
// inside the guest.
func (c *cluster) testLogsAndExec(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "console", Namespace: ns},
		Spec: corev1.PodSpec{
			RuntimeClassName: runtimeClassFor(runtimeClass), TerminationGracePeriodSeconds: ptr.To[int64](2),
			Containers: []corev1.Container{httpdContainer(httpdV1, 0)},
		},
	}
	c.startPod(t, pod)
	if out := c.podLogs(t, "console", "httpd"); !strings.Contains(out, "httpd: listening on :8080") {
		t.Errorf("logs through the API: %q; want the guest's console line", out)
	}
	if out, err := c.Kubectl(time.Minute, "logs", "-n", ns, "console", "-c", "httpd"); err != nil || !strings.Contains(out, "httpd: listening on :8080") {
		t.Errorf("kubectl logs: %q, %v", out, err)
	}
	out, err := c.Kubectl(2*time.Minute, "exec", "-n", ns, "console", "-c", "httpd", "--", "/httpd", "get", "http://127.0.0.1:8080/")
	if err != nil || !strings.Contains(out, "hello from guest httpd at 127.0.0.1:8080") {
		t.Errorf("kubectl exec in the guest: %q, %v; want the guest's own answer on its loopback", out, err)
	}
}

// podCgroup finds the pod's memory cgroup folder (cgroup v1 or v2).
func podCgroup(uid string) string {
	pat := "pod" + uid
	for _, root := range []string{"/sys/fs/cgroup/memory/kubepods", "/sys/fs/cgroup/kubepods"} {
		for _, g := range []string{root + "/" + pat, root + "/*/" + pat} {
			if m, _ := filepath.Glob(g); len(m) == 1 {
				return m[0]
			}
		}
	}
	return ""
}

func readInt(path string) int64 {
	b, _ := os.ReadFile(path)
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// statusKiB is a /proc/PID/status field in KiB.
func statusKiB(pid int, field string) int64 {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// A pod with resource limits: its VMM runs in the pod's cgroup, whose
// memory limit is the container's plus the RuntimeClass overhead, and the
// VMM's memory is charged to the pod.
func (c *cluster) testLimits(t *testing.T) {
	const limit = 256 << 20
	ctr := httpdContainer(httpdV1, limit)
	ctr.Resources.Requests = ctr.Resources.Limits // Guaranteed
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "limits", Namespace: ns},
		Spec: corev1.PodSpec{
			RuntimeClassName: runtimeClassFor(runtimeClass), TerminationGracePeriodSeconds: ptr.To[int64](2),
			Containers: []corev1.Container{ctr},
		},
	}
	p := c.startPod(t, pod)
	if p.Spec.Overhead == nil {
		t.Fatalf("pod %s has no overhead: the RuntimeClass admission did not apply it", p.Name)
	}
	cg := podCgroup(string(p.UID))
	if cg == "" {
		t.Fatalf("no memory cgroup for pod %s (uid %s) under kubepods", p.Name, p.UID)
	}
	lim := readInt(filepath.Join(cg, "memory.limit_in_bytes"))
	if lim == 0 {
		lim = readInt(filepath.Join(cg, "memory.max"))
	}
	if want := int64(limit + overheadBytes); lim != want {
		t.Errorf("pod cgroup %s limit %d; want the container's %d plus the overhead %d = %d", cg, lim, limit, overheadBytes, want)
	}
	vmms := qemuPids()
	if len(vmms) != 1 {
		t.Fatalf("%d VMMs run: %v; want the pod's one", len(vmms), vmms)
	}
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(vmms[0]) + "/cgroup")
	if !strings.Contains(string(b), "/pod"+string(p.UID)+"/") {
		t.Fatalf("the VMM %d is not in pod %s's cgroup:\n%s", vmms[0], p.UID, b)
	}
	usage := readInt(filepath.Join(cg, "memory.usage_in_bytes")) + readInt(filepath.Join(cg, "memory.current"))
	anon := statusKiB(vmms[0], "RssAnon") << 10
	if usage < anon {
		t.Errorf("pod cgroup charged %d bytes, less than the VMM's own anonymous memory %d", usage, anon)
	}
	t.Logf("pod cgroup %s: limit %d MiB, charged %d MiB; VMM %d anonymous RSS %d MiB", cg, lim>>20, usage>>20, vmms[0], anon>>20)
}

// Liveness probes (HTTP and TCP) against the guest restart the container
// when the guest stops answering.
func (c *cluster) testLiveness(t *testing.T) {
	core := c.cs.CoreV1()
	probes := map[string]corev1.ProbeHandler{
		"live-http": {HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}},
		"live-tcp":  {TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
	}
	for name, h := range probes {
		ctr := httpdContainer(httpdV1, 0)
		ctr.LivenessProbe = &corev1.Probe{ProbeHandler: h, PeriodSeconds: 2, FailureThreshold: 2, TimeoutSeconds: 1}
		// Liveness starts once the guest has booted: without a startup
		// probe, a boot slower than two periods (TCG, a busy node) is
		// killed again and again.
		ctr.StartupProbe = &corev1.Probe{ProbeHandler: h, PeriodSeconds: 1, FailureThreshold: 120, TimeoutSeconds: 1}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"probe": "liveness"}},
			Spec: corev1.PodSpec{
				RuntimeClassName: runtimeClassFor(runtimeClass), TerminationGracePeriodSeconds: ptr.To[int64](2),
				Containers: []corev1.Container{ctr},
			},
		}
		if _, err := core.Pods(ns).Create(c.ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		_ = core.Pods(ns).DeleteCollection(c.ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "probe=liveness"})
		c.waitNoPods(t, "probe=liveness")
		c.expectVMMs(t, 0)
	}()
	pods, _ := c.waitPods(t, "probe=liveness", 2)
	c.expectVMMs(t, 2)
	for _, p := range pods {
		if _, err := fetch("http://" + p.Status.PodIP + ":8080/stop"); err != nil {
			t.Fatalf("stop %s's server: %v", p.Name, err)
		}
	}
	for _, p := range pods {
		c.waitFor(t, 2*time.Minute, p.Name+" restarted by its liveness probe", func() (bool, string) {
			q, err := core.Pods(ns).Get(c.ctx, p.Name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			st := q.Status.ContainerStatuses
			return len(st) == 1 && st[0].RestartCount >= 1 && podReady(q), podSummary([]corev1.Pod{*q})
		})
		if out, err := fetch("http://" + p.Status.PodIP + ":8080/"); err != nil || !strings.Contains(out, "hello from guest") {
			t.Errorf("%s after its restart: %q, %v", p.Name, out, err)
		}
	}
	// One restart each: the new guests are not killed in turn.
	time.Sleep(6 * time.Second)
	for _, p := range pods {
		q, err := core.Pods(ns).Get(c.ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st := q.Status.ContainerStatuses; len(st) != 1 || st[0].RestartCount != 1 {
			t.Errorf("%s: %s; want exactly one restart", p.Name, podSummary([]corev1.Pod{*q}))
		}
	}
	// The old VMs are gone, not left beside the new ones.
	c.expectVMMs(t, 2)
}

// Plain pods under the urunc RuntimeClass (pause and two busybox
// containers) run as containers, with logs and exec.
func (c *cluster) testPlainPods(t *testing.T) {
	plain := func(name string) corev1.Container {
		return corev1.Container{Name: name, Image: busyboxImage, ImagePullPolicy: corev1.PullNever,
			Command: []string{"/bin/sh", "-c", "echo plain " + name + "; exec sleep 3600"}}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: ns},
		Spec: corev1.PodSpec{
			RuntimeClassName: runtimeClassFor(runtimeClass), TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []corev1.Container{plain("main"), plain("sidecar")},
		},
	}
	p := c.startPod(t, pod)
	if n := len(qemuPids()); n != 0 {
		t.Errorf("%d VMMs run for a pod of plain containers", n)
	}
	for _, s := range p.Status.ContainerStatuses {
		id := strings.TrimPrefix(s.ContainerID, "containerd://")
		info, err := c.Ctrd.Ctr("-n", criNamespace, "containers", "info", id)
		if err != nil || !strings.Contains(info, `"io.containerd.urunc.v2"`) {
			t.Errorf("container %s (%s) does not run under io.containerd.urunc.v2: %v", s.Name, id, err)
		}
		if out := c.podLogs(t, "plain", s.Name); !strings.Contains(out, "plain "+s.Name) {
			t.Errorf("logs of %s: %q", s.Name, out)
		}
	}
	out, err := c.Kubectl(time.Minute, "exec", "-n", ns, "plain", "-c", "sidecar", "--", "sh", "-c", "echo exec-ok; exit 4")
	if !strings.Contains(out, "exec-ok") || err == nil || !strings.Contains(err.Error(), "exit status 4") {
		t.Errorf("kubectl exec in a plain container: %q, %v; want its output and exit status 4", out, err)
	}
}

// The kubelet and containerd restart while unikernel pods run: the VMs
// keep running and serving, and the restarted node still manages them.
func (c *cluster) testNodeRestart(t *testing.T) {
	deps := c.cs.AppsV1().Deployments(ns)
	if _, err := deps.Create(c.ctx, deployment("survivor", runtimeClass, httpdV1, 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = deps.Delete(c.ctx, "survivor", metav1.DeleteOptions{})
		c.waitNoPods(t, "app=survivor")
		c.expectVMMs(t, 0)
	}()
	pods, _ := c.waitPods(t, "app=survivor", 2)
	c.expectVMMs(t, 2)
	before := qemuPids()
	if err := c.RestartNode(); err != nil {
		t.Fatalf("restart the node: %v", err)
	}
	after, _ := c.waitPods(t, "app=survivor", 2)
	if now := qemuPids(); !slices.Equal(now, before) {
		t.Errorf("VMMs after the restart: %v; want the same two %v", now, before)
	}
	was := map[string]bool{}
	for _, p := range pods {
		was[string(p.UID)] = true
	}
	for _, p := range after {
		if !was[string(p.UID)] {
			t.Errorf("pod %s is new after the restart", p.Name)
		}
		if st := p.Status.ContainerStatuses; len(st) != 1 || st[0].RestartCount != 0 {
			t.Errorf("pod %s restarted its container across the node's restart: %s", p.Name, podSummary([]corev1.Pod{p}))
		}
		if out, err := fetch("http://" + p.Status.PodIP + ":8080/"); err != nil || !strings.Contains(out, "hello from guest") {
			t.Errorf("pod %s after the restart: %q, %v", p.Name, out, err)
		}
	}
	// Still managed: exec reaches the guest through the new containerd.
	if out, err := c.Kubectl(2*time.Minute, "exec", "-n", ns, after[0].Name, "--", "/httpd", "get", "http://127.0.0.1:8080/"); err != nil || !strings.Contains(out, "hello from guest") {
		t.Errorf("kubectl exec after the restart: %q, %v", out, err)
	}
}
