package e2e

// Firecracker, Solo5 (hvt, spt) and Cloud Hypervisor cannot be installed on
// every test host. Their paths through urunc (plan, monitor root, network,
// launcher, exec) are driven here with a stand-in VMM (testdata/standin):
// a static program installed under each VMM's binary name that records
// what it was given and exits 0 — after playing the guest's agent, for a
// Linux guest on Firecracker or Cloud Hypervisor (agent_standin_test.go
// drives that). Each VMM also has a "real" variant that boots a real guest
// when the real tool is on PATH, and skips otherwise.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/launcher"
	"github.com/urunc-runtime/urunc/internal/network"
	"github.com/urunc-runtime/urunc/internal/planner"
	"github.com/urunc-runtime/urunc/internal/testutil/solo5elf"
)

// siReport mirrors testdata/standin's Report.
type siReport struct {
	Argv        []string           `json:"argv"`
	Env         []string           `json:"env"`
	Pid         int                `json:"pid"`
	PPid        int                `json:"ppid"`
	ParentArgv  []string           `json:"parentArgv"`
	UID         int                `json:"uid"`
	GID         int                `json:"gid"`
	FDs         map[string]string  `json:"fds"`
	Namespaces  map[string]string  `json:"namespaces"`
	Status      map[string]string  `json:"status"`
	Devices     map[string]siProbe `json:"devices"`
	ConfigFiles map[string]string  `json:"configFiles"`
	Paths       map[string]siProbe `json:"paths"`
	Taps        map[string]siProbe `json:"taps"`
	Socket      string             `json:"socket"`
	Mounts      map[string]string  `json:"mounts"`
	Guest       *siGuest           `json:"guest"`
}

// siGuest mirrors testdata/standin's GuestInfo: the Linux guest the
// stand-in played behind the VMM's agent socket.
type siGuest struct {
	AgentSocket string   `json:"agentSocket"`
	Initrd      string   `json:"initrd"`
	Args        []string `json:"args"`
	Mode        string   `json:"mode"`
	Error       string   `json:"error"`
}

type siProbe struct {
	Exists   bool   `json:"exists"`
	Open     string `json:"open"`
	Writable bool   `json:"writable"`
}

// siRun is one stand-in container's facts, for a case's checks.
type siRun struct {
	bin      string // the stand-in's path, as configured
	tap, mac string // the tap urunc made and the container interface's MAC
	tn       *testNet
	rep      siReport
	stderr   string // the container's stderr: the supervisor's and the stand-in's
}

// siCase is one VMM played by the stand-in.
type siCase struct {
	name   string // subtest and container id suffix
	vmm    string // com.urunc.unikernel.hypervisor and config section
	binary string // the VMM's executable name
	netN   int    // newTestNet index (10.213.<netN>.0/24)
	bundle func(t *testing.T, e *env) *bundle
	// agent: a Linux guest on a VMM that carries the agent channel, so a
	// supervisor is the container's pid 1 and the stand-in, its child,
	// plays the guest's agent.
	agent  bool
	argv   func(t *testing.T, r siRun)            // argv (and config files) as the VMM builder documents
	extra  func(t *testing.T, r siRun)            // case-specific checks
	real   func(t *testing.T, e *env, bin string) // boots a real guest with the real binary
	noNIC  bool                                   // the guest declares no NIC: the VMM gets no tap
	config string                                 // extra urunc config lines
	// kvmAbsent names a missing node as [host] kvm_device: the case runs
	// as on a host without KVM, whatever this one has.
	kvmAbsent bool
	// filtered: urunc installs its own seccomp filter for this VMM
	// (solo5-hvt, which has none), on top of the container's profile.
	filtered bool
}

// siSubmount is a host mount under /usr, made by TestStandinVMMs: the VMM
// must see it read-only like the folder above it.
const siSubmount = "/usr/local/share/urunc-e2e-submount"

// siCheckHostMounts: every mount the VMM sees of the host's folders, the
// ones below them too, is read-only, nosuid and nodev.
func siCheckHostMounts(t *testing.T, rep siReport) {
	t.Helper()
	seen := false
	for mp, opts := range rep.Mounts {
		host := false
		for _, d := range []string{"/usr", "/bin", "/sbin", "/lib", "/lib64"} {
			host = host || mp == d || strings.HasPrefix(mp, d+"/")
		}
		if !host {
			continue
		}
		seen = seen || mp == siSubmount
		o := strings.Split(opts, ",")
		if !slices.Contains(o, "ro") || !slices.Contains(o, "nosuid") || !slices.Contains(o, "nodev") {
			t.Errorf("host mount %s in the container: %s, want ro,nosuid,nodev", mp, opts)
		}
	}
	if !seen {
		t.Errorf("the host submount %s is not in the container's mounts: %v", siSubmount, rep.Mounts)
	}
}

// siMakeSubmount mounts a writable tmpfs below /usr for the test's length.
func siMakeSubmount(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(siSubmount, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", siSubmount, "tmpfs", unix.MS_NOSUID, "size=1m"); err != nil {
		t.Fatalf("mount a tmpfs at %s: %v", siSubmount, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(siSubmount, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", siSubmount, err)
		}
		os.Remove(siSubmount)
	})
}

