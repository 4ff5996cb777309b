package harness

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// clusterMarker is the first line of a cluster folder's marker file:
// Stop removes only folders that carry it.
const clusterMarker = "# urunc tests/e2e/harness cluster"

// KubeTools are what scripts/install-tools.sh builds for a cluster
// (`make k8s-tools`).
var KubeTools = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"}

// Cluster is a single-node Kubernetes cluster built from the upstream
// components, everything under Dir: etcd, kube-apiserver (on 127.0.0.1,
// certificates of its own CA), kube-controller-manager, kube-scheduler,
// a kubelet (cgroupfs, swap allowed) on the private containerd Ctrd (whose
// CRI plugin has the runtime handler "urunc"), and kube-proxy in iptables
// mode. The node's address is the gateway of Ctrd's CNI bridge, which the
// cluster creates before the kubelet starts: the API server reaches the
// kubelet, and the kubelet the pods, without leaving the host.
//
// Stop stops it all and removes what the components leave outside Dir:
// iptables chains (KUBE-*), the /kubepods cgroups, mounts, Ctrd's bridge.
type Cluster struct {
	Dir      string // short: Ctrd lives in Dir/c and its socket path is limited
	Tools    string // KubeTools and containerd's; default DefaultTools
	Bin      string // urunc, containerd-shim-urunc-v2
	CtrdEnv  []string
	NodeName string // default "urunc-node"
	Logf     Logf

	Ctrd *Containerd

	// Filled in by Start.
	Kubeconfig  string // the admin's (system:masters)
	NodeIP      net.IP
	PodSubnet   *net.IPNet
	ServiceCIDR *net.IPNet

	pki     *pki
	ports   map[string]int
	daemons map[string]*daemon
	made    []string // host folders of hostPaths that did not exist before Start
}

// hostPaths are folders outside Dir the kubelet uses whatever its
// configuration says: the device-plugin sockets' (/var/lib/kubelet) and the
// containers' log links (/var/log/containers); and, should a component's
// flag be missed, the flex-volume plugins' default. Start records which did
// not exist; Stop removes those, and the log links into Dir in any case.
var hostPaths = []string{"/var/lib/kubelet", "/var/log/containers", "/usr/libexec/kubernetes"}

// component is one process of the cluster: its binary, arguments and
// how to tell it is ready.
type component struct {
	name  string
	args  []string
	ready func() bool
}

func (k *Cluster) marker() string { return filepath.Join(k.Dir, "cluster") }

func (k *Cluster) ours() bool {
	_, _, ok := readMarker(k.marker())
	return ok || emptyOrMissing(k.Dir)
}

// readMarker reads a cluster folder's marker: the pid of the process that
// started the cluster and the host folders it made.
func readMarker(path string) (owner int, made []string, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), clusterMarker+"\n") {
		return 0, nil, false
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if v, found := strings.CutPrefix(line, "owner "); found {
			owner, _ = strconv.Atoi(v)
		} else if v, found := strings.CutPrefix(line, "made "); found && slices.Contains(hostPaths, v) {
			made = append(made, v)
		}
	}
	return owner, made, true
}

// SweepClusters stops the clusters in the folders matching pattern whose
// starting process is gone (a test killed by its timeout or a signal runs
// no clean-up): their components, VMs, chains, cgroups and folders. It
// returns the folders it stopped; anything Leftovers still finds after a
// stop is an error. (Stop's warnings are only logged: tasks whose shim
// went with the dead run fail to delete, and are then killed and removed.)
func SweepClusters(pattern, tools string, l Logf) ([]string, error) {
	dirs, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	var swept []string
	var errs []error
	for _, dir := range dirs {
		owner, made, ok := readMarker(filepath.Join(dir, "cluster"))
		if !ok || running(owner) {
			continue
		}
		l.printf("stopping the cluster in %s, whose process %d is gone", dir, owner)
		k := &Cluster{Dir: dir, Tools: tools, Logf: l, made: made}
		_, err := k.Stop()
		if left := k.Leftovers(); err == nil && len(left) > 0 {
			err = fmt.Errorf("left after its stop: %v", left)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", dir, err))
		}
		swept = append(swept, dir)
	}
	return swept, errors.Join(errs...)
}

