package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/config"
	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/launcher"
	"github.com/urunc-runtime/urunc/internal/unikernel"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

var update = flag.Bool("update", false, "rewrite testdata/pairs/*.golden from the current output (and remove stale ones)")

// pairsDir holds one golden per VMM × guest-type case:
// <vmm>-<guest>[-<variant>].golden. Each holds the launcher's argv, one
// argument per line, then, for a VMM that reads config files, each file as
// a "--- file <path> (mode <perm>)" line followed by its content.
var pairsDir = filepath.Join("testdata", "pairs")

// bundleCase is an OCI bundle for a VMM × guest-type pair and the host it
// is planned on. variant is "" for the pair's main form, else a suffix
// naming another form.
type bundleCase struct {
	variant string
	// ann are the image's unikernel annotations; every path they name is
	// created in the rootfs.
	ann     map[string]string
	process specs.Process
	spec    func(t *testing.T, s *specs.Spec, h *HostFacts) // optional
	host    func(h *HostFacts)                              // optional
}

// testNet is the network start would find in the container's namespace.
var testNet = &launcher.Network{Interface: "eth0", Tap: "urunc0a0b0c0d", MAC: "02:42:0a:04:00:05",
	IP: "10.4.0.5", PrefixLen: 24, Gateway: "10.4.0.1", MTU: 1500, DNS: []string{"10.4.0.1"}}

// pairFixtures gives the bundles of each guest type on VMM v. A guest
// type without a fixture fails TestPairGolden for every VMM that runs it.
var pairFixtures = map[guest.Type]func(v vmm.Name) []bundleCase{
	guest.Linux:    linuxCases,
	guest.Unikraft: unikraftCases,
	guest.Rumprun:  rumprunCases,
	guest.Mirage:   mirageCases,
	guest.Mewz:     mewzCases,
	guest.Hermit:   hermitCases,
}

// annotations are the keys every image sets, plus extra ones.
func annotations(v vmm.Name, g guest.Type, extra ...string) map[string]string {
	a := map[string]string{unikernel.KeyHypervisor: string(v), unikernel.KeyType: string(g), unikernel.KeyBinary: "/kernel"}
	for i := 0; i+1 < len(extra); i += 2 {
		a[extra[i]] = extra[i+1]
	}
	return a
}

func proc(args []string, env ...string) specs.Process {
	return specs.Process{Args: args, Env: env, Cwd: "/"}
}

// kernel sets what inspecting the image's kernel finds.
func kernel(f vmm.KernelFormat) func(h *HostFacts) {
	return func(h *HostFacts) { h.Kernel.Format = f }
}

// solo5 sets the Solo5 manifest found in a kernel built for tender v.
func solo5(v vmm.Name, f vmm.KernelFormat, devs ...vmm.Solo5Device) func(h *HostFacts) {
	return func(h *HostFacts) {
		h.Kernel.Format = f
		h.Kernel.Solo5 = vmm.Solo5Manifest{Target: vmm.Solo5Target(v), ABIVersion: 2, Devices: devs}
	}
}

