package hostcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/urunc-runtime/urunc/internal/config"
	"github.com/urunc-runtime/urunc/internal/vmm"
	"github.com/urunc-runtime/urunc/internal/vmmseccomp"
)

// fakeHost is a host where everything works; cases break one thing.
type fakeHost struct {
	missing  map[string]error // path -> error for Executable/OpenRW/Static
	dynamic  bool
	hwVirt   bool
	kvm      bool
	tc       error
	sandbox  error
	seccomp  bool
	unbuilt  bool // urunc built without libseccomp
	versions map[string]error
}

func goodHost() *fakeHost {
	return &fakeHost{missing: map[string]error{}, versions: map[string]error{}, hwVirt: true, kvm: true, seccomp: true}
}

func (f *fakeHost) host() Host {
	return Host{
		Executable: func(p string) error { return f.missing[p] },
		Version: func(p string) (string, error) {
			if err := f.versions[p]; err != nil {
				return "", err
			}
			return "v1.0 of " + p, nil
		},
		OpenRW:        func(p string) error { return f.missing[p] },
		HWVirt:        func() bool { return f.hwVirt },
		KVMUsable:     func(p string) bool { return f.kvm && p == kvmDevice },
		TC:            func() error { return f.tc },
		Static:        func(p string) (bool, error) { return !f.dynamic, f.missing[p] },
		OwnSandbox:    func(string) error { return f.sandbox },
		KernelSeccomp: func() bool { return f.seccomp },
		SeccompBuilt:  func() bool { return !f.unbuilt },
	}
}

func testConfig() *config.Config {
	c := config.Default()
	c.Path = "/etc/urunc/config.toml"
	return c
}

// kvmDevice is [host] kvm_device's default, the KVM check's item.
const kvmDevice = vmm.KVMDevice

func notExist(p string) error { return &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist} }

func find(t *testing.T, rs []Result, item string) Result {
	t.Helper()
	for _, r := range rs {
		if r.Item == item {
			return r
		}
	}
	t.Fatalf("no %q in %+v", item, rs)
	return Result{}
}

