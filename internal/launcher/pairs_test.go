package launcher

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/urunc-dev/urunc/internal/guest"
	"github.com/urunc-dev/urunc/internal/vmm"
)

var update = flag.Bool("update", false, "rewrite testdata/pairs/*.golden from the current output (and remove stale ones)")

// pairsDir holds one golden per VMM × guest-type case:
// <vmm>-<guest>[-<variant>].golden. Each holds the launcher's argv, one
// argument per line, then, for a VMM that reads config files, each file as
// a "--- file <path> (mode <perm>)" line followed by its content.
var pairsDir = filepath.Join("testdata", "pairs")

// pairCase is one plan for a VMM × guest-type pair. variant is "" for the
// pair's main form, else a suffix naming another form the guest supports.
type pairCase struct {
	variant string
	plan    Plan
	net     *Network
}

// goldenName is the golden's base name for a case of pair v × g.
func goldenName(v vmm.Name, g guest.Type, variant string) string {
	name := string(v) + "-" + string(g)
	if variant != "" {
		name += "-" + variant
	}
	return name
}

// pairFixtures builds realistic plans, as internal/runtime/plan.go would
// for each VMM, per guest type. A guest type without a fixture fails
// TestPairGolden for every VMM that runs it.
var pairFixtures = map[guest.Type]func(t *testing.T, v vmm.Name) []pairCase{
	guest.Linux:    linuxCases,
	guest.Unikraft: unikraftCases,
	guest.Rumprun:  rumprunCases,
	guest.Mirage:   mirageCases,
	guest.Mewz:     mewzCases,
	guest.Hermit:   hermitCases,
}

// Where plan.go puts things inside the monitor root.
const (
	pairKernel  = "/urunc/kernel"
	pairInitrd  = "/urunc/initrd"
	pairBlock   = "/urunc/block"
	pairRunDir  = "/urunc/run"
	pairControl = pairRunDir + "/control.sock"
)

// pairBinaries are the default config's VMM executables
// (internal/config: [qemu] binary and [binaries]).
var pairBinaries = map[vmm.Name]string{
	vmm.QEMU:            "/usr/bin/qemu-system-x86_64",
	vmm.Firecracker:     "/usr/local/bin/firecracker",
	vmm.HVT:             "/usr/local/bin/solo5-hvt",
	vmm.SPT:             "/usr/local/bin/solo5-spt",
	vmm.CloudHypervisor: "/usr/local/bin/cloud-hypervisor",
}

// pairPlatforms mirrors plan.go's platforms table.
var pairPlatforms = map[vmm.Name]guest.Platform{
	vmm.QEMU: guest.PlatformQEMU, vmm.Firecracker: guest.PlatformFirecracker,
	vmm.HVT: guest.PlatformSolo5, vmm.SPT: guest.PlatformSolo5, vmm.CloudHypervisor: guest.PlatformCloudHypervisor,
}

// basePlan is what plan.go fills for every guest on v with the default
// configuration on a KVM host: 256 MiB, one vCPU, QEMU's own sandbox on.
func basePlan(t *testing.T, v vmm.Name, g guest.Type, format vmm.KernelFormat) Plan {
	t.Helper()
	bin, ok := pairBinaries[v]
	if !ok {
		t.Fatalf("no binary for VMM %q: add it to pairBinaries", v)
	}
	return Plan{
		VMM: v,
		Spec: vmm.Spec{
			Binary:       bin,
			Kernel:       pairKernel,
			KernelFormat: format,
			MemoryMiB:    256,
			VCPUs:        1,
			Accel:        vmm.AccelKVM,
			Sandbox:      v == vmm.QEMU,
			RunDir:       pairRunDir,
		},
		Guest:     g,
		GuestSpec: guest.Spec{Platform: pairPlatforms[v]},
	}
}

// solo5Manifest is the manifest plan.go reads from a unikernel built for
// tender v, declaring devs.
func solo5Manifest(v vmm.Name, devs ...vmm.Solo5Device) *vmm.Solo5Manifest {
	return &vmm.Solo5Manifest{Target: vmm.Solo5Target(v), ABIVersion: 2, Devices: devs}
}