// linuxCases: urunit in the initramfs built of the rootfs, the control
// socket, a bzImage on QEMU and the vmlinux (PVH ELF) elsewhere, and the
// image's block file attached.
func linuxCases(v vmm.Name) []bundleCase {
	format := vmm.FormatPVH
	if v == vmm.QEMU {
		format = vmm.FormatBzImage
	}
	nginx := proc([]string{"/usr/sbin/nginx", "-g", "daemon off;"},
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.27.0")
	plain := bundleCase{ann: annotations(v, guest.Linux, unikernel.KeyBlock, "/data.img"), process: nginx, host: kernel(format)}
	cases := []bundleCase{plain}
	if v != vmm.QEMU {
		return cases
	}
	// mountRootfs and a read-only volume over 9p, which needs a kernel
	// with a 9p client: the uncompressed vmlinux.
	ninep := bundleCase{variant: "9p", ann: annotations(v, guest.Linux, unikernel.KeyMountRootfs, "true"), process: nginx,
		spec: func(t *testing.T, s *specs.Spec, h *HostFacts) {
			src := t.TempDir()
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Source: src, Type: "bind", Options: []string{"rbind", "ro"}})
			h.Folders[src] = true
		},
		host: func(h *HostFacts) { h.Kernel.Format, h.Kernel.NineP = vmm.FormatPVH, true }}
	// A block-backed rootfs: the snapshotter's device becomes vda,
	// before the image's block file.
	blockRoot := plain
	blockRoot.variant = "blockroot"
	blockRoot.host = func(h *HostFacts) {
		h.Kernel.Format = format
		h.BlockRoot = &BlockRoot{Device: "/dev/loop3", FSType: "ext4"}
	}
	// No KVM: TCG, and microvm has no timer to calibrate the TSC against.
	tcg := bundleCase{variant: "tcg", ann: annotations(v, guest.Linux), process: nginx,
		host: func(h *HostFacts) { h.Kernel.Format, h.KVM, h.HWVirt = format, false, false }}
	return append(cases, ninep, blockRoot, tcg)
}

// unikraftCases: a multiboot kernel on QEMU, the Linux-boot ELF on
// Firecracker; Unikraft 0.16+ (netdev.ip=, env.vars) and the older form
// (netdev.ipv4_*, no environment); the image's rootfs archive as initrd.
func unikraftCases(v vmm.Name) []bundleCase {
	format := vmm.FormatELF
	if v == vmm.QEMU {
		format = vmm.FormatMultiboot
	}
	c := func(variant, version string) bundleCase {
		return bundleCase{variant: variant,
			ann:     annotations(v, guest.Unikraft, unikernel.KeyInitrd, "/rootfs.cpio", unikernel.KeyVersion, version),
			process: proc([]string{"/nginx", "-c", "/nginx/conf/nginx.conf"}, "PATH=/bin", "GREETING=hello world"),
			host:    kernel(format)}
	}
	return []bundleCase{c("", "0.17.0"), c("legacy", "0.15.0")}
}

// rumprunCases: a Solo5 unikernel declaring a block device (the image's
// block file, mounted at /data) and a NIC; and one declaring no NIC, which
// gets none although the container has a network.
func rumprunCases(v vmm.Name) []bundleCase {
	blk := vmm.Solo5Device{Name: "rootfs", Type: vmm.Solo5BlockBasic}
	nic := vmm.Solo5Device{Name: "service", Type: vmm.Solo5NetBasic}
	c := func(variant string, devs ...vmm.Solo5Device) bundleCase {
		return bundleCase{variant: variant,
			ann:     annotations(v, guest.Rumprun, unikernel.KeyBlock, "/data.img", unikernel.KeyBlkMntPoint, "/data"),
			process: proc([]string{"/redis-server", "/data/conf/redis.conf"}, "HOME=/data"),
			host:    solo5(v, vmm.FormatELF, devs...)}
	}
	return []bundleCase{c("", blk, nic), c("no-nic", blk)}
}

// mirageCases: the virtio target (multiboot) on QEMU, the Solo5 targets
// on hvt and spt; a NIC and a block device everywhere.
func mirageCases(v vmm.Name) []bundleCase {
	c := bundleCase{ann: annotations(v, guest.Mirage, unikernel.KeyBlock, "/disk.img"),
		process: proc([]string{"/unikernel", "--hello=Hello World", "-l", "*:debug"}), host: kernel(vmm.FormatMultiboot)}
	if v == vmm.HVT || v == vmm.SPT {
		c.host = solo5(v, vmm.FormatELF,
			vmm.Solo5Device{Name: "service", Type: vmm.Solo5NetBasic},
			vmm.Solo5Device{Name: "storage", Type: vmm.Solo5BlockBasic})
	}
	return []bundleCase{c}
}