// siGuestOnly is an environment variable the guest gets and the VMM must not.
const siGuestOnly = "SI_GUEST_ONLY=1"

var siCases = []siCase{
	{name: "firecracker", vmm: "firecracker", binary: "firecracker", netN: 21, bundle: siLinuxBundle("firecracker"),
		agent: true, argv: siFirecrackerArgv, real: siRealLinux("firecracker")},
	// [api] socket: Firecracker keeps its API, on the run folder's socket.
	{name: "firecracker-api", vmm: "firecracker", binary: "firecracker", netN: 28, config: "[api]\nsocket = true\n",
		bundle: siLinuxBundle("firecracker"), agent: true, argv: siFirecrackerAPIArgv},
	{name: "cloud-hypervisor", vmm: "cloud-hypervisor", binary: "cloud-hypervisor", netN: 22, agent: true,
		bundle: siLinuxBundle("cloud-hypervisor"), argv: siCloudHypervisorArgv, real: siRealLinux("cloud-hypervisor")},
	{name: "hvt", vmm: "hvt", binary: "solo5-hvt", netN: 23, filtered: true,
		bundle: siWithSeccomp(siSolo5Bundle("hvt", "rumprun", solo5elf.TargetHVT, true)),
		argv:   siSolo5Argv("rumprun", true), extra: siSeccompApplies, real: siRealSolo5("hvt")},
	// [hvt] seccomp = "off": the container's profile alone.
	{name: "hvt-seccomp-off", vmm: "hvt", binary: "solo5-hvt", netN: 27, config: "[hvt]\nseccomp = \"off\"\n",
		bundle: siWithSeccomp(siSolo5Bundle("hvt", "rumprun", solo5elf.TargetHVT, true)),
		argv:   siSolo5Argv("rumprun", true), extra: siSeccompApplies},
	{name: "spt", vmm: "spt", binary: "solo5-spt", netN: 24,
		bundle: siNonRoot(siSolo5Bundle("spt", "mirage", solo5elf.TargetSPT, true)),
		argv:   siSolo5Argv("mirage", true), extra: siRunsAsUser, real: siRealSolo5("spt")},
	// The same unikernels declaring only the block device: the rest of
	// the Solo5 path, whatever becomes of the NIC binding at create.
	{name: "hvt-block-only", vmm: "hvt", binary: "solo5-hvt", netN: 25, noNIC: true, filtered: true,
		bundle: siWithSeccomp(siSolo5Bundle("hvt", "rumprun", solo5elf.TargetHVT, false)),
		argv:   siSolo5Argv("rumprun", false), extra: siSeccompApplies},
	{name: "spt-block-only", vmm: "spt", binary: "solo5-spt", netN: 26, noNIC: true,
		bundle: siNonRoot(siSolo5Bundle("spt", "mirage", solo5elf.TargetSPT, false)),
		argv:   siSolo5Argv("mirage", false), extra: siRunsAsUser},
	// solo5-spt takes no accelerator: [vm] accel = "kvm" on a host
	// without KVM is the emulating VMM's business, not spt's.
	{name: "spt-no-kvm-accel-kvm", vmm: "spt", binary: "solo5-spt", netN: 29, kvmAbsent: true,
		config: "[vm]\naccel = \"kvm\"\n",
		bundle: siNonRoot(siSolo5Bundle("spt", "mirage", solo5elf.TargetSPT, true)),
		argv:   siSolo5Argv("mirage", true), extra: siRunsAsUser},
}

// TestStandinVMMs runs every non-QEMU VMM through urunc create + start with
// the stand-in, and each real VMM when it is installed.
func TestStandinVMMs(t *testing.T) {
	e := setup(t, false)
	dir := siInstallStandin(t)
	siMakeSubmount(t)
	for _, c := range siCases {
		t.Run(c.name, func(t *testing.T) {
			t.Run("standin", func(t *testing.T) { siRunCase(t, e, c, filepath.Join(dir, c.binary)) })
			if c.real == nil {
				return
			}
			t.Run("real", func(t *testing.T) {
				bin, err := exec.LookPath(c.binary)
				if err != nil {
					t.Skipf("%s not on PATH: the real %s variant needs the tool installed", c.binary, c.vmm)
				}
				c.real(t, e, bin)
			})
		})
	}
}

// siInstallStandin builds the stand-in and copies it under each VMM's name.
func siInstallStandin(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH: needed to build the stand-in VMM")
	}
	out := filepath.Join(t.TempDir(), "standin")
	c := exec.Command(goBin, "build", "-trimpath", "-o", out, "./testdata/standin")
	c.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("build stand-in: %v\n%s", err, b)
	}
	dir := filepath.Join(t.TempDir(), "vmm")
	for _, name := range []string{"firecracker", "cloud-hypervisor", "solo5-hvt", "solo5-spt"} {
		copyFile(t, out, filepath.Join(dir, name), 0o755)
	}
	// No chmod of the (0700) temp folders: runc binds the binary into the
	// monitor root, so a non-root VMM never walks the host path.
	return dir
}

