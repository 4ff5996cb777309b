package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urunc-runtime/urunc/internal/initrd"
	"github.com/urunc-runtime/urunc/internal/urunit"
)

// TestBoot boots a Linux kernel under QEMU (TCG) with urunit and a test
// application and checks the application's output and QEMU's exit status.
// It needs URUNIT_TEST_KERNEL (e.g. _cache/kernel/vmlinuz from
// scripts/fetch-kernel.sh) and qemu-system-x86_64.
func TestBoot(t *testing.T) {
	kernel := bootPrerequisites(t)
	dir := t.TempDir()
	urunitBin := goBuild(t, dir, ".")
	app := goBuild(t, dir, "./testdata/exitapp")
	tests := []struct {
		name       string
		cfg        urunit.Config
		wantStatus int
		wantOut    string
	}{
		{"exit 0", urunit.Config{Args: []string{"exitapp", "0"}, Env: []string{"FOO=bar"}}, 0, "exitapp [0] uid=0 gid=0 cwd=/ FOO=bar\n"},
		{"exit 1", urunit.Config{Args: []string{"/bin/exitapp", "1"}}, 1, "exitapp [1] uid=0 gid=0 cwd=/ FOO=\n"},
		{"exit 3 as user", urunit.Config{Args: []string{"exitapp", "3"}, Cwd: "/srv", UID: 1000, GID: 100}, 3, "exitapp [3] uid=1000 gid=100 cwd=/srv FOO=\n"},
		{"even status", urunit.Config{Args: []string{"exitapp", "42"}}, 43, "exitapp [42] uid=0 gid=0 cwd=/ FOO=\n"},
		{"killed", urunit.Config{Args: []string{"exitapp", "kill"}}, 137, "exitapp [kill] uid=0 gid=0 cwd=/ FOO=\n"},
		{"signal to init is forwarded", urunit.Config{Args: []string{"exitapp", "term-init"}}, 143, "exitapp [term-init] uid=0 gid=0 cwd=/ FOO=\n"},
		{"not found", urunit.Config{Args: []string{"nope"}}, statusNotFound, `urunit: start "nope": executable file not found in PATH`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			image := writeInitrd(t, dir, urunitBin, app, tc.cfg)
			status, out := bootQEMU(t, kernel, image)
			if status != tc.wantStatus {
				t.Errorf("QEMU exit status = %d, want %d; output:\n%s", status, tc.wantStatus, out)
			}
			if !strings.HasPrefix(out, tc.wantOut) {
				t.Errorf("output = %q, want it to start with %q", out, tc.wantOut)
			}
		})
	}
}

// bootPrerequisites skips the test unless a kernel and QEMU are available.
func bootPrerequisites(t *testing.T) string {
	t.Helper()
	kernel := os.Getenv("URUNIT_TEST_KERNEL")
	switch {
	case testing.Short():
		t.Skip("boot test skipped in -short mode")
	case runtime.GOARCH != "amd64":
		t.Skip("boot test needs amd64 (isa-debug-exit)")
	case kernel == "":
		t.Skip("set URUNIT_TEST_KERNEL to a bzImage or vmlinux to run the boot test")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	return kernel
}

// goBuild builds the static package pkg into dir and returns the binary.
func goBuild(t *testing.T, dir, pkg string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(filepath.Clean(pkg)))
	if pkg == "." {
		out = filepath.Join(dir, "urunit")
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

// writeInitrd writes an initramfs with urunit, cfg and the application.
func writeInitrd(t *testing.T, dir, urunitBin, app string, cfg urunit.Config) string {
	t.Helper()
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	files := []initrd.File{
		{Path: urunit.BinaryPath, Mode: 0o755, Data: mustRead(t, urunitBin)},
		{Path: urunit.ConfigPath, Mode: 0o644, Data: cfgJSON},
		{Path: "/bin/exitapp", Mode: 0o755, Data: mustRead(t, app)},
		{Path: "/srv", Mode: fs.ModeDir | 0o755},
	}
	var buf bytes.Buffer
	if err := initrd.Build(&buf, "", files); err != nil {
		t.Fatalf("initrd.Build: %v", err)
	}
	image := filepath.Join(dir, "initrd.cpio")
	if err := os.WriteFile(image, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return image
}

// bootQEMU boots kernel with image on a microvm and returns QEMU's exit
// status and serial output.
func bootQEMU(t *testing.T, kernel, image string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64",
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-machine", "microvm,accel=tcg", "-m", "256M", "-smp", "1",
		"-kernel", kernel, "-initrd", image,
		"-append", "console=ttyS0 panic=-1 rdinit="+urunit.BinaryPath+
			" quiet loglevel=3 reboot=t tsc_early_khz="+strconv.Itoa(hostTSCkHz(t)),
		"-chardev", "stdio,id=con0,signal=off", "-serial", "chardev:con0",
		"-device", "isa-debug-exit,iobase=0x501,iosize=1")
	out, err := cmd.Output()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		return exitErr.ExitCode(), string(out)
	default:
		t.Fatalf("run QEMU: %v (context: %v); output:\n%s", err, ctx.Err(), out)
		return 0, ""
	}
}

// hostTSCkHz reads the host's TSC frequency from /proc/cpuinfo; the guest
// needs it (tsc_early_khz=) because calibrating against the PIT often fails
// under TCG and hangs the boot.
func hostTSCkHz(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		t.Skipf("read host TSC frequency: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "cpu MHz" {
			mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(mhz * 1000)
			}
		}
	}
	t.Skip("no \"cpu MHz\" in /proc/cpuinfo")
	return 0
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