// mewzCases: a multiboot kernel with the Wasm application compiled in.
func mewzCases(v vmm.Name) []bundleCase {
	return []bundleCase{{ann: annotations(v, guest.Mewz), process: proc([]string{"/http_server.wasm", "--port=1234"}),
		host: kernel(vmm.FormatMultiboot)}}
}

// hermitCases: Hermit's loader (multiboot) as the kernel and the
// application as the initrd; current kernels (env= words) and pre-0.9 ones.
func hermitCases(v vmm.Name) []bundleCase {
	c := func(variant, version string) bundleCase {
		ann := annotations(v, guest.Hermit, unikernel.KeyInitrd, "/httpd")
		if version != "" {
			ann[unikernel.KeyVersion] = version
		}
		return bundleCase{variant: variant, ann: ann, process: proc([]string{"/httpd", "--port", "9975"}, "RUST_LOG=info"),
			host: kernel(vmm.FormatMultiboot)}
	}
	return []bundleCase{c("", ""), c("legacy", "0.8.0")}
}

// kvmHost is the host of every case unless it says otherwise: every VMM
// installed where the default configuration looks, a CPU with vmx and a
// usable KVM device, seccomp support.
func kvmHost(cfg *config.Config) HostFacts {
	h := HostFacts{Binaries: map[vmm.Name]string{}, KVM: true, HWVirt: true, TSCkHz: 2995200, Seccomp: true,
		Folders: map[string]bool{}}
	for _, n := range vmm.Supported() {
		h.Binaries[n] = cfg.VMMBinary(n)
	}
	return h
}

// loadBundle writes the case as an OCI bundle (config.json and a rootfs
// holding the files the annotations name), reads it back as urunc's
// create does, and returns the planner's input.
func loadBundle(t *testing.T, c bundleCase) Input {
	t.Helper()
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	for _, k := range []string{unikernel.KeyBinary, unikernel.KeyInitrd, unikernel.KeyBlock} {
		if p, ok := c.ann[k]; ok {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(rootfs, p)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(rootfs, p), []byte("image file"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := config.Default()
	host := kvmHost(cfg)
	s := &specs.Spec{Version: specs.Version, Root: &specs.Root{Path: "rootfs"}, Process: &c.process, Annotations: c.ann,
		Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}}}}
	if c.spec != nil {
		c.spec(t, s, &host)
	}
	if c.host != nil {
		c.host(&host)
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	var back specs.Spec
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	meta, err := unikernel.Load(back.Annotations, rootfs)
	if err != nil {
		t.Fatalf("unikernel.Load: %v", err)
	}
	return Input{Meta: meta, Spec: &back, Config: cfg, Host: host}
}

// goldenName is the golden's base name for a case of pair v × g.
func goldenName(v vmm.Name, g guest.Type, variant string) string {
	name := string(v) + "-" + string(g)
	if variant != "" {
		name += "-" + variant
	}
	return name
}

type pairCase struct {
	v vmm.Name
	g guest.Type
	c bundleCase
}

// validPairCases returns every case of every valid pair, keyed by golden
// name, failing t for a valid pair without a fixture.
func validPairCases(t *testing.T) map[string]pairCase {
	t.Helper()
	out := map[string]pairCase{}
	for _, v := range vmm.Supported() {
		for _, g := range guest.Supported() {
			if vmm.ValidGuest(v, string(g)) != nil {
				continue
			}
			fixture, ok := pairFixtures[g]
			if !ok {
				t.Errorf("%s runs %s guests but there is no fixture: add one to pairFixtures", v, g)
				continue
			}
			cases := fixture(v)
			if len(cases) == 0 {
				t.Errorf("fixture for %s gives no case on %s", g, v)
			}
			for _, c := range cases {
				name := goldenName(v, g, c.variant)
				if _, dup := out[name]; dup {
					t.Fatalf("two cases named %s", name)
				}
				out[name] = pairCase{v, g, c}
			}
		}
	}
	return out
}

// TestPairGolden plans every valid VMM × guest-type bundle and compares
// the launcher's argv and config files with testdata/pairs.
func TestPairGolden(t *testing.T) {
	cases := validPairCases(t)
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		pc := cases[name]
		t.Run(name, func(t *testing.T) {
			res, err := Plan(loadBundle(t, pc.c))
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if res.Plan.VMM != pc.v || res.Plan.Guest != pc.g {
				t.Fatalf("planned %s on %s, want %s on %s", res.Plan.Guest, res.Plan.VMM, pc.g, pc.v)
			}
			checkPairGolden(t, name, renderPair(t, res.Plan, testNet))
		})
	}
}