// siConfig writes a urunc config naming bin for one VMM and kvmDev as the
// KVM device. An extra fragment that is the VMM's own section or [linux]
// has its keys put in the section siConfig writes, as TOML allows a table
// once.
func siConfig(t *testing.T, e *env, vmmName, bin, kvmDev string, extra ...string) {
	section := fmt.Sprintf("[%q]\nbinary = %q\n", vmmName, bin)
	linux := fmt.Sprintf("urunit = %q\n", filepath.Join(e.bin, "urunit"))
	var rest []string
	for _, x := range extra {
		if keys, ok := strings.CutPrefix(x, "["+vmmName+"]\n"); ok {
			section += keys
		} else if keys, ok := strings.CutPrefix(x, "[linux]\n"); ok {
			linux += keys
		} else {
			rest = append(rest, x)
		}
	}
	writeFile(t, e.config, fmt.Sprintf("[host]\nkvm_device = %q\n\n[linux]\n%s\n%s\n%s",
		kvmDev, linux, section, strings.Join(rest, "")))
}

// siKVM is the KVM device the stand-in cases give urunc: the host's when
// it opens read-write, else a node of /dev/null's numbers, which the
// stand-in opens as it would /dev/kvm. So the paths of the KVM-only VMMs
// run on every host, with or without KVM.
func siKVM(t *testing.T) string {
	t.Helper()
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		f.Close()
		return "/dev/kvm"
	}
	dev := filepath.Join(t.TempDir(), "kvm")
	if err := unix.Mknod(dev, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatalf("make a stand-in kvm device: %v", err)
	}
	return dev
}

// siRunCase creates and starts the stand-in container, then checks what
// the stand-in recorded.
func siRunCase(t *testing.T, e *env, c siCase, bin string) {
	kvm := siKVM(t)
	if c.kvmAbsent {
		kvm = filepath.Join(t.TempDir(), "no-kvm")
	}
	siConfig(t, e, c.vmm, bin, kvm, c.config)
	r := e.runtime(t)
	tn := newTestNet(t, c.netN)
	b := c.bundle(t, e)
	joinNetns(b, tn.ctr)
	id := "si-" + c.name
	out, errOut, startLog := siCreateStart(t, r, b.write(), id)
	s := r.waitStatus(id, "stopped", 30*time.Second)
	wantAccel := "kvm"
	if c.vmm == "spt" {
		wantAccel = "none"
	}
	if got := s.Annotations["com.urunc.vm.accel"]; got != wantAccel {
		t.Errorf("accel annotation %q, want %s", got, wantAccel)
	}
	stderr, _ := os.ReadFile(errOut)
	run := siRun{bin: bin, tap: network.TapName(id), mac: siMAC(t, tn), tn: tn, rep: siDecode(t, out, string(stderr)), stderr: string(stderr)}
	siCheckArgvFile(t, r, id, startLog, b.spec, run.rep) // before delete removes the VM folder
	r.ok("delete", id)
	tn.assertNothingOfOurs("delete")
	if left := processesOf(filepath.Dir(bin)); len(left) > 0 {
		t.Errorf("stand-in processes left: %v", left)
	}
	t.Logf("VMM argv: %q", run.rep.Argv)
	siCommonChecks(t, run, b.spec, !c.noNIC)
	siCheckSupervision(t, run, b.spec, c.agent)
	siCheckFilter(t, run, b.spec, c.filtered)
	c.argv(t, run)
	if c.extra != nil {
		c.extra(t, run)
	}
}

// siCreateStart runs create (stdio to files, as a detached VMM has) and
// start (with --debug, JSON logs), and returns the paths of the container's
// stdout and stderr, and start's log.
func siCreateStart(t *testing.T, r *runtime, dir, id string) (string, string, string) {
	t.Helper()
	out, errOut := filepath.Join(t.TempDir(), "stdout"), filepath.Join(t.TempDir(), "stderr")
	fo, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()
	fe, err := os.Create(errOut)
	if err != nil {
		t.Fatal(err)
	}
	defer fe.Close()
	c := r.cmd(context.Background(), "create", "--bundle", dir, id)
	c.Stdout, c.Stderr = fo, fe
	if err := c.Run(); err != nil {
		b, _ := os.ReadFile(errOut)
		t.Fatalf("create %s: %v: %s", id, err, b)
	}
	t.Cleanup(func() { r.urunc("delete", "--force", id) })
	res := r.urunc("--debug", "--log-format", "json", "start", id)
	if res.code != 0 {
		b, _ := os.ReadFile(errOut)
		t.Fatalf("start %s: exit %d: %s\ncontainer stderr:\n%s", id, res.code, res.stderr, b)
	}
	startLog := filepath.Join(t.TempDir(), "start.log")
	writeFile(t, startLog, res.stderr)
	t.Cleanup(func() {
		if b, _ := os.ReadFile(errOut); t.Failed() && len(b) > 0 {
			t.Logf("container stderr:\n%s", b)
		}
	})
	return out, errOut, startLog
}

