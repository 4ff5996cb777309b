package vmm

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// suiteFixtures gives a valid Spec for every registered VMM. A new VMM
// without a fixture fails TestVMMSuite.
var suiteFixtures = map[Name]func() Spec{
	QEMU:            baseSpec,
	Firecracker:     fcSpec,
	HVT:             hvtSpec,
	SPT:             sptSpec,
	CloudHypervisor: chSpec,
}

// TestVMMSuite runs the checks every VMM must pass.
func TestVMMSuite(t *testing.T) {
	for _, n := range Supported() {
		t.Run(string(n), func(t *testing.T) {
			fixture, ok := suiteFixtures[n]
			if !ok {
				t.Fatalf("no suite fixture for %q: add one to suiteFixtures", n)
			}
			v, err := Get(n)
			if err != nil {
				t.Fatal(err)
			}
			runVMMSuite(t, v, fixture)
		})
	}
}

func runVMMSuite(t *testing.T, v VMM, fixture func() Spec) {
	t.Run("empty spec names a field", func(t *testing.T) {
		_, err := v.Args(Spec{})
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "Binary") {
			t.Errorf("Args(Spec{}) = %v, want ErrInvalidSpec naming Binary", err)
		}
	})
	t.Run("required fields", func(t *testing.T) {
		for field, mod := range map[string]func(*Spec){
			"Binary":    func(s *Spec) { s.Binary = "" },
			"Kernel":    func(s *Spec) { s.Kernel = "" },
			"MemoryMiB": func(s *Spec) { s.MemoryMiB = 0 },
			"VCPUs":     func(s *Spec) { s.VCPUs = 0 },
			"Cmdline":   func(s *Spec) { s.Cmdline = "a\x00b" },
			"Net.Tap":   func(s *Spec) { s.Net = &NetDevice{MAC: "02:00:00:00:00:01"} },
			"Net.MAC":   func(s *Spec) { s.Net = &NetDevice{Tap: "tap0", MAC: "02:00"} },
		} {
			s := fixture()
			mod(&s)
			if _, err := v.Args(s); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), field) {
				t.Errorf("%s: Args = %v, want ErrInvalidSpec naming it", field, err)
			}
		}
	})
	t.Run("valid spec", func(t *testing.T) {
		s := fixture()
		if val, ok := v.(Validator); !ok {
			t.Errorf("%s does not implement Validator", v.Name())
		} else if err := val.Validate(s); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		args := checkArgv(t, v, s)
		files := checkConfigFiles(t, v, s, args)
		if !mentions(s.Kernel, args, files) {
			t.Errorf("kernel %q appears neither in argv nor in a config file", s.Kernel)
		}
	})
}

// checkArgv checks argv[0], empty arguments and determinism.
func checkArgv(t *testing.T, v VMM, s Spec) []string {
	t.Helper()
	args, err := v.Args(s)
	if err != nil {
		t.Fatalf("Args: %v", err)
	}
	if args[0] != s.Binary {
		t.Errorf("argv[0] = %q, want %q", args[0], s.Binary)
	}
	for i, a := range args {
		if a == "" {
			t.Errorf("argv[%d] is empty", i)
		}
	}
	again, _ := v.Args(s)
	if !reflect.DeepEqual(args, again) {
		t.Errorf("Args is not deterministic:\n%q\n%q", args, again)
	}
	return args
}

// checkConfigFiles checks that config files are deterministic, inside
// RunDir and named in argv.
func checkConfigFiles(t *testing.T, v VMM, s Spec, args []string) []File {
	t.Helper()
	cf, ok := v.(ConfigFiler)
	if !ok {
		return nil
	}
	files, err := cf.ConfigFiles(s)
	if err != nil {
		t.Fatalf("ConfigFiles: %v", err)
	}
	again, _ := cf.ConfigFiles(s)
	if !reflect.DeepEqual(files, again) {
		t.Errorf("ConfigFiles is not deterministic")
	}
	for _, f := range files {
		rel, err := filepath.Rel(s.RunDir, f.Path)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("config file %q is outside RunDir %q", f.Path, s.RunDir)
		}
		if !mentions(f.Path, args, nil) {
			t.Errorf("config file %q is not named in argv", f.Path)
		}
	}
	if _, err := cf.ConfigFiles(Spec{}); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("ConfigFiles(Spec{}) = %v, want ErrInvalidSpec", err)
	}
	return files
}