// renderPair is the golden text of a plan: the launcher's argv, then the
// config files of the VMM it would exec.
func renderPair(t *testing.T, p launcher.Plan, n *launcher.Network) []byte {
	t.Helper()
	argv, err := launcher.Argv(p, n)
	if err != nil {
		t.Fatalf("Argv: %v", err)
	}
	var b bytes.Buffer
	for i, a := range argv {
		if strings.ContainsAny(a, "\n\r") {
			t.Errorf("argv[%d] %q has a line break: the golden cannot hold it", i, a)
		}
		b.WriteString(a + "\n")
	}
	files, err := launcher.ConfigFiles(p, n)
	if err != nil {
		t.Fatalf("ConfigFiles: %v", err)
	}
	for _, f := range files {
		fmt.Fprintf(&b, "--- file %s (mode %04o)\n", f.Path, f.Mode.Perm())
		b.Write(f.Data)
		if !bytes.HasSuffix(f.Data, []byte("\n")) {
			b.WriteString("\n")
		}
	}
	return b.Bytes()
}

// checkPairGolden compares data with testdata/pairs/<name>.golden, or
// writes it with -update.
func checkPairGolden(t *testing.T, name string, data []byte) {
	t.Helper()
	path := filepath.Join(pairsDir, name+".golden")
	if *update {
		if err := os.MkdirAll(pairsDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./internal/planner -update): %v", err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("%s differs (run go test ./internal/planner -update if the change is intended):\n--- got\n%s--- want\n%s",
			path, data, want)
	}
}

// TestPairGoldenNoStale fails for a golden that no case produces: most
// likely a pair that pairs.go no longer allows. -update removes them.
func TestPairGoldenNoStale(t *testing.T) {
	cases := validPairCases(t)
	files, err := filepath.Glob(filepath.Join(pairsDir, "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".golden")
		if _, ok := cases[name]; ok {
			continue
		}
		if *update {
			if err := os.Remove(f); err != nil {
				t.Error(err)
			}
			continue
		}
		t.Errorf("stale golden %s: no case produces it (delete it, or run go test ./internal/planner -update)", f)
	}
}

// TestInvalidPairsRejected: a bundle for a pair pairs.go does not allow is
// refused at planning, naming the hypervisor key and the VMMs that do run
// the guest.
func TestInvalidPairsRejected(t *testing.T) {
	for _, v := range vmm.Supported() {
		for _, g := range guest.Supported() {
			if vmm.ValidGuest(v, string(g)) == nil {
				continue
			}
			t.Run(string(v)+"-"+string(g), func(t *testing.T) {
				valid := vmm.GuestVMMs(string(g))
				c := pairFixtures[g](valid[0])[0]
				c.ann[unikernel.KeyHypervisor] = string(v)
				_, err := Plan(loadBundle(t, c))
				if !errors.Is(err, vmm.ErrNotSupported) {
					t.Fatalf("Plan: %v, want an error wrapping vmm.ErrNotSupported", err)
				}
				for _, want := range append([]string{unikernel.KeyHypervisor, string(g), string(v)}, names(valid)...) {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %q", err, want)
					}
				}
			})
		}
	}
}

func names(ns []vmm.Name) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = string(n)
	}
	return out
}