// siCheckArgvFile: the launcher left the VMM's final argv in the VM
// folder's run/ (0600, the VMM user's): the argv the stand-in was run with
// and the config files it read; and urunc start logged the same record at
// debug level.
func siCheckArgvFile(t *testing.T, r *runtime, id, startLog string, spec *specs.Spec, rep siReport) {
	t.Helper()
	path := filepath.Join(r.root, ".urunc", id, "run", launcher.ArgvFile)
	wantMode(t, path, 0o600, int(spec.Process.User.UID))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("VMM argv record: %v", err)
		return
	}
	var rec launcher.Record
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		t.Errorf("%s: %v\n%s", path, err, data)
		return
	}
	if !slices.Equal(rec.Argv, rep.Argv) {
		t.Errorf("%s argv:\n%q\nwant the VMM's own:\n%q", path, rec.Argv, rep.Argv)
	}
	files := slices.Sorted(slices.Values(rec.ConfigFiles))
	if want := siKeys(rep.ConfigFiles); !slices.Equal(files, want) {
		t.Errorf("%s configFiles %q, want the ones the VMM read %q", path, files, want)
	}
	logged, err := siLoggedArgv(startLog)
	if err != nil {
		t.Errorf("start --debug log: %v", err)
		return
	}
	if !slices.Equal(logged.Argv, rec.Argv) || !slices.Equal(logged.ConfigFiles, rec.ConfigFiles) || logged.VMM != rec.VMM {
		t.Errorf("start logged %+v, want the launcher's record %+v", logged, rec)
	}
}

// siLoggedArgv finds the "VMM argv" debug line in a JSON log of urunc start.
func siLoggedArgv(path string) (launcher.Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return launcher.Record{}, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		var entry struct{ Level, Msg, File string }
		if json.Unmarshal([]byte(line), &entry) != nil {
			continue
		}
		raw, ok := strings.CutPrefix(entry.Msg, "VMM argv: ")
		if !ok {
			continue
		}
		if entry.Level != "debug" {
			return launcher.Record{}, fmt.Errorf("VMM argv logged at level %q, want debug", entry.Level)
		}
		if filepath.Base(entry.File) != launcher.ArgvFile {
			return launcher.Record{}, fmt.Errorf("VMM argv line names file %q, want the record's path", entry.File)
		}
		var rec launcher.Record
		if err := json.Unmarshal([]byte(raw), &rec); err != nil {
			return launcher.Record{}, fmt.Errorf("VMM argv line %q: %w", entry.Msg, err)
		}
		return rec, nil
	}
	return launcher.Record{}, fmt.Errorf("no \"VMM argv\" line in:\n%s", data)
}

// siDecode reads the stand-in's report from the container's stdout.
func siDecode(t *testing.T, path, stderr string) siReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep siReport
	if err := json.Unmarshal(b, &rep); err != nil {
		// The container's stderr says why the stand-in did not report
		// (seen once in a full run, empty stdout; not reproduced in 8).
		t.Fatalf("stand-in report: %v\nstdout: %s\nstderr: %s", err, b, stderr)
	}
	return rep
}

// siMAC is the container interface's MAC, which the guest takes over.
func siMAC(t *testing.T, tn *testNet) string {
	var mac string
	err := network.InNamespace("/var/run/netns/"+tn.ctr, func() error {
		ifc, err := net.InterfaceByName("eth0")
		if err == nil {
			mac = ifc.HardwareAddr.String()
		}
		return err
	})
	if err != nil {
		t.Fatalf("container interface: %v", err)
	}
	return mac
}

// siCommonChecks holds for every VMM: isolation, credentials, devices,
// descriptors and the files argv names.
func siCommonChecks(t *testing.T, r siRun, spec *specs.Spec, nic bool) {
	t.Helper()
	rep := r.rep
	if len(rep.Argv) == 0 || rep.Argv[0] != r.bin {
		t.Errorf("argv[0] %q, want the configured binary %q", rep.Argv, r.bin)
	}
	siCheckNamespaces(t, r)
	siCheckHostMounts(t, rep)
	siCheckCaps(t, rep, spec.Process.User.UID)
	if rep.UID != int(spec.Process.User.UID) || rep.GID != int(spec.Process.User.GID) {
		t.Errorf("VMM runs as %d:%d, want the container's %d:%d", rep.UID, rep.GID, spec.Process.User.UID, spec.Process.User.GID)
	}
	if rep.Status["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs %q, want 1 (process.noNewPrivileges)", rep.Status["NoNewPrivs"])
	}
	for _, d := range []string{"/dev/kvm", "/dev/net/tun"} {
		// solo5-spt runs the guest as a seccomp-confined process: no KVM.
		want := d != "/dev/kvm" || !strings.HasSuffix(r.bin, "solo5-spt")
		if p := rep.Devices[d]; want && (!p.Exists || p.Open != "ok") {
			t.Errorf("%s in the container: %+v, want present and openable", d, p)
		} else if !want && p.Exists {
			t.Errorf("%s in the container of solo5-spt, which does not use it", d)
		}
	}
	if fds := siKeys(rep.FDs); !slices.Equal(fds, []string{"0", "1", "2"}) {
		t.Errorf("VMM inherited descriptors %v, want only 0, 1, 2", rep.FDs)
	}
	for _, kv := range rep.Env {
		if k, _, _ := strings.Cut(kv, "="); k != "PATH" && k != "HOME" {
			t.Errorf("VMM environment has %q; want only PATH (and HOME from libcontainer)", kv)
		}
	}
	for p, probe := range rep.Paths {
		if strings.HasSuffix(p, ".sock") { // the VMM creates it: its folder must let it
			if d := rep.Paths[filepath.Dir(p)]; !d.Exists || !d.Writable {
				t.Errorf("argv names socket %s, whose folder the VMM cannot write: %+v", p, d)
			}
			continue
		}
		if !probe.Exists || probe.Open != "ok" {
			t.Errorf("argv names %s, which the VMM cannot open: %+v", p, probe)
		}
	}
	if p, ok := rep.Taps[r.tap]; nic && (!ok || !p.Exists || p.Open != "ok") {
		t.Errorf("tap %s: %+v (found %v), want present in the VMM's netns and attachable", r.tap, p, rep.Taps)
	}
	if !nic && len(rep.Taps) > 0 {
		t.Errorf("argv names taps %v for a guest that declares no NIC", rep.Taps)
	}
}