func isSolo5(v vmm.Name) bool { return v == vmm.HVT || v == vmm.SPT }

// imageBlock attaches the image's block file (com.urunc.unikernel.block)
// as plan.go does, mounted by the guest at mnt ("" for none).
func imageBlock(p *Plan, mnt string) {
	p.Spec.Block = append(p.Spec.Block, vmm.BlockDevice{Path: pairBlock})
	p.GuestSpec.Block = &guest.Block{MountPoint: mnt}
}

// linuxCases: urunit in the initramfs plan.go builds, the control socket
// (linux serves it), a bzImage on QEMU and the vmlinux (PVH ELF) on
// Firecracker and Cloud Hypervisor; an image block file attached.
func linuxCases(t *testing.T, v vmm.Name) []pairCase {
	format := vmm.FormatPVH
	if v == vmm.QEMU {
		format = vmm.FormatBzImage
	}
	linux := func() Plan {
		p := basePlan(t, v, guest.Linux, format)
		p.Spec.Initrd = pairInitrd
		p.GuestSpec.Args = []string{"/usr/sbin/nginx", "-g", "daemon off;"}
		p.GuestSpec.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NGINX_VERSION=1.27.0"}
		p.GuestSpec.Cwd = "/"
		p.ControlSocket = pairControl
		return p
	}
	plain := linux()
	imageBlock(&plain, "")
	cases := []pairCase{{"", plain, testNet}}
	if v != vmm.QEMU {
		return cases
	}
	// mountRootfs: the image rootfs and a volume over 9p, which needs an
	// uncompressed kernel (planShares looks for 9p in it): the vmlinux.
	ninep := linux()
	ninep.Spec.KernelFormat = vmm.FormatPVH
	ninep.Spec.Shares = []vmm.Share{{Path: "/urunc/rootfs", Tag: "rootfs"}, {Path: "/data", Tag: "vol0", ReadOnly: true}}
	ninep.GuestSpec.RootShare = "rootfs"
	ninep.GuestSpec.Mounts = []guest.Mount{{Tag: "vol0", Target: "/data", ReadOnly: true}}
	// A block-backed rootfs (planBlockRoot, QEMU only): the snapshotter's
	// device becomes vda, before the image's block file.
	blockRoot := linux()
	blockRoot.Spec.Block = []vmm.BlockDevice{{Path: "/dev/loop3", Root: true}}
	imageBlock(&blockRoot, "")
	blockRoot.RootDisk = "/dev/loop3"
	blockRoot.GuestSpec.RootDevice, blockRoot.GuestSpec.RootFSType = "/dev/vda", "ext4"
	// No KVM: TCG, and microvm has no timer to calibrate the TSC against.
	tcg := linux()
	tcg.Spec.Accel = vmm.AccelTCG
	tcg.GuestSpec.TSCkHz = 2995200
	return append(cases,
		pairCase{"9p", ninep, testNet},
		pairCase{"blockroot", blockRoot, testNet},
		pairCase{"tcg", tcg, testNet})
}

// unikraftCases: a multiboot kernel on QEMU, the Linux-boot ELF on
// Firecracker; Unikraft 0.16+ (netdev.ip=, env.vars) and the older form
// (netdev.ipv4_*, no environment).
func unikraftCases(t *testing.T, v vmm.Name) []pairCase {
	format := vmm.FormatELF
	if v == vmm.QEMU {
		format = vmm.FormatMultiboot
	}
	unikraft := func(version string) Plan {
		p := basePlan(t, v, guest.Unikraft, format)
		p.Spec.Initrd = pairInitrd // the image's rootfs archive (com.urunc.unikernel.initrd)
		p.GuestSpec.Initrd = true
		p.GuestSpec.Args = []string{"/nginx", "-c", "/nginx/conf/nginx.conf"}
		p.GuestSpec.Env = []string{"PATH=/bin", "GREETING=hello world"}
		p.GuestSpec.Version = version
		return p
	}
	return []pairCase{
		{"", unikraft("0.17.0"), testNet},
		{"legacy", unikraft("0.15.0"), testNet},
	}
}