func (k *Cluster) setup() error {
	var err error
	if k.Dir, err = absDir(k.Dir); err != nil {
		return err
	}
	if k.Tools == "" {
		k.Tools = DefaultTools
	}
	if k.Tools, err = absDir(k.Tools); err != nil {
		return err
	}
	if k.NodeName == "" {
		k.NodeName = "urunc-node"
	}
	if k.Ctrd == nil {
		k.Ctrd = &Containerd{Dir: filepath.Join(k.Dir, "c"), Tools: k.Tools, Bin: k.Bin, Env: k.CtrdEnv, Logf: k.Logf, LogLevel: "info"}
	}
	if k.daemons == nil {
		k.daemons = map[string]*daemon{}
	}
	return nil
}

// LogFile is component name's log.
func (k *Cluster) LogFile(name string) string { return filepath.Join(k.Dir, "log", name+".log") }

func (k *Cluster) path(p ...string) string { return filepath.Join(append([]string{k.Dir}, p...)...) }

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start brings the cluster up and waits for the node to be Ready.
func (k *Cluster) Start() error {
	if err := k.setup(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("a cluster needs root")
	}
	for _, b := range KubeTools {
		if !executable(filepath.Join(k.Tools, b)) {
			return fmt.Errorf("%s missing: run `make k8s-tools` (scripts/install-tools.sh DEST kubernetes etcd)", filepath.Join(k.Tools, b))
		}
	}
	if !k.ours() {
		return fmt.Errorf("%s exists and is not a harness cluster folder: refusing to use it", k.Dir)
	}
	for _, d := range []string{"log", "etcd", "kubelet", "pod-logs", "apiserver"} {
		if err := os.MkdirAll(k.path(d), 0o700); err != nil {
			return err
		}
	}
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			k.made = append(k.made, p)
		}
	}
	// The owner and the host folders are on record for SweepClusters, in
	// case the process that started the cluster dies before Stop.
	mark := clusterMarker + "\nowner " + strconv.Itoa(os.Getpid()) + "\n"
	for _, p := range k.made {
		mark += "made " + p + "\n"
	}
	if err := os.WriteFile(k.marker(), []byte(mark), 0o644); err != nil {
		return err
	}
	k.ports = map[string]int{}
	for _, p := range []string{"etcd", "etcd-peer", "apiserver", "kubelet", "kubelet-healthz", "proxy-healthz", "proxy-metrics"} {
		n, err := freePort()
		if err != nil {
			return err
		}
		k.ports[p] = n
	}
	if err := k.Ctrd.Start(); err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	if err := k.nodeNetwork(); err != nil {
		return err
	}
	if err := k.makePKI(); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	if err := k.writeKubeletConfig(); err != nil {
		return fmt.Errorf("kubelet configuration: %w", err)
	}
	for _, c := range k.components() {
		if err := k.start(c); err != nil {
			return err
		}
	}
	return k.WaitNodeReady(2 * time.Minute)
}