// siCheckSupervision: a VMM that carries the agent channel is the child of
// the supervisor, the container's pid 1 (urunc launch), which got the
// guest's status from the stand-in's agent (hello exits 0); the stand-in
// found the agent socket and, in the initrd, the container's args. Any
// other VMM is the container's pid 1 itself, and plays no guest.
func siCheckSupervision(t *testing.T, r siRun, spec *specs.Spec, agent bool) {
	t.Helper()
	rep := r.rep
	if !agent {
		if rep.Pid != 1 {
			t.Errorf("VMM pid %d in its namespace, want 1 (the container's init)", rep.Pid)
		}
		if rep.Guest != nil {
			t.Errorf("the stand-in played a guest agent %+v for a VMM that has none", *rep.Guest)
		}
		return
	}
	wantParent := []string{planner.MonitorSelf, "launch", planner.MonitorShare}
	if rep.Pid == 1 || rep.PPid != 1 || !slices.Equal(rep.ParentArgv, wantParent) {
		t.Errorf("VMM pid %d, parent %d %q; want a child of the container's init, the supervisor %q",
			rep.Pid, rep.PPid, rep.ParentArgv, wantParent)
	}
	g := rep.Guest
	if g == nil {
		t.Fatalf("the stand-in found no agent socket in argv %q or config files", rep.Argv)
	}
	if g.AgentSocket != "/urunc/run/agent.sock" || g.Initrd != "/urunc/initrd" || g.Error != "" ||
		!slices.Equal(g.Args, spec.Process.Args) {
		t.Errorf("guest played %+v, want agent socket /urunc/run/agent.sock, initrd /urunc/initrd and args %q",
			*g, spec.Process.Args)
	}
	if !strings.Contains(r.stderr, "standin: the host took the exit status 0\n") || strings.Contains(r.stderr, "without reporting") {
		t.Errorf("container stderr %q: want the host to have taken the guest's exit status 0 through the agent", r.stderr)
	}
}

// siCheckNamespaces compares the VMM's namespaces with the test's: new
// pid, mount, ipc and uts namespaces, and the network namespace the bundle
// joined.
func siCheckNamespaces(t *testing.T, r siRun) {
	t.Helper()
	for _, ns := range []string{"pid", "mnt", "ipc", "uts", "net"} {
		host, _ := os.Readlink("/proc/self/ns/" + ns)
		if got := r.rep.Namespaces[ns]; got == "" || got == host {
			t.Errorf("VMM %s namespace %q, want a new one (host: %q)", ns, got, host)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat("/var/run/netns/"+r.tn.ctr, &st); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("net:[%d]", st.Ino); r.rep.Namespaces["net"] != want {
		t.Errorf("VMM net namespace %q, want the joined one %q", r.rep.Namespaces["net"], want)
	}
}

// siCheckCaps: none of these VMMs serves 9p shares, so none keeps any of
// the container's capabilities (baseSpec's CAP_KILL, CAP_NET_BIND_SERVICE
// and CAP_AUDIT_WRITE), root or not.
func siCheckCaps(t *testing.T, rep siReport, uid uint32) {
	t.Helper()
	want := map[string]uint64{"CapBnd": 0, "CapEff": 0, "CapPrm": 0, "CapInh": 0, "CapAmb": 0}
	for k, w := range want {
		got, err := strconv.ParseUint(rep.Status[k], 16, 64)
		if err != nil || got != w {
			t.Errorf("VMM %s %q, want %016x", k, rep.Status[k], w)
		}
	}
}

// siLinuxBundle is a Linux guest (the hello app) booting the uncompressed
// ELF kernel, which InspectKernel reports as PVH: Firecracker takes ELF and
// PVH, Cloud Hypervisor PVH and bzImage.
func siLinuxBundle(hypervisor string) func(*testing.T, *env) *bundle {
	return func(t *testing.T, e *env) *bundle {
		vmlinux := filepath.Join(filepath.Dir(e.kernel), "vmlinux")
		if _, err := os.Stat(vmlinux); err != nil {
			t.Skipf("uncompressed guest kernel %q missing: run `make kernel`", vmlinux)
		}
		b := newBundle(t, baseSpec("/hello", "0"))
		b.spec.Process.Env = append(b.spec.Process.Env, siGuestOnly)
		if err := os.MkdirAll(b.rootfs("boot"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(vmlinux, b.rootfs("boot/vmlinux")); err != nil {
			copyFile(t, vmlinux, b.rootfs("boot/vmlinux"), 0o644)
		}
		copyFile(t, filepath.Join(e.bin, "hello"), b.rootfs("hello"), 0o755)
		b.spec.Annotations = map[string]string{
			"com.urunc.unikernel.unikernelType": "linux",
			"com.urunc.unikernel.hypervisor":    hypervisor,
			"com.urunc.unikernel.binary":        "/boot/vmlinux",
		}
		return b
	}
}

// siSolo5Bundle is a synthetic Solo5 unikernel declaring one NIC
// ("service", unless nic is false) and one block device ("storage"), with
// an image block file to back the latter.
func siSolo5Bundle(hypervisor, guest string, target uint32, nic bool) func(*testing.T, *env) *bundle {
	return func(t *testing.T, e *env) *bundle {
		b := newBundle(t, baseSpec(guest))
		b.spec.Process.Env = append(b.spec.Process.Env, siGuestOnly)
		u := solo5elf.Unikernel{Target: target, ABIVersion: 1, Devices: []solo5elf.Entry{solo5elf.Block("storage")}}
		if nic {
			u.Devices = append([]solo5elf.Entry{solo5elf.Net("service")}, u.Devices...)
		}
		if err := u.Write(b.rootfs("unikernel." + hypervisor)); err != nil {
			t.Fatal(err)
		}
		writeFile(t, b.rootfs("data.img"), strings.Repeat("\x00", 1<<20))
		b.spec.Annotations = map[string]string{
			"com.urunc.unikernel.unikernelType": guest,
			"com.urunc.unikernel.hypervisor":    hypervisor,
			"com.urunc.unikernel.binary":        "/unikernel." + hypervisor,
			"com.urunc.unikernel.block":         "/data.img",
			"com.urunc.unikernel.blkMntPoint":   "/data",
		}
		return b
	}
}

// siWithSeccomp gives the bundle a seccomp profile that allows every
// system call but kexec_load.
func siWithSeccomp(build func(*testing.T, *env) *bundle) func(*testing.T, *env) *bundle {
	return func(t *testing.T, e *env) *bundle {
		b := build(t, e)
		b.spec.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64},
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"kexec_load"}, Action: specs.ActErrno}},
		}
		return b
	}
}