// rumprunCases: a Solo5 unikernel declaring a block device (the image's
// block file, mounted at /data) and a NIC; and one declaring no NIC, which
// gets none although the container has a network.
func rumprunCases(t *testing.T, v vmm.Name) []pairCase {
	rumprun := func(devs ...vmm.Solo5Device) Plan {
		p := basePlan(t, v, guest.Rumprun, vmm.FormatELF)
		p.Spec.Solo5 = solo5Manifest(v, devs...)
		p.GuestSpec.Args = []string{"/redis-server", "/data/conf/redis.conf"}
		p.GuestSpec.Env = []string{"HOME=/data"}
		imageBlock(&p, "/data")
		return p
	}
	blk := vmm.Solo5Device{Name: "rootfs", Type: vmm.Solo5BlockBasic}
	nic := vmm.Solo5Device{Name: "service", Type: vmm.Solo5NetBasic}
	return []pairCase{
		{"", rumprun(blk, nic), testNet},
		{"no-nic", rumprun(blk), testNet},
	}
}

// mirageCases: the virtio target (multiboot) on QEMU, the Solo5 targets
// on hvt and spt; a NIC and a block device everywhere.
func mirageCases(t *testing.T, v vmm.Name) []pairCase {
	format := vmm.FormatELF
	if v == vmm.QEMU {
		format = vmm.FormatMultiboot
	}
	p := basePlan(t, v, guest.Mirage, format)
	if isSolo5(v) {
		p.Spec.Solo5 = solo5Manifest(v,
			vmm.Solo5Device{Name: "service", Type: vmm.Solo5NetBasic},
			vmm.Solo5Device{Name: "storage", Type: vmm.Solo5BlockBasic})
	}
	p.GuestSpec.Args = []string{"/unikernel", "--hello=Hello World", "-l", "*:debug"}
	imageBlock(&p, "")
	return []pairCase{{"", p, testNet}}
}

// mewzCases: a multiboot kernel with the Wasm application compiled in.
func mewzCases(t *testing.T, v vmm.Name) []pairCase {
	p := basePlan(t, v, guest.Mewz, vmm.FormatMultiboot)
	p.GuestSpec.Args = []string{"/http_server.wasm", "--port=1234"}
	return []pairCase{{"", p, testNet}}
}

// hermitCases: Hermit's loader (multiboot) as the kernel and the
// application as the initrd; current kernels (env= words) and pre-0.9 ones.
func hermitCases(t *testing.T, v vmm.Name) []pairCase {
	hermit := func(version string) Plan {
		p := basePlan(t, v, guest.Hermit, vmm.FormatMultiboot)
		p.Spec.Initrd = pairInitrd
		p.GuestSpec.Args = []string{"/httpd", "--port", "9975"}
		p.GuestSpec.Env = []string{"RUST_LOG=info"}
		p.GuestSpec.Version = version
		return p
	}
	return []pairCase{
		{"", hermit(""), testNet},
		{"legacy", hermit("0.8.0"), testNet},
	}
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
			cases := fixture(t, v)
			if len(cases) == 0 {
				t.Errorf("fixture for %s gives no case on %s", g, v)
			}
			for _, c := range cases {
				name := goldenName(v, g, c.variant)
				if _, dup := out[name]; dup {
					t.Fatalf("two cases named %s", name)
				}
				out[name] = c
			}
		}
	}
	return out
}

// TestPairGolden builds every valid VMM × guest-type case through the
// launcher and compares argv and config files with testdata/pairs.
func TestPairGolden(t *testing.T) {
	cases := validPairCases(t)
	names := make([]string, 0, len(cases))
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := cases[name]
		t.Run(name, func(t *testing.T) {
			checkPairGolden(t, name, renderPair(t, c))
			checkWrittenConfig(t, c)
		})
	}
}

