package launcher

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

func linuxPlan(v vmm.Name, format vmm.KernelFormat) Plan {
	return Plan{
		VMM: v,
		Spec: vmm.Spec{Binary: "/usr/bin/vmm", Kernel: "/urunc/kernel", KernelFormat: format, Initrd: "/urunc/initrd",
			MemoryMiB: 128, VCPUs: 1, Accel: vmm.AccelKVM, RunDir: "/urunc/run"},
		Guest:         guest.Linux,
		GuestSpec:     guest.Spec{Args: []string{"/app"}},
		ExtraCmdline:  "loglevel=7",
		AgentSocket:   "/urunc/run/agent.sock",
		ControlSocket: "/urunc/run/control.sock",
	}
}

var testNet = &Network{Interface: "eth0", Tap: "urunc0a0b0c0d", MAC: "02:42:0a:04:00:05",
	IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", MTU: 1500, DNS: []string{"10.4.0.1"}}

var testNet6 = &Network{Interface: "eth0", Tap: "urunc0a0b0c0d", MAC: "02:42:0a:04:00:05",
	IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", MTU: 1500, DNS: []string{"fd00:4::53", "10.4.0.1"},
	IP6: "fd00:4::5", PrefixLen6: 64, Gateway6: "fe80::1"}

func TestArgv(t *testing.T) {
	cases := []struct {
		name      string
		plan      Plan
		net       *Network
		want, not []string
	}{
		{"qemu with network and channels", linuxPlan(vmm.QEMU, vmm.FormatBzImage), testNet,
			[]string{"ifname=urunc0a0b0c0d", "mac=02:42:0a:04:00:05", "ip=10.4.0.5::10.4.0.1:255.255.255.0::eth0:off:10.4.0.1",
				"loglevel=7", "isa-debug-exit", "path=/urunc/run/agent.sock", "name=urunc.agent",
				"urunit.agent=virtio-serial loglevel=7"}, nil},
		{"qemu with a dual-stack network", linuxPlan(vmm.QEMU, vmm.FormatBzImage), testNet6,
			[]string{"ifname=urunc0a0b0c0d", "ip=10.4.0.5::10.4.0.1:255.255.255.0::eth0:off:10.4.0.1 urunit.mtu=1500",
				"urunit.ip6=fd00:4::5/64,fe80::1 urunit.dns6=fd00:4::53"}, nil},
		{"qemu with an IPv6-only network", linuxPlan(vmm.QEMU, vmm.FormatBzImage),
			&Network{Interface: "eth0", Tap: "urunc0a0b0c0d", MAC: "02:42:0a:04:00:05", MTU: 1500, IP6: "fd00:4::5", PrefixLen6: 64},
			[]string{"ifname=urunc0a0b0c0d", "urunit.mtu=1500 urunit.ip6=fd00:4::5/64"}, []string{"ip=", "urunit.dns6"}},
		{"qemu without network", linuxPlan(vmm.QEMU, vmm.FormatBzImage), nil,
			[]string{"isa-debug-exit"}, []string{"-netdev", "ip="}},
		{"cloud-hypervisor has no exit device, its agent channel is vsock", linuxPlan(vmm.CloudHypervisor, vmm.FormatPVH), testNet,
			[]string{"tap=urunc0a0b0c0d", "ip=10.4.0.5", "cid=3,socket=/urunc/run/agent.sock", "urunit.agent=vsock"},
			[]string{"isa-debug-exit", "control.sock"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			argv, err := Argv(tc.plan, tc.net)
			if err != nil {
				t.Fatal(err)
			}
			joined := strings.Join(argv, " ")
			for _, w := range tc.want {
				if !strings.Contains(joined, w) {
					t.Errorf("argv lacks %q:\n%s", w, joined)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(joined, n) {
					t.Errorf("argv has %q:\n%s", n, joined)
				}
			}
		})
	}
}

func TestTakesNet(t *testing.T) {
	net := vmm.Solo5Device{Name: "service", Type: vmm.Solo5NetBasic}
	blk := vmm.Solo5Device{Name: "storage", Type: vmm.Solo5BlockBasic}
	for name, tc := range map[string]struct {
		spec vmm.Spec
		want bool
	}{
		"not solo5":           {vmm.Spec{}, true},
		"solo5 with a nic":    {vmm.Spec{Solo5: &vmm.Solo5Manifest{Devices: []vmm.Solo5Device{blk, net}}}, true},
		"solo5 without a nic": {vmm.Spec{Solo5: &vmm.Solo5Manifest{Devices: []vmm.Solo5Device{blk}}}, false},
	} {
		if got := takesNet(tc.spec); got != tc.want {
			t.Errorf("%s: takesNet = %v, want %v", name, got, tc.want)
		}
	}
}

// TestArgvLinuxCmdlineOrder: the image's cmdline comes first, urunc's
// parameters after it and the host's kernel_args last; a line the kernel
// would cut (and so lose the host's parameters at its end) is refused.
func TestArgvLinuxCmdlineOrder(t *testing.T) {
	for _, tc := range []struct {
		name, image, extra string
		wantErr            bool
	}{
		{"image, urunc, host", "console=tty0 loglevel=8", "loglevel=7", false},
		{"long image line that fits", strings.Repeat("a", guest.LinuxMaxCmdline-400), "loglevel=7", false},
		{"kernel_args pushed past the limit", "x=" + strings.Repeat("a", guest.LinuxMaxCmdline-250), strings.Repeat("b", 200), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := linuxPlan(vmm.QEMU, vmm.FormatBzImage)
			p.GuestSpec.Cmdline, p.ExtraCmdline = tc.image, tc.extra
			argv, err := Argv(p, testNet)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "kernel_args") {
					t.Fatalf("Argv error = %v, want one naming kernel_args", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var cmdline string
			for i, a := range argv {
				if a == "-append" {
					cmdline = argv[i+1]
				}
			}
			img, rd, extra := strings.Index(cmdline, tc.image), strings.Index(cmdline, "rdinit="), strings.LastIndex(cmdline, tc.extra)
			if img != 0 || rd < img || extra < rd || !strings.HasSuffix(cmdline, tc.extra) {
				t.Errorf("cmdline %q: want the image's first, urunc's next, kernel_args last", cmdline)
			}
		})
	}
}

// TestArgvFile: the launcher's record of the VMM's final argv is the argv
// Argv computes for the plan and network in its folder, names the config
// files it wrote, is 0600 even over an older, wider file, and is what
// Describe (urunc start's debug log) reports.
func TestArgvFile(t *testing.T) {
	share, run := t.TempDir(), t.TempDir()
	p := linuxPlan(vmm.Firecracker, vmm.FormatPVH)
	p.Spec.RunDir = run
	writeJSONFile(t, filepath.Join(share, PlanFile), p)
	writeJSONFile(t, filepath.Join(share, NetworkFile), testNet)
	stale := filepath.Join(run, ArgvFile)
	if err := os.WriteFile(stale, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}

	l, err := prepare(share, Boot{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.writeFiles(); err != nil {
		t.Fatal(err)
	}
	if len(l.files) == 0 {
		t.Fatal("firecracker plan: no config files, want its JSON")
	}
	rec := checkArgvFile(t, p, testNet, l.files)
	desc, err := Describe(share)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(desc.Argv, rec.Argv) || !slices.Equal(desc.ConfigFiles, rec.ConfigFiles) || desc.VMM != rec.VMM {
		t.Errorf("Describe = %+v, want the written record %+v", desc, rec)
	}

	t.Run("no run folder", func(t *testing.T) {
		p := linuxPlan(vmm.QEMU, vmm.FormatBzImage)
		p.Spec.RunDir = ""
		l, err := newLaunch(p, nil, Boot{})
		if err != nil {
			t.Fatal(err)
		}
		t.Chdir(t.TempDir())
		if err := l.writeFiles(); err != nil {
			t.Fatalf("writeFiles without RunDir: %v, want nothing written and no error", err)
		}
		if ents, _ := os.ReadDir("."); len(ents) > 0 {
			t.Errorf("wrote %v without a run folder", ents)
		}
	})

	t.Run("unwritable run folder", func(t *testing.T) {
		p := linuxPlan(vmm.QEMU, vmm.FormatBzImage)
		p.Spec.RunDir = filepath.Join(t.TempDir(), "missing")
		l, err := newLaunch(p, nil, Boot{})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.writeFiles(); err == nil || !strings.Contains(err.Error(), ArgvFile) {
			t.Errorf("writeFiles into a missing folder: %v, want an error naming %s", err, ArgvFile)
		}
	})
}

// checkArgvFile checks the ArgvFile the launcher wrote for plan p and
// network n (0600, Argv's argv, the config files' paths) and that the run
// folder holds nothing else than it and those files.
func checkArgvFile(t *testing.T, p Plan, n *Network, files []vmm.File) Record {
	t.Helper()
	path := filepath.Join(p.Spec.RunDir, ArgvFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("%s not written: %v", ArgvFile, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want a regular file, 0600", path, fi.Mode())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
	want, err := Argv(p, n)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Argv, want) {
		t.Errorf("%s argv:\n%q\nwant Argv's:\n%q", ArgvFile, rec.Argv, want)
	}
	if rec.VMM != p.VMM {
		t.Errorf("%s vmm %q, want %q", ArgvFile, rec.VMM, p.VMM)
	}
	names := []string{ArgvFile}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
		names = append(names, filepath.Base(f.Path))
	}
	if !slices.Equal(rec.ConfigFiles, paths) {
		t.Errorf("%s configFiles %q, want the files written %q", ArgvFile, rec.ConfigFiles, paths)
	}
	ents, err := os.ReadDir(p.Spec.RunDir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	slices.Sort(names)
	if !slices.Equal(got, names) {
		t.Errorf("run folder holds %q, want only %q (no temporary file left)", got, names)
	}
	return rec
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestWriteConfigFiles: the launcher writes exactly the files ConfigFiles
// returns, with their modes, into the run folder (Firecracker's JSON), and
// the argv record naming them.
func TestWriteConfigFiles(t *testing.T) {
	p := linuxPlan(vmm.Firecracker, vmm.FormatPVH)
	p.Spec.RunDir = t.TempDir()
	files, err := ConfigFiles(p, testNet)
	if err != nil || len(files) == 0 {
		t.Fatalf("ConfigFiles: %d files, %v; want Firecracker's config", len(files), err)
	}
	l, err := newLaunch(p, testNet, Boot{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.writeFiles(); err != nil {
		t.Fatalf("writeFiles: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f.Path)
		if err != nil {
			t.Errorf("config file not written: %v", err)
			continue
		}
		if !bytes.Equal(data, f.Data) {
			t.Errorf("%s: written content differs from ConfigFiles", f.Path)
		}
		if fi, err := os.Stat(f.Path); err == nil && fi.Mode().Perm() != f.Mode.Perm() {
			t.Errorf("%s: mode %04o, want %04o", f.Path, fi.Mode().Perm(), f.Mode.Perm())
		}
	}
	checkArgvFile(t, p, testNet, files)
}

// TestInvalidPairRefused: a plan edited (or written by an older urunc) to
// boot a guest on a VMM that cannot run it fails in the launcher too.
func TestInvalidPairRefused(t *testing.T) {
	p := linuxPlan(vmm.HVT, vmm.FormatPVH)
	argv, err := Argv(p, testNet)
	if !errors.Is(err, vmm.ErrNotSupported) || !strings.Contains(err.Error(), "hvt") {
		t.Fatalf("Argv = %q, %v; want an error wrapping vmm.ErrNotSupported naming hvt", argv, err)
	}
}