func mentions(s string, args []string, files []File) bool {
	for _, a := range args {
		if strings.Contains(a, s) {
			return true
		}
	}
	for _, f := range files {
		if strings.Contains(string(f.Data), s) {
			return true
		}
	}
	return false
}

// checkGoldenFile compares data with testdata/<name>.golden.
func checkGoldenFile(t *testing.T, name string, data []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test ./internal/vmm -update): %v", err)
	}
	if string(data) != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", path, data, want)
	}
}

// validateCase is a Spec change that Validate and Args must refuse.
type validateCase struct {
	name    string
	mod     func(s *Spec)
	field   string // must appear in the error
	wantErr error
}

// runValidateCases checks that each case fails Validate and Args alike.
func runValidateCases(t *testing.T, v VMM, fixture func() Spec, cases []validateCase) {
	t.Helper()
	val := v.(Validator)
	if err := val.Validate(fixture()); err != nil {
		t.Fatalf("fixture is invalid: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := fixture()
			c.mod(&s)
			err := val.Validate(s)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("Validate = %v, want %v", err, c.wantErr)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("error %q does not name %q", err, c.field)
			}
			if _, aerr := v.Args(s); aerr == nil || aerr.Error() != err.Error() {
				t.Errorf("Args error = %v, want the Validate error", aerr)
			}
		})
	}
}

// goldenCases runs Args (and ConfigFiles) for each case against
// testdata/<prefix>-<case>.golden (argv) and
// testdata/<prefix>-<case>.<file>.golden (each config file).
func goldenCases(t *testing.T, v VMM, prefix string, fixture func() Spec, cases map[string]func(*Spec)) {
	t.Helper()
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			s := fixture()
			mod(&s)
			args, err := v.Args(s)
			if err != nil {
				t.Fatalf("Args: %v", err)
			}
			checkGolden(t, prefix+"-"+name, args)
			cf, ok := v.(ConfigFiler)
			if !ok {
				return
			}
			files, err := cf.ConfigFiles(s)
			if err != nil {
				t.Fatalf("ConfigFiles: %v", err)
			}
			for _, f := range files {
				checkGoldenFile(t, prefix+"-"+name+"."+filepath.Base(f.Path), f.Data)
			}
		})
	}
}

func TestValidGuest(t *testing.T) {
	for _, c := range []struct {
		vmm   Name
		guest string
		ok    bool
	}{
		{QEMU, "linux", true}, {Firecracker, "linux", true}, {CloudHypervisor, "linux", true},
		{HVT, "linux", false}, {QEMU, "unikraft", true}, {Firecracker, "unikraft", true},
		{HVT, "rumprun", true}, {SPT, "mirage", true}, {QEMU, "mewz", true}, {Firecracker, "mewz", false},
		{QEMU, "hermit", true}, {QEMU, "bogus", false},
	} {
		err := ValidGuest(c.vmm, c.guest)
		if (err == nil) != c.ok {
			t.Errorf("ValidGuest(%s, %s) = %v, want ok=%v", c.vmm, c.guest, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrNotSupported) {
			t.Errorf("ValidGuest(%s, %s) = %v, want ErrNotSupported", c.vmm, c.guest, err)
		}
	}
	err := ValidGuest(HVT, "linux")
	for _, want := range []string{"qemu", "firecracker", "cloud-hypervisor"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not list %s", err, want)
		}
	}
	if err := ValidGuest(QEMU, "bogus"); !strings.Contains(err.Error(), "unikraft") {
		t.Errorf("unknown guest error %q does not list the known guests", err)
	}
	// Every VMM in the table is registered, and every registered VMM runs
	// some guest.
	used := map[Name]bool{}
	for g := range guestVMMs {
		for _, n := range GuestVMMs(g) {
			if _, err := Get(n); err != nil {
				t.Errorf("guest %s: %v", g, err)
			}
			used[n] = true
		}
	}
	for _, n := range Supported() {
		if !used[n] {
			t.Errorf("%s runs no guest in the pair table", n)
		}
	}
}