// renderPair is the golden text of a case: Argv's result, then the config
// files of the VMM the launcher would exec.
func renderPair(t *testing.T, c pairCase) []byte {
	t.Helper()
	argv, err := Argv(c.plan, c.net)
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
	v, spec, err := finalSpec(c.plan, c.net)
	if err != nil {
		t.Fatalf("finalSpec: %v", err)
	}
	cf, ok := v.(vmm.ConfigFiler)
	if !ok {
		return b.Bytes()
	}
	files, err := cf.ConfigFiles(spec)
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

// checkWrittenConfig runs writeConfigFiles for the case into a temporary
// run folder and checks that it wrote exactly what ConfigFiles returned.
func checkWrittenConfig(t *testing.T, c pairCase) {
	t.Helper()
	p := c.plan
	p.Spec.RunDir = t.TempDir()
	v, spec, err := finalSpec(p, c.net)
	if err != nil {
		t.Fatalf("finalSpec: %v", err)
	}
	if err := writeConfigFiles(v, spec); err != nil {
		t.Fatalf("writeConfigFiles: %v", err)
	}
	cf, ok := v.(vmm.ConfigFiler)
	if !ok {
		return
	}
	files, err := cf.ConfigFiles(spec)
	if err != nil {
		t.Fatalf("ConfigFiles: %v", err)
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
		t.Fatalf("read golden (run go test ./internal/launcher -update): %v", err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("%s differs (run go test ./internal/launcher -update if the change is intended):\n--- got\n%s--- want\n%s",
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
		why := "no case produces it"
		if v, g, ok := pairOfGolden(name); ok && vmm.ValidGuest(v, string(g)) != nil {
			why = fmt.Sprintf("%s on %s is no longer a valid pair", g, v)
		}
		if *update {
			if err := os.Remove(f); err != nil {
				t.Error(err)
			}
			t.Logf("removed stale %s: %s", f, why)
			continue
		}
		t.Errorf("stale golden %s: %s (delete it, or run go test ./internal/launcher -update)", f, why)
	}
}

// pairOfGolden finds the VMM and guest type a golden name starts with.
func pairOfGolden(name string) (vmm.Name, guest.Type, bool) {
	for _, v := range vmm.Supported() {
		for _, g := range guest.Supported() {
			p := goldenName(v, g, "")
			if name == p || strings.HasPrefix(name, p+"-") {
				return v, g, true
			}
		}
	}
	return "", "", false
}

// TestInvalidPairsRejected: a plan for a pair pairs.go does not allow (an
// edited plan, or one an older urunc wrote) fails in the launcher, naming
// the VMMs that do run the guest.
func TestInvalidPairsRejected(t *testing.T) {
	for _, v := range vmm.Supported() {
		for _, g := range guest.Supported() {
			if vmm.ValidGuest(v, string(g)) == nil {
				continue
			}
			t.Run(string(v)+"-"+string(g), func(t *testing.T) {
				valid := vmm.GuestVMMs(string(g))
				if len(valid) == 0 {
					t.Fatalf("guest type %s runs on no VMM", g)
				}
				fixture, ok := pairFixtures[g]
				if !ok {
					t.Fatalf("no fixture for %s", g)
				}
				// The plan is right for a VMM that runs g, then pointed at v.
				c := fixture(t, valid[0])[0]
				c.plan.VMM = v
				c.plan.Spec.Binary = pairBinaries[v]
				argv, err := Argv(c.plan, c.net)
				if err == nil {
					t.Fatalf("Argv = %q, want an error", argv)
				}
				if !errors.Is(err, vmm.ErrNotSupported) {
					t.Errorf("error %q does not wrap vmm.ErrNotSupported", err)
				}
				msg := err.Error()
				for _, want := range []string{string(g), string(v)} {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q does not name %q", msg, want)
					}
				}
				for _, n := range valid {
					if !strings.Contains(msg, string(n)) {
						t.Errorf("error %q does not list %s, which runs %s guests", msg, n, g)
					}
				}
			})
		}
	}
}