// siUser is the non-root user of siNonRoot.
const siUser = 1000

// siNonRoot runs the bundle as siUser, owning its block image as an image
// built for that user would.
func siNonRoot(build func(*testing.T, *env) *bundle) func(*testing.T, *env) *bundle {
	return func(t *testing.T, e *env) *bundle {
		b := build(t, e)
		b.spec.Process.User = specs.User{UID: siUser, GID: siUser}
		if err := os.Chown(b.rootfs("data.img"), siUser, siUser); err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// siFirecrackerAPIArgv: with [api] socket, --api-sock replaces --no-api.
func siFirecrackerAPIArgv(t *testing.T, r siRun) {
	want := []string{r.bin, "--api-sock", "/urunc/run/api.sock", "--config-file", "/urunc/run/firecracker.json"}
	if !slices.Equal(r.rep.Argv, want) {
		t.Errorf("argv %q, want %q", r.rep.Argv, want)
	}
}

// siFirecrackerArgv: --no-api --config-file <run>/firecracker.json, and
// the JSON names the kernel, initrd, command line, the tap with the
// container's MAC and the agent's vsock.
func siFirecrackerArgv(t *testing.T, r siRun) {
	const cfgPath = "/urunc/run/firecracker.json"
	if want := []string{r.bin, "--no-api", "--config-file", cfgPath}; !slices.Equal(r.rep.Argv, want) {
		t.Errorf("argv %q, want %q", r.rep.Argv, want)
	}
	var cfg struct {
		Boot struct {
			Kernel, Initrd, Args string
		} `json:"boot-source"`
		Machine map[string]any      `json:"machine-config"`
		Drives  []any               `json:"drives"`
		Net     []map[string]string `json:"network-interfaces"`
	}
	raw := r.rep.ConfigFiles[cfgPath]
	if err := json.Unmarshal([]byte(strings.NewReplacer(`"kernel_image_path"`, `"Kernel"`,
		`"initrd_path"`, `"Initrd"`, `"boot_args"`, `"Args"`).Replace(raw)), &cfg); err != nil {
		t.Fatalf("config file %s: %v\n%s", cfgPath, err, raw)
	}
	var vsock struct {
		Vsock map[string]any `json:"vsock"`
	}
	_ = json.Unmarshal([]byte(raw), &vsock)
	if w := map[string]any{"guest_cid": 3.0, "uds_path": "/urunc/run/agent.sock"}; !maps.Equal(vsock.Vsock, w) {
		t.Errorf("vsock %v, want %v", vsock.Vsock, w)
	}
	if cfg.Boot.Kernel != "/urunc/kernel" || cfg.Boot.Initrd != "/urunc/initrd" {
		t.Errorf("boot-source %+v, want the bound kernel and initrd", cfg.Boot)
	}
	siLinuxCmdline(t, r, cfg.Boot.Args)
	if cfg.Machine["vcpu_count"] != 1.0 || cfg.Machine["mem_size_mib"] != 256.0 {
		t.Errorf("machine-config %v, want 1 vcpu and the default 256 MiB", cfg.Machine)
	}
	want := []map[string]string{{"iface_id": "net0", "host_dev_name": r.tap, "guest_mac": r.mac}}
	if len(cfg.Net) != 1 || !siMapsEqual(cfg.Net[0], want[0]) || len(cfg.Drives) != 0 {
		t.Errorf("network-interfaces %v drives %v, want %v and no drive", cfg.Net, cfg.Drives, want)
	}
}

func siMapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// siLinuxCmdline checks the parts of a Linux guest command line the VMM
// must pass on: the serial console and the container's address.
func siLinuxCmdline(t *testing.T, r siRun, cmdline string) {
	t.Helper()
	for _, w := range []string{"console=ttyS0", "ip=" + r.tn.ctrIP + "::" + r.tn.peerIP + ":255.255.255.0"} {
		if !strings.Contains(cmdline, w) {
			t.Errorf("guest command line %q lacks %q", cmdline, w)
		}
	}
	if strings.Contains(cmdline, siGuestOnly) {
		t.Errorf("guest command line %q carries the environment", cmdline)
	}
}

// siCloudHypervisorArgv: kernel, initramfs, cmdline, memory, cpus, the tap
// with the container's MAC, the agent's vsock, serial on stdout.
func siCloudHypervisorArgv(t *testing.T, r siRun) {
	a := r.rep.Argv
	if len(a) < 7 {
		t.Fatalf("argv %q too short", a)
	}
	want := []string{r.bin, "--kernel", "/urunc/kernel", "--initramfs", "/urunc/initrd", "--cmdline", a[6],
		"--memory", "size=256M", "--cpus", "boot=1", "--net", "tap=" + r.tap + ",mac=" + r.mac,
		"--vsock", "cid=3,socket=/urunc/run/agent.sock", "--serial", "tty", "--console", "off"}
	if !slices.Equal(a, want) {
		t.Errorf("argv %q\nwant %q", a, want)
	}
	siLinuxCmdline(t, r, a[6])
}

// siSolo5Argv: --mem, the manifest's NIC bound to the tap with the
// container's MAC, its block device to /urunc/block, then -- kernel and
// the guest's command line as one argument.
func siSolo5Argv(guest string, nic bool) func(*testing.T, siRun) {
	return func(t *testing.T, r siRun) {
		a := r.rep.Argv
		want := []string{r.bin, "--mem=256"}
		if nic {
			want = append(want, "--net:service="+r.tap, "--net-mac:service="+r.mac)
		}
		want = append(want, "--block:storage=/urunc/block", "--", "/urunc/kernel")
		// An empty guest command line is left out.
		if len(a) < len(want) || len(a) > len(want)+1 || !slices.Equal(a[:len(want)], want) {
			t.Fatalf("argv %q\nwant %q + command line", a, want)
		}
		cmdline := strings.Join(a[len(want):], "")
		var wants []string
		switch guest {
		case "rumprun":
			wants = []string{`"cmdline":"rumprun"`, `"source":"etfs"`, `"mountpoint":"/data"`, `"env":"` + siGuestOnly + `"`}
		}
		// The guest is told of the network only when its manifest has a NIC.
		nets := map[string][]string{
			"rumprun": {`"if":"ukvmif0"`, `"addr":"` + r.tn.ctrIP + `"`, `"gw":"` + r.tn.peerIP + `"`},
			"mirage":  {"--ipv4=" + r.tn.ctrIP + "/24 --ipv4-gateway=" + r.tn.peerIP},
		}[guest]
		if nic {
			wants = append(wants, nets...)
		}
		for _, w := range wants {
			if !strings.Contains(cmdline, w) {
				t.Errorf("%s command line %q lacks %q", guest, cmdline, w)
			}
		}
		for _, w := range nets {
			if !nic && strings.Contains(cmdline, w) {
				t.Errorf("%s command line %q has %q though the unikernel declares no NIC", guest, cmdline, w)
			}
		}
		if p := r.rep.Paths["/urunc/block"]; !p.Exists || !p.Writable {
			t.Errorf("block image at /urunc/block: %+v, want present and writable by the VMM", p)
		}
	}
}

// siSeccompApplies: the container's seccomp profile is installed before
// the launcher, so it confines the VMM too (solo5-hvt has no filter of its
// own). The bundle gets a profile that allows everything but kexec_load.
func siSeccompApplies(t *testing.T, r siRun) {
	if r.rep.Status["Seccomp"] != "2" {
		t.Errorf("VMM Seccomp mode %q, want 2 (filter) from the container's profile", r.rep.Status["Seccomp"])
	}
}

// siCheckFilter: urunc's own filter (internal/vmmseccomp) is installed, on
// top of the container's profile, exactly for the VMMs that have none of
// their own, and it denies what no VMM needs (a TCP socket); for the
// others the same call goes through.
func siCheckFilter(t *testing.T, r siRun, spec *specs.Spec, filtered bool) {
	t.Helper()
	want := 0
	if spec.Linux.Seccomp != nil {
		want++
	}
	wantSocket := "ok"
	if filtered {
		want++
		wantSocket = "operation not permitted"
	}
	if got := r.rep.Status["Seccomp_filters"]; got != strconv.Itoa(want) {
		t.Errorf("VMM has %s seccomp filters, want %d (filtered by urunc: %v)", got, want, filtered)
	}
	if r.rep.Socket != wantSocket {
		t.Errorf("socket(AF_INET, SOCK_STREAM) in the VMM: %q, want %q", r.rep.Socket, wantSocket)
	}
}

// siRunsAsUser: the VMM runs as the container's non-root user (without
// capabilities, which siCheckCaps checks); when the guest has a NIC, the
// common checks saw it attach to its tap, which urunc made for that user.
func siRunsAsUser(t *testing.T, r siRun) {
	if r.rep.UID != siUser {
		t.Errorf("VMM uid %d, want %d", r.rep.UID, siUser)
	}
}

// siRealLinux boots the hello app under the real VMM and waits for its
// line on the console.
func siRealLinux(hypervisor string) func(*testing.T, *env, string) {
	return func(t *testing.T, e *env, bin string) {
		siConfig(t, e, hypervisor, bin, "/dev/kvm")
		r := e.runtime(t)
		b := siLinuxBundle(hypervisor)(t, e)
		id := "si-real-" + hypervisor
		out, _, _ := siCreateStart(t, r, b.write(), id)
		waitFor(t, out, "hello from guest", 90*time.Second)
		r.ok("delete", "--force", id)
	}
}

// siRealSolo5 boots a real Solo5 unikernel given by
// URUNC_SOLO5_<HVT|SPT>_KERNEL: Solo5's tests/test_hello built for that
// tender, which prints SUCCESS and exits 0. No such binary can be made
// here; without one the variant skips.
func siRealSolo5(hypervisor string) func(*testing.T, *env, string) {
	return func(t *testing.T, e *env, bin string) {
		key := "URUNC_SOLO5_" + strings.ToUpper(hypervisor) + "_KERNEL"
		kernel := os.Getenv(key)
		if kernel == "" {
			t.Skipf("%s not set: the real %s variant needs a Solo5 test_hello unikernel built for it", key, hypervisor)
		}
		siConfig(t, e, hypervisor, bin, "/dev/kvm")
		r := e.runtime(t)
		b := newBundle(t, baseSpec("mirage"))
		copyFile(t, kernel, b.rootfs("unikernel"), 0o644)
		b.spec.Annotations = map[string]string{
			"com.urunc.unikernel.unikernelType": "mirage",
			"com.urunc.unikernel.hypervisor":    hypervisor,
			"com.urunc.unikernel.binary":        "/unikernel",
		}
		id := "si-real-" + hypervisor
		out, _, _ := siCreateStart(t, r, b.write(), id)
		r.waitStatus(id, "stopped", 30*time.Second)
		waitFor(t, out, "SUCCESS", time.Second)
		r.ok("delete", id)
	}
}

// siKeys returns m's keys, sorted.
func siKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// When urunc cannot install its hvt filter (here the container's profile
// forbids seccomp(2) and prctl(2), libseccomp's two ways to load one), the
// tender must not run unconfined: the launcher
// says why on the container's stderr, no VMM runs, and delete leaves
// nothing.
func TestStandinHVTFilterRefused(t *testing.T) {
	e := setup(t, false)
	dir := siInstallStandin(t)
	bin := filepath.Join(dir, "solo5-hvt")
	siConfig(t, e, "hvt", bin, siKVM(t))
	r := e.runtime(t)
	b := siSolo5Bundle("hvt", "rumprun", solo5elf.TargetHVT, false)(t, e)
	b.spec.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"seccomp", "prctl"}, Action: specs.ActErrno}},
	}
	out, errOut, _ := siCreateStart(t, r, b.write(), "hvt-nofilter")
	r.waitStatus("hvt-nofilter", "stopped", 30*time.Second)
	if got, _ := os.ReadFile(out); len(got) != 0 {
		t.Errorf("the stand-in ran without urunc's filter; it printed %s", got)
	}
	if msg, _ := os.ReadFile(errOut); !strings.Contains(string(msg), "seccomp solo5-hvt") || !strings.Contains(string(msg), "[hvt] seccomp") {
		t.Errorf("container stderr %q does not say the filter could not be installed", msg)
	}
	r.ok("delete", "hvt-nofilter")
	if left := processesOf(dir); len(left) > 0 {
		t.Errorf("stand-in processes left: %v", left)
	}
	r.assertClean()
}

// On a host without KVM, the VMMs with no emulator are refused at create,
// naming the VMM and the setting, whatever [vm] accel says, and nothing
// is left behind.
func TestStandinKVMOnlyWithoutKVM(t *testing.T) {
	e := setup(t, false)
	dir := siInstallStandin(t)
	for _, c := range siCases {
		if c.vmm == "spt" || c.config != "" || c.noNIC {
			continue // spt needs no KVM; one case per VMM is enough
		}
		t.Run(c.name, func(t *testing.T) {
			siConfig(t, e, c.vmm, filepath.Join(dir, c.binary), filepath.Join(t.TempDir(), "no-kvm"),
				"[vm]\naccel = \"tcg\"\n")
			r := e.runtime(t)
			res := r.urunc("create", "--bundle", c.bundle(t, e).write(), "nokvm-"+c.name)
			lines := nonEmptyLines(res.stderr)
			if res.code == 0 || len(lines) != 1 || !strings.Contains(lines[0], "kvm_device") ||
				!strings.Contains(lines[0], c.vmm+" has no emulator") {
				t.Errorf("create of %s without kvm: exit %d, stderr %q; want one line naming %s and [host] kvm_device",
					c.vmm, res.code, res.stderr, c.vmm)
			}
		})
	}
}