func TestRun(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*fakeHost, *config.Config)
		item   string
		status Status
		fix    string // substring of Fix, "" for none
		passed bool
	}{
		{"all good", func(*fakeHost, *config.Config) {}, "vmm qemu", OK, "", true},
		{"qemu missing", func(f *fakeHost, c *config.Config) {
			f.missing[c.VMMBinary(vmm.QEMU)] = notExist(c.VMMBinary(vmm.QEMU))
		},
			"vmm qemu", Missing, "apt-get install qemu-system-x86, or set [qemu] binary in /etc/urunc/config.toml", false},
		{"firecracker missing is optional", func(f *fakeHost, c *config.Config) {
			f.missing[c.VMMBinary(vmm.Firecracker)] = notExist("")
		}, "vmm firecracker", Missing, "or set [firecracker] binary in /etc/urunc/config.toml", true},
		{"version fails", func(f *fakeHost, c *config.Config) {
			f.versions[c.VMMBinary(vmm.HVT)] = errors.New("exit status 1")
		}, "vmm hvt", Warn, "", true},
		{"cloud-hypervisor on a software kvm", func(f *fakeHost, _ *config.Config) { f.hwVirt = false },
			"vmm cloud-hypervisor", Warn, "VT-x", true},
		{"firecracker without kvm", func(f *fakeHost, _ *config.Config) { f.kvm = false },
			"vmm firecracker", Warn, "kvm_intel", true},
		{"hvt with kvm forced off for qemu", func(_ *fakeHost, c *config.Config) { c.VM.Accel = vmm.AccelTCG },
			"vmm hvt", OK, "", true},
		{"spt needs no kvm", func(f *fakeHost, _ *config.Config) { f.kvm = false }, "vmm spt", OK, "", true},
		{"kvm device configured elsewhere", func(f *fakeHost, c *config.Config) { c.Host.KVMDevice = "/run/t/kvm" },
			"vmm firecracker", Warn, "/run/t/kvm", true},
		{"auto on software kvm picks tcg", func(f *fakeHost, _ *config.Config) { f.hwVirt = false },
			"accelerator", Warn, `set [vm] accel = "kvm"`, true},
		{"no vmx/svm", func(f *fakeHost, _ *config.Config) { f.hwVirt = false }, "cpu virtualisation", Warn, "VT-x", true},
		{"kvm forced without /dev/kvm", func(f *fakeHost, c *config.Config) {
			f.kvm, c.VM.Accel = false, vmm.AccelKVM
			f.missing[kvmDevice] = notExist(kvmDevice)
		}, "accelerator", Missing, `accel = "tcg"`, false},
		{"no /dev/kvm under auto is not fatal", func(f *fakeHost, _ *config.Config) {
			f.kvm = false
			f.missing[kvmDevice] = notExist(kvmDevice)
		}, kvmDevice, Missing, "modprobe", true},
		{"/dev/kvm not openable", func(f *fakeHost, _ *config.Config) { f.missing[kvmDevice] = fs.ErrPermission },
			kvmDevice, Missing, "group kvm", true},
		{"no tun", func(f *fakeHost, _ *config.Config) { f.missing[tunDevice] = notExist(tunDevice) },
			tunDevice, Missing, "modprobe tun", false},
		{"no vhost-net is a warning", func(f *fakeHost, _ *config.Config) { f.missing[vhostNetDevice] = notExist("") },
			"vhost-net", Warn, "vhost_net", true},
		{"tc missing", func(f *fakeHost, _ *config.Config) { f.tc = errors.New("add ingress qdisc: no such file") },
			"tc redirect", Missing, "CONFIG_NET_CLS_U32", false},
		{"tc not probed", func(f *fakeHost, _ *config.Config) { f.tc = ErrCannotProbe },
			"tc redirect", Warn, "as root", true},
		{"urunit missing", func(f *fakeHost, c *config.Config) { f.missing[c.Linux.Urunit] = notExist("") },
			"urunit", Missing, "make install", false},
		{"urunit dynamic", func(f *fakeHost, _ *config.Config) { f.dynamic = true },
			"urunit", Missing, "CGO_ENABLED=0", false},
		{"sandbox rejected", func(f *fakeHost, _ *config.Config) { f.sandbox = errors.New("-sandbox is disabled") },
			"qemu sandbox", Missing, "libseccomp", false},
		{"kernel without seccomp", func(f *fakeHost, _ *config.Config) { f.seccomp = false },
			"qemu sandbox", Missing, "CONFIG_SECCOMP_FILTER", false},
		{"sandbox off is a warning", func(f *fakeHost, c *config.Config) {
			c.VMMs[vmm.QEMU].Sandbox, f.sandbox = false, errors.New("-sandbox is disabled")
		}, "qemu sandbox", Warn, "set [qemu] sandbox = true", true},
		{"hvt seccomp enforced", func(*fakeHost, *config.Config) {}, "hvt seccomp", OK, "", true},
		{"hvt seccomp without libseccomp", func(f *fakeHost, _ *config.Config) { f.unbuilt = true },
			"hvt seccomp", Missing, "-tags seccomp", true},
		{"hvt seccomp without kernel support", func(f *fakeHost, c *config.Config) {
			f.seccomp, c.VMMs[vmm.QEMU].Sandbox = false, false
		}, "hvt seccomp", Missing, `set [hvt] seccomp = "off"`, true},
		{"hvt seccomp in log mode", func(_ *fakeHost, c *config.Config) { c.VMMs[vmm.HVT].Seccomp = vmmseccomp.Log },
			"hvt seccomp", Warn, `set [hvt] seccomp = "enforce"`, true},
		{"hvt seccomp off", func(_ *fakeHost, c *config.Config) { c.VMMs[vmm.HVT].Seccomp = vmmseccomp.Off },
			"hvt seccomp", Warn, `set [hvt] seccomp = "enforce"`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, cfg := goodHost(), testConfig()
			c.mutate(f, cfg)
			rs := Run(cfg, f.host())
			r := find(t, rs, c.item)
			if r.Status != c.status {
				t.Errorf("%s: status %q, want %q (%s)", c.item, r.Status, c.status, r.Line())
			}
			if c.fix != "" && !strings.Contains(r.Fix, c.fix) {
				t.Errorf("%s: fix %q lacks %q", c.item, r.Fix, c.fix)
			}
			if got := Passed(rs); got != c.passed {
				t.Errorf("Passed = %v, want %v:\n%s", got, c.passed, text(t, rs))
			}
		})
	}
}

