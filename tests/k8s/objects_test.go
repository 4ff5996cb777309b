package k8s

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The objects the scenarios create, and the checks they share.

// httpdContainer is the httpd guest (or plain httpd) on port 8080, ready
// when it accepts connections, with the given memory limit (none when 0).
func httpdContainer(image string, memLimit int64) corev1.Container {
	c := corev1.Container{
		Name: "httpd", Image: image, ImagePullPolicy: corev1.PullNever,
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 1, FailureThreshold: 3,
		},
	}
	if memLimit > 0 {
		// Small requests: the node has 2 CPUs, and the RuntimeClass adds
		// 100m per pod.
		c.Resources.Limits = corev1.ResourceList{
			corev1.ResourceMemory: *resource.NewQuantity(memLimit, resource.BinarySI),
			corev1.ResourceCPU:    resource.MustParse("1"),
		}
		c.Resources.Requests = corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("64Mi"),
			corev1.ResourceCPU:    resource.MustParse("10m"),
		}
	}
	return c
}

// runtimeClassFor is the pod's runtimeClassName: urunc, or the cluster
// default (runc) for "".
func runtimeClassFor(rc string) *string {
	if rc == "" {
		return nil
	}
	return ptr.To(rc)
}

func deployment(name, rc, image string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(1)),
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RuntimeClassName:              runtimeClassFor(rc),
					TerminationGracePeriodSeconds: ptr.To[int64](5),
					Containers:                    []corev1.Container{httpdContainer(image, 256<<20)},
				},
			},
		},
	}
}

// clientPod is a plain pod (default runtime) that fetches url with
// `httpd get` (retrying for 30 s) and prints the answer. (busybox-static's
// wget crashes looking up the port's service name through NSS.)
func clientPod(name, url string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []corev1.Container{{
				Name: "client", Image: httpdPlain, ImagePullPolicy: corev1.PullNever,
				Command: []string{"/httpd", "get", url},
			}},
		},
	}
}

// readyPods lists the pods of selector and how many are Ready (pods
// being deleted are not counted).
func (c *cluster) readyPods(t *testing.T, selector string) ([]corev1.Pod, int) {
	t.Helper()
	list, err := c.cs.CoreV1().Pods(ns).List(c.ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Logf("list pods %s: %v", selector, err)
		return nil, 0
	}
	var live []corev1.Pod
	ready := 0
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		live = append(live, p)
		if podReady(&p) {
			ready++
		}
	}
	return live, ready
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitPods waits for exactly n pods of selector, all Ready and none
// being deleted; it returns them and the time it took.
func (c *cluster) waitPods(t *testing.T, selector string, n int) ([]corev1.Pod, time.Duration) {
	t.Helper()
	start := time.Now()
	var pods []corev1.Pod
	c.waitFor(t, readyTimeout, fmt.Sprintf("%d Ready pods %s", n, selector), func() (bool, string) {
		all, err := c.cs.CoreV1().Pods(ns).List(c.ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err.Error()
		}
		var ready int
		pods = pods[:0]
		for _, p := range all.Items {
			pods = append(pods, p)
			if p.DeletionTimestamp == nil && podReady(&p) {
				ready++
			}
		}
		return ready == n && len(all.Items) == n, fmt.Sprintf("%d pods, %d Ready: %s", len(all.Items), ready, podSummary(all.Items))
	})
	return pods, time.Since(start)
}

// podSummary is each pod's phase and its containers' states, for failures.
func podSummary(pods []corev1.Pod) string {
	var b strings.Builder
	for _, p := range pods {
		fmt.Fprintf(&b, "\n  %s %s", p.Name, p.Status.Phase)
		for _, s := range p.Status.ContainerStatuses {
			switch {
			case s.State.Waiting != nil:
				fmt.Fprintf(&b, " [%s waiting %s: %s]", s.Name, s.State.Waiting.Reason, s.State.Waiting.Message)
			case s.State.Terminated != nil:
				fmt.Fprintf(&b, " [%s terminated %d %s: %s]", s.Name, s.State.Terminated.ExitCode, s.State.Terminated.Reason, s.State.Terminated.Message)
			case s.State.Running != nil:
				fmt.Fprintf(&b, " [%s running, ready %v, restarts %d]", s.Name, s.Ready, s.RestartCount)
			}
		}
	}
	return b.String()
}

// podLogs is a container's log through the API (the kubelet reads it).
func (c *cluster) podLogs(t *testing.T, pod, container string) string {
	t.Helper()
	b, err := c.cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(c.ctx)
	if err != nil {
		t.Fatalf("logs of %s/%s: %v", pod, container, err)
	}
	return string(b)
}

// runPod creates a pod and waits for it to end; it returns the pod.
func (c *cluster) runPod(t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	if _, err := c.cs.CoreV1().Pods(ns).Create(c.ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", p.Name, err)
	}
	var got *corev1.Pod
	c.waitFor(t, readyTimeout, "pod "+p.Name+" to end", func() (bool, string) {
		var err error
		if got, err = c.cs.CoreV1().Pods(ns).Get(c.ctx, p.Name, metav1.GetOptions{}); err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == corev1.PodSucceeded || got.Status.Phase == corev1.PodFailed, podSummary([]corev1.Pod{*got})
	})
	return got
}

// fetch GETs url from the host (a pod's address on the node's bridge).
func fetch(url string) (string, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	return string(b), err
}

// put PUTs body to url.
func put(url, body string) error {
	req, err := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT %s: %s: %s", url, resp.Status, b)
	}
	return nil
}

// waitNoPods waits until no pod of selector is left.
func (c *cluster) waitNoPods(t *testing.T, selector string) {
	t.Helper()
	c.waitFor(t, 2*time.Minute, "pods "+selector+" gone", func() (bool, string) {
		list, err := c.cs.CoreV1().Pods(ns).List(c.ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err.Error()
		}
		return len(list.Items) == 0, fmt.Sprintf("%d left", len(list.Items))
	})
}
