package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
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
// application, acts as the host's end of the agent channel, and checks
// that the application's exit status arrives exactly through FrameExit,
// as well as through QEMU's exit status (even ones rounded up, see
// urunit.ExitPort) and its output. One boot goes without an agent
// channel, as a guest whose command line names none.
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
		noAgent    bool
		wantStatus int // through FrameExit; QEMU's is wantStatus|1 but for 0
		wantOut    string
	}{
		{"exit 0", urunit.Config{Args: []string{"exitapp", "0"}, Env: []string{"FOO=bar"}}, false, 0, "exitapp [0] uid=0 gid=0 cwd=/ FOO=bar\n"},
		{"exit 1", urunit.Config{Args: []string{"/bin/exitapp", "1"}}, false, 1, "exitapp [1] uid=0 gid=0 cwd=/ FOO=\n"},
		{"exit 2", urunit.Config{Args: []string{"exitapp", "2"}}, false, 2, "exitapp [2] uid=0 gid=0 cwd=/ FOO=\n"},
		{"exit 3 as user", urunit.Config{Args: []string{"exitapp", "3"}, Cwd: "/srv", UID: 1000, GID: 100}, false, 3, "exitapp [3] uid=1000 gid=100 cwd=/srv FOO=\n"},
		{"even status", urunit.Config{Args: []string{"exitapp", "42"}}, false, 42, "exitapp [42] uid=0 gid=0 cwd=/ FOO=\n"},
		{"killed", urunit.Config{Args: []string{"exitapp", "kill"}}, false, 137, "exitapp [kill] uid=0 gid=0 cwd=/ FOO=\n"},
		{"signal to init is forwarded", urunit.Config{Args: []string{"exitapp", "term-init"}}, false, 143, "exitapp [term-init] uid=0 gid=0 cwd=/ FOO=\n"},
		{"SIGABRT to the process group", urunit.Config{Args: []string{"exitapp", "abort-group"}}, false, 5, "exitapp [abort-group] uid=0 gid=0 cwd=/ FOO=\n"},
		{"not executable", urunit.Config{Args: []string{"/bin/noexec"}}, false, statusNotRunning, `urunit: start "/bin/noexec": `},
		{"not found", urunit.Config{Args: []string{"nope"}}, false, statusNotFound, `urunit: start "nope": executable file not found in PATH`},
		{"no agent channel", urunit.Config{Args: []string{"exitapp", "3"}}, true, 3, "exitapp [3] uid=0 gid=0 cwd=/ FOO=\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			image := writeInitrd(t, dir, urunitBin, app, tc.cfg, guestFiles(t, kernel)...)
			sock := ""
			if !tc.noAgent {
				sock = filepath.Join(t.TempDir(), "agent.sock")
			}
			vm := startVM(t, bootSpec(t, kernel, image, sock))
			if !tc.noAgent {
				host := connectAgent(t, sock)
				if got := host.exitStatus(t, 60*time.Second); got != tc.wantStatus {
					t.Errorf("FrameExit status = %d, want %d; output:\n%s", got, tc.wantStatus, vm.output())
				}
			}
			wantQEMU := tc.wantStatus
			if wantQEMU != 0 {
				wantQEMU |= 1
			}
			if status := vm.wait(t, 60*time.Second); status != wantQEMU {
				t.Errorf("QEMU exit status = %d, want %d; output:\n%s", status, wantQEMU, vm.output())
			}
			if out := vm.output(); !strings.HasPrefix(out, tc.wantOut) {
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

// writeInitrd writes an initramfs with urunit, cfg, the application, a
// file that is not executable (/bin/noexec) and the extra files.
func writeInitrd(t *testing.T, dir, urunitBin, app string, cfg urunit.Config, extra ...initrd.File) string {
	t.Helper()
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	files := []initrd.File{
		{Path: urunit.BinaryPath, Mode: 0o755, Data: mustRead(t, urunitBin)},
		{Path: urunit.ConfigPath, Mode: 0o644, Data: cfgJSON},
		{Path: "/bin/exitapp", Mode: 0o755, Data: mustRead(t, app)},
		{Path: "/bin/noexec", Mode: 0o644, Data: []byte("#!/bin/sh\n")},
		{Path: "/srv", Mode: fs.ModeDir | 0o755},
	}
	var buf bytes.Buffer
	if err := initrd.Build(&buf, "", append(files, extra...)); err != nil {
		t.Fatalf("initrd.Build: %v", err)
	}
	image := filepath.Join(dir, "initrd.cpio")
	if err := os.WriteFile(image, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return image
}

// guestFiles are what the guest needs beside urunit and the application:
// the kernel's modules when it has them beside it, as scripts/
// fetch-kernel.sh leaves Debian's (virtio_console and vsock are modules
// there), and busybox for exec.
func guestFiles(t *testing.T, kernel string) []initrd.File {
	t.Helper()
	return append(kernelModules(t, kernel), busyboxFiles(t)...)
}

// kernelModules lays <kernel's folder>/modules/lib/modules/<release>/ out
// at /lib/modules/<release>/, where urunit looks; none when it is absent.
func kernelModules(t *testing.T, kernel string) []initrd.File {
	t.Helper()
	root := filepath.Join(filepath.Dir(kernel), "modules")
	var files []initrd.File
	err := filepath.WalkDir(filepath.Join(root, "lib", "modules"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(path, ".ko") {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files = append(files, initrd.File{Path: "/" + rel, Mode: 0o644, Data: mustRead(t, path)})
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("read modules: %v", err)
	}
	return files
}

// busyboxApplets are the programs the exec tests run in the guest.
var busyboxApplets = []string{"sh", "echo", "cat", "sleep", "stty", "tty"}

// busyboxFiles is a static busybox at /bin/busybox with its applets
// beside it, when the host has one; nil otherwise.
func busyboxFiles(t *testing.T) []initrd.File {
	t.Helper()
	path, err := exec.LookPath("busybox")
	if err != nil || !isStatic(path) {
		return nil
	}
	files := []initrd.File{{Path: "/bin/busybox", Mode: 0o755, Data: mustRead(t, path)}}
	for _, a := range busyboxApplets {
		files = append(files, initrd.File{Path: "/bin/" + a, Mode: fs.ModeSymlink | 0o777, Data: []byte("busybox")})
	}
	return files
}

// isStatic tells whether the ELF file at path needs no interpreter.
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
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