// The items come in a fixed order, QEMU first and the other VMMs sorted.
func TestRunOrder(t *testing.T) {
	var items []string
	for _, r := range Run(testConfig(), goodHost().host()) {
		items = append(items, r.Item)
	}
	// The VMMs that can run guests without KVM come first, then the others
	// in name order: today qemu, then the rest of the registry.
	want := []string{"vmm qemu"}
	for _, n := range vmm.Supported() {
		if n != "qemu" {
			want = append(want, "vmm "+string(n))
		}
	}
	want = append(want, kvmDevice, "cpu virtualisation", "accelerator", tunDevice, "vhost-net", "tc redirect", "urunit",
		"qemu sandbox", "hvt seccomp")
	if strings.Join(items, "|") != strings.Join(want, "|") {
		t.Errorf("items %q\nwant %q", items, want)
	}
}

func TestLine(t *testing.T) {
	cases := []struct {
		r    Result
		want string
	}{
		{Result{Item: "urunit", Status: OK, Detail: "/x: static", Fix: "ignored when ok"}, "ok       urunit: /x: static"},
		{Result{Item: "vhost-net", Status: Warn, Detail: "absent"}, "warn     vhost-net: absent"},
		{Result{Item: "vmm qemu", Status: Missing, Detail: "/q: gone", Fix: "install it"},
			"missing  vmm qemu: /q: gone — fix: install it"},
	}
	for _, c := range cases {
		if got := c.r.Line(); got != c.want {
			t.Errorf("Line() = %q, want %q", got, c.want)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	f := goodHost()
	f.tc = errors.New("no u32 <classifier>")
	var b bytes.Buffer
	if err := WriteJSON(&b, Run(testConfig(), f.host())); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Passed bool     `json:"passed"`
		Checks []Result `json:"checks"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if doc.Passed || len(doc.Checks) != 9+len(vmm.Supported()) || !strings.Contains(b.String(), "<classifier>") {
		t.Errorf("passed %v, %d checks, HTML kept as is: %s", doc.Passed, len(doc.Checks), b.String())
	}
	if r := find(t, doc.Checks, "tc redirect"); r.Status != Missing || !r.Needed {
		t.Errorf("tc redirect %+v, want missing and needed", r)
	}
}

func text(t *testing.T, rs []Result) string {
	var b bytes.Buffer
	if err := WriteText(&b, rs); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Every registered VMM gets an item, needed exactly when it can emulate,
// whose fix is its descriptor's install hint and its binary's key.
func TestVMMItemsFromDescriptors(t *testing.T) {
	f, cfg := goodHost(), testConfig()
	for _, n := range vmm.Supported() {
		f.missing[cfg.VMMBinary(n)] = notExist("")
	}
	rs := Run(cfg, f.host())
	for _, n := range vmm.Supported() {
		d, err := vmm.Describe(n)
		if err != nil {
			t.Fatal(err)
		}
		r := find(t, rs, "vmm "+string(n))
		emulates := false
		for _, a := range d.Accels {
			emulates = emulates || a == vmm.AccelTCG
		}
		wantFix := d.InstallHint + ", or set [" + string(n) + "] binary in " + cfg.Path
		if r.Status != Missing || r.Needed != emulates || r.Fix != wantFix {
			t.Errorf("%s: %+v; want missing, needed=%v, fix %q", n, r, emulates, wantFix)
		}
	}
	if Passed(rs) {
		t.Error("Passed with every VMM missing")
	}
}

// A configured binary is the one checked.
func TestVMMBinaryFromConfig(t *testing.T) {
	f, cfg := goodHost(), testConfig()
	cfg.VMMs[vmm.SPT].Binary = "/opt/spt"
	f.missing["/opt/spt"] = notExist("/opt/spt")
	if r := find(t, Run(cfg, f.host()), "vmm spt"); r.Status != Missing || !strings.HasPrefix(r.Detail, "/opt/spt:") {
		t.Errorf("vmm spt: %+v, want /opt/spt missing", r)
	}
}