// nodeNetwork creates Ctrd's CNI bridge with its gateway address, the
// node's address, and picks a service range the host does not use.
func (k *Cluster) nodeNetwork() error {
	b, err := os.ReadFile(k.Ctrd.networkFile())
	if err != nil {
		return err
	}
	var conf struct {
		Plugins []struct {
			Bridge string `json:"bridge"`
			IPAM   struct {
				Ranges [][]struct{ Gateway, Subnet string } `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(b, &conf); err != nil || len(conf.Plugins) == 0 || len(conf.Plugins[0].IPAM.Ranges) == 0 || len(conf.Plugins[0].IPAM.Ranges[0]) == 0 {
		return fmt.Errorf("%s: no bridge range (%v)", k.Ctrd.networkFile(), err)
	}
	r := conf.Plugins[0].IPAM.Ranges[0][0]
	k.NodeIP = net.ParseIP(r.Gateway).To4()
	if _, k.PodSubnet, err = net.ParseCIDR(r.Subnet); err != nil || k.NodeIP == nil {
		return fmt.Errorf("%s: bad range %+v: %v", k.Ctrd.networkFile(), r, err)
	}
	h, err := readHostIPv4()
	if err != nil {
		return err
	}
	if k.ServiceCIDR, err = freeSubnetIn(h, 5, dirHash(k.Dir)); err != nil {
		return err
	}
	name := conf.Plugins[0].Bridge
	link, err := netlink.LinkByName(name)
	if err != nil {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge %s: %w", name, err)
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return err
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: k.NodeIP, Mask: k.PodSubnet.Mask}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("address %s on %s: %w", addr, name, err)
	}
	return netlink.LinkSetUp(link)
}

func (k *Cluster) makePKI() error {
	var err error
	if k.pki, err = newPKI(k.path("pki")); err != nil {
		return err
	}
	svcIP := append(k.ServiceCIDR.IP.To4()[:3:3], 1)
	issue := []struct {
		name, cn string
		orgs     []string
		ips      []net.IP
		hosts    []string
	}{
		{"apiserver", "kube-apiserver", nil, []net.IP{net.IPv4(127, 0, 0, 1), svcIP}, []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}},
		{"apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil, nil},
		{"admin", "urunc-e2e-admin", []string{"system:masters"}, nil, nil},
		{"controller-manager", "system:kube-controller-manager", nil, nil, nil},
		{"scheduler", "system:kube-scheduler", nil, nil, nil},
		{"kube-proxy", "system:kube-proxy", nil, nil, nil},
		{"kubelet-client", "system:node:" + k.NodeName, []string{"system:nodes"}, nil, nil},
		{"kubelet", "system:node:" + k.NodeName, []string{"system:nodes"}, []net.IP{k.NodeIP}, []string{k.NodeName}},
	}
	server := "https://127.0.0.1:" + strconv.Itoa(k.ports["apiserver"])
	for _, c := range issue {
		crt, err := k.pki.issue(c.name, c.cn, c.orgs, c.ips, c.hosts)
		if err != nil {
			return err
		}
		switch c.name {
		case "admin", "controller-manager", "scheduler", "kube-proxy", "kubelet-client":
			if err := k.pki.kubeconfig(k.path("pki", c.name+".kubeconfig"), server, crt); err != nil {
				return err
			}
		}
	}
	k.Kubeconfig = k.path("pki", "admin.kubeconfig")
	_, _, err = k.pki.serviceAccountKey()
	return err
}

func (k *Cluster) components() []component {
	p := func(f string) string { return k.path("pki", f) }
	port := func(n string) string { return strconv.Itoa(k.ports[n]) }
	etcdURL := "http://127.0.0.1:" + port("etcd")
	peerURL := "http://127.0.0.1:" + port("etcd-peer")
	return []component{
		{name: "etcd", args: []string{
			"--name=e2e", "--data-dir=" + k.path("etcd"),
			"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
			"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=e2e=" + peerURL,
			// A test cluster's data is thrown away: no fsync per write.
			"--unsafe-no-fsync",
		}, ready: func() bool { return httpOK(http.DefaultClient, etcdURL+"/health") }},
		{name: "kube-apiserver", args: []string{
			"--etcd-servers=" + etcdURL,
			"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + port("apiserver"),
			// On 127.0.0.1 the `kubernetes` Service cannot have the API
			// server as its endpoint: pods do not need it here.
			"--endpoint-reconciler-type=none",
			"--cert-dir=" + k.path("apiserver"),
			"--tls-cert-file=" + p("apiserver.crt"), "--tls-private-key-file=" + p("apiserver.key"),
			"--client-ca-file=" + p("ca.crt"),
			"--kubelet-client-certificate=" + p("apiserver-kubelet-client.crt"), "--kubelet-client-key=" + p("apiserver-kubelet-client.key"),
			"--kubelet-certificate-authority=" + p("ca.crt"), "--kubelet-preferred-address-types=InternalIP",
			"--service-cluster-ip-range=" + k.ServiceCIDR.String(),
			"--service-account-issuer=https://kubernetes.default.svc",
			"--service-account-key-file=" + p("sa.pub"), "--service-account-signing-key-file=" + p("sa.key"),
			"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
			"--allow-privileged=true", "--profiling=false",
		}, ready: func() bool { return httpOK(k.adminClient(), k.server()+"/readyz") }},
		{name: "kube-controller-manager", args: []string{
			"--kubeconfig=" + p("controller-manager.kubeconfig"),
			"--authentication-kubeconfig=" + p("controller-manager.kubeconfig"), "--authorization-kubeconfig=" + p("controller-manager.kubeconfig"),
			"--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false",
			"--use-service-account-credentials=true", "--service-account-private-key-file=" + p("sa.key"),
			"--root-ca-file=" + p("ca.crt"), "--cluster-name=urunc-e2e",
			"--service-cluster-ip-range=" + k.ServiceCIDR.String(), "--profiling=false",
			// Not /usr/libexec/kubernetes, which it would create.
			"--flex-volume-plugin-dir=" + k.path("kubelet", "volume-plugins"),
		}},
		{name: "kube-scheduler", args: []string{
			"--kubeconfig=" + p("scheduler.kubeconfig"),
			"--authentication-kubeconfig=" + p("scheduler.kubeconfig"), "--authorization-kubeconfig=" + p("scheduler.kubeconfig"),
			"--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false", "--profiling=false",
		}},
		k.kubelet(),
		{name: "kube-proxy", args: []string{
			"--kubeconfig=" + p("kube-proxy.kubeconfig"), "--proxy-mode=iptables",
			"--hostname-override=" + k.NodeName, "--cluster-cidr=" + k.PodSubnet.String(),
			"--bind-address=127.0.0.1", "--healthz-bind-address=127.0.0.1:" + port("proxy-healthz"),
			"--metrics-bind-address=127.0.0.1:" + port("proxy-metrics"),
			// Leave the host's conntrack table size alone.
			"--conntrack-max-per-core=0",
			"--nodeport-addresses=" + k.NodeIP.String() + "/32",
		}, ready: func() bool { return httpOK(http.DefaultClient, "http://127.0.0.1:"+port("proxy-healthz")+"/healthz") }},
	}
}

// writeKubeletConfig writes the kubelet's configuration file.
func (k *Cluster) writeKubeletConfig() error {
	conf := map[string]any{
		"kind": "KubeletConfiguration", "apiVersion": "kubelet.config.k8s.io/v1beta1",
		"address": k.NodeIP.String(), "port": k.ports["kubelet"], "readOnlyPort": 0,
		"healthzBindAddress": "127.0.0.1", "healthzPort": k.ports["kubelet-healthz"],
		"tlsCertFile": k.path("pki", "kubelet.crt"), "tlsPrivateKeyFile": k.path("pki", "kubelet.key"),
		"authentication": map[string]any{
			"anonymous": map[string]any{"enabled": false},
			"webhook":   map[string]any{"enabled": true},
			"x509":      map[string]any{"clientCAFile": k.path("pki", "ca.crt")},
		},
		"authorization":            map[string]any{"mode": "Webhook"},
		"containerRuntimeEndpoint": "unix://" + k.Ctrd.Socket(),
		"cgroupDriver":             "cgroupfs",
		// CI machines of this kind have cgroup v1 only.
		"failCgroupV1": false,
		"failSwapOn":   false,
		"podLogsDir":   k.path("pod-logs"),
		// Not /usr/libexec/kubernetes, which the kubelet would create.
		"volumePluginDir": k.path("kubelet", "volume-plugins"),
		// Never evict test pods for a full disk or a busy host.
		"evictionHard": map[string]string{"memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
		// Test images are imported, never pulled: never collect them.
		"imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
		"serializeImagePulls":             false,
		"nodeStatusUpdateFrequency":       "5s",
		"syncFrequency":                   "10s",
		"fileCheckFrequency":              "0s",
		"resolvConf":                      "/etc/resolv.conf",
		"maxPods":                         60,
		"registerWithTaints":              []any{},
		"shutdownGracePeriod":             "0s",
		"shutdownGracePeriodCriticalPods": "0s",
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(k.path("kubelet.json"), b, 0o644)
}

// kubelet is the kubelet component, on writeKubeletConfig's file.
func (k *Cluster) kubelet() component {
	path := k.path("kubelet.json")
	healthz := "http://127.0.0.1:" + strconv.Itoa(k.ports["kubelet-healthz"]) + "/healthz"
	return component{name: "kubelet", args: []string{
		"--config=" + path, "--kubeconfig=" + k.path("pki", "kubelet-client.kubeconfig"),
		"--root-dir=" + k.path("kubelet"), "--hostname-override=" + k.NodeName, "--node-ip=" + k.NodeIP.String(),
	}, ready: func() bool { return httpOK(http.DefaultClient, healthz) }}
}

// start starts c unless it runs, and waits for it to be ready.
func (k *Cluster) start(c component) error {
	if d := k.daemons[c.name]; d != nil && running(d.pid) {
		return nil
	}
	d, err := startDaemon(filepath.Join(k.Tools, c.name), c.args, os.Environ(), k.LogFile(c.name))
	if err != nil {
		return fmt.Errorf("start %s: %w", c.name, err)
	}
	k.daemons[c.name] = d
	if err := os.WriteFile(k.path(c.name+".pid"), []byte(strconv.Itoa(d.pid)+"\n"), 0o644); err != nil {
		return err
	}
	if c.ready != nil {
		if err := waitReady(d, k.LogFile(c.name), c.name, 90*time.Second, c.ready); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	k.Logf.printf("%s pid %d", c.name, d.pid)
	return nil
}

func (k *Cluster) server() string { return "https://127.0.0.1:" + strconv.Itoa(k.ports["apiserver"]) }

// adminClient is an HTTP client with the admin's certificate.
func (k *Cluster) adminClient() *http.Client {
	pair, err := tls.LoadX509KeyPair(k.path("pki", "admin.crt"), k.path("pki", "admin.key"))
	if err != nil {
		return http.DefaultClient
	}
	pool := x509.NewCertPool()
	pool.AddCert(k.pki.caCert)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool},
	}}
}

func httpOK(c *http.Client, url string) bool {
	if c == http.DefaultClient {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// WaitNodeReady waits for the node's Ready condition to be True.
func (k *Cluster) WaitNodeReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "not registered"
	for time.Now().Before(deadline) {
		resp, err := k.adminClient().Get(k.server() + "/api/v1/nodes/" + k.NodeName)
		if err == nil {
			var node struct {
				Status struct {
					Conditions []struct{ Type, Status, Reason, Message string }
				}
			}
			if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&node) == nil {
				for _, c := range node.Status.Conditions {
					if c.Type == "Ready" {
						if c.Status == "True" {
							resp.Body.Close()
							return nil
						}
						last = c.Reason + ": " + c.Message
					}
				}
			}
			resp.Body.Close()
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("node %s not Ready within %v (%s); kubelet log %s:\n%s", k.NodeName, timeout, last, k.LogFile("kubelet"), tail(k.LogFile("kubelet"), 20))
}

// Kubectl runs the pinned kubectl as the admin.
func (k *Cluster) Kubectl(timeout time.Duration, args ...string) (string, error) {
	return command(timeout, nil, filepath.Join(k.Tools, "kubectl"), append([]string{"--kubeconfig", k.Kubeconfig}, args...)...)
}

// stopComponent stops one component (SIGTERM, then SIGKILL).
func (k *Cluster) stopComponent(name string) {
	pid := readPid(k.path(name + ".pid"))
	// The pid file names our process only while it runs our binary.
	if pid > 0 && exeOf(pid) == filepath.Join(k.Tools, name) {
		stopPid(pid, 15*time.Second, k.Logf)
	}
	if d := k.daemons[name]; d != nil {
		select {
		case <-d.exited:
		case <-time.After(5 * time.Second):
		}
	}
	_ = os.Remove(k.path(name + ".pid"))
}

func exeOf(pid int) string {
	p, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return p
}

// RestartNode stops the kubelet and containerd as a node reboot of
// the control plane would, without touching the running pods (their
// shims and VMs outlive both), starts them again and waits for the node
// to be Ready.
func (k *Cluster) RestartNode() error {
	k.stopComponent("kube-proxy")
	k.stopComponent("kubelet")
	stopPid(readPid(k.Ctrd.PIDFile()), k.Ctrd.StopTimeout, k.Logf)
	if err := k.Ctrd.Start(); err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	for _, c := range k.components() {
		if c.name == "kubelet" || c.name == "kube-proxy" {
			if err := k.start(c); err != nil {
				return err
			}
		}
	}
	return k.WaitNodeReady(2 * time.Minute)
}

// Stop stops every component, removes containerd's tasks (urunc deletes
// their VMs) and what the components leave outside Dir, and Dir. The
// Report's Warnings name anything that could not be removed.
func (k *Cluster) Stop() (*Report, error) {
	r := &Report{}
	if err := k.setup(); err != nil {
		return r, err
	}
	if gone, err := removable(k.Dir, "cluster", k.ours); gone || err != nil {
		return r, err
	}
	for _, n := range []string{"kube-proxy", "kubelet", "kube-scheduler", "kube-controller-manager"} {
		k.stopComponent(n)
	}
	cr, err := k.Ctrd.Stop()
	r.Shims, r.Leftovers, r.ContainerProcs = cr.Shims, cr.Leftovers, cr.ContainerProcs
	r.Warnings = append(r.Warnings, cr.Warnings...)
	if err != nil {
		r.warn(k.Logf, "containerd: %v", err)
	}
	if out, err := command(time.Minute, nil, filepath.Join(k.Tools, "kube-proxy"), "--cleanup"); err != nil {
		r.warn(k.Logf, "kube-proxy --cleanup: %v %s", err, out)
	}
	cleanupKubeChains(r, k.Logf)
	killCgroup("/kubepods", r, k.Logf)
	for _, d := range cgroupDirs("/kubepods") {
		if err := removeCgroupTree(d); err != nil {
			r.warn(k.Logf, "cannot remove cgroup %s: %v", d, err)
		}
	}
	k.stopComponent("kube-apiserver")
	k.stopComponent("etcd")
	for _, l := range k.logLinks() {
		if err := os.Remove(l); err != nil {
			r.warn(k.Logf, "cannot remove the kubelet's log link %s: %v", l, err)
		}
	}
	for _, p := range k.made {
		if err := os.RemoveAll(p); err != nil {
			r.warn(k.Logf, "cannot remove %s, which the kubelet made: %v", p, err)
		}
	}
	unmountUnder(k.Dir, r, k.Logf)
	if err := removeOneFS(k.Dir); err != nil {
		return r, fmt.Errorf("could not remove %s: %w", k.Dir, err)
	}
	return r, nil
}

// cleanupKubeChains removes the KUBE-* chains the kubelet and kube-proxy
// made, and the rules of built-in chains that jump to them, for IPv4 and
// IPv6; each one it finds after kube-proxy's own clean-up is a warning.
func cleanupKubeChains(r *Report, l Logf) {
	for _, ipt := range []string{"iptables", "ip6tables"} {
		bin, err := exec.LookPath(ipt)
		if err != nil {
			continue
		}
		for _, table := range []string{"filter", "nat", "mangle"} {
			save, err := exec.Command(bin, "-w", "-t", table, "-S").Output()
			if err != nil {
				continue
			}
			rules, chains := kubeRules(string(save))
			removeRules(bin, table, rules, chains, r, l)
			// The kubelet's own chains (its canary, the hint, the firewall
			// against martians to 127/8) are its to keep: removed, not leaks.
			for _, c := range chains {
				if !kubeletChains[c] {
					r.warn(l, "%s -t %s: chain %s outlived kube-proxy --cleanup", ipt, table, c)
				}
			}
		}
	}
}

var kubeletChains = map[string]bool{"KUBE-KUBELET-CANARY": true, "KUBE-IPTABLES-HINT": true, "KUBE-FIREWALL": true}

// kubeRules picks, from `iptables -S` output, the KUBE-* chains and the
// rules of other chains that jump to one.
func kubeRules(save string) (rules, chains []string) {
	for _, line := range strings.Split(save, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "-N" && strings.HasPrefix(f[1], "KUBE-"):
			chains = append(chains, f[1])
		case len(f) >= 2 && f[0] == "-A" && !strings.HasPrefix(f[1], "KUBE-") && strings.Contains(line, " -j KUBE-"):
			rules = append(rules, line)
		}
	}
	return rules, chains
}

// logLinks lists the kubelet's links in /var/log/containers that point
// into Dir.
func (k *Cluster) logLinks() []string {
	ents, _ := os.ReadDir("/var/log/containers")
	var out []string
	for _, e := range ents {
		p := filepath.Join("/var/log/containers", e.Name())
		if dst, err := os.Readlink(p); err == nil && strings.HasPrefix(dst, k.Dir+"/") {
			out = append(out, p)
		}
	}
	return out
}

// Leftovers lists what a stopped cluster would have left on the host:
// KUBE-* chains, /kubepods cgroups, log links, the kubelet's host folders,
// the bridge, Dir. Empty is clean.
func (k *Cluster) Leftovers() []string {
	var out []string
	for _, ipt := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "nat", "mangle"} {
			save, _ := exec.Command(ipt, "-w", "-t", table, "-S").Output()
			_, chains := kubeRules(string(save))
			for _, c := range chains {
				out = append(out, ipt+" -t "+table+" chain "+c)
			}
		}
	}
	for _, d := range cgroupDirs("/kubepods") {
		out = append(out, "cgroup "+d)
	}
	for _, l := range k.logLinks() {
		out = append(out, "log link "+l)
	}
	for _, p := range k.made {
		if _, err := os.Lstat(p); err == nil {
			out = append(out, "folder "+p)
		}
	}
	if k.Ctrd != nil {
		if _, err := netlink.LinkByName(k.Ctrd.BridgeName()); err == nil {
			out = append(out, "bridge "+k.Ctrd.BridgeName())
		}
	}
	var st unix.Stat_t
	if unix.Lstat(k.Dir, &st) == nil {
		out = append(out, "folder "+k.Dir)
	}
	return out
}
