package network

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// openTapEnv makes the test binary, re-executed, attach its fd 3 (an open
// /dev/net/tun) to the named tap and exit: 0 on success, 1 with the error on
// stderr.
const openTapEnv = "URUNC_NETWORK_TEST_OPEN_TAP"

func TestMain(m *testing.M) {
	if name := os.Getenv(openTapEnv); name != "" {
		f, err := attachTap(3, name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "uid %d: open tap %q: %v\n", os.Geteuid(), name, err)
			os.Exit(1)
		}
		f.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestTapOwner checks that a process with the tap's uid and gid can attach
// without CAP_NET_ADMIN, as an unprivileged VMM will, and that a process
// matching only one of them cannot.
// /dev/net/tun is opened by root and inherited: its mode (0600 on some
// hosts) is a separate matter from the tap's owner check in TUNSETIFF.
func TestTapOwner(t *testing.T) {
	tn := newTestNet(t)
	tap := TapName(t.Name())
	tn.inCtr(t, func() error {
		ifc, err := Discover("")
		if err != nil {
			return err
		}
		_, err = Setup(ifc, tap, testUID, testGID)
		return err
	})
	bin := worldExecutableCopy(t)
	for _, tc := range []struct {
		uid, gid uint32
		want     bool
	}{{testUID, testGID, true}, {testUID + 1, testGID, false}, {testUID, testGID + 1, false}} {
		var out []byte
		var runErr error
		tn.inCtr(t, func() error {
			// The child is forked from this thread and so starts in the container namespace.
			tun, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer tun.Close()
			cmd := exec.Command(bin, "-test.run=^$")
			cmd.Env = []string{openTapEnv + "=" + tap}
			cmd.ExtraFiles = []*os.File{tun}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: tc.uid, Gid: tc.gid}}
			out, runErr = cmd.CombinedOutput()
			return nil
		})
		if got := runErr == nil; got != tc.want {
			t.Errorf("%d:%d attaching to tap owned by %d:%d: success %v, want %v (%v: %s)",
				tc.uid, tc.gid, testUID, testGID, got, tc.want, runErr, strings.TrimSpace(string(out)))
		}
	}
}

// worldExecutableCopy copies the test binary where any uid can run it.
func worldExecutableCopy(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "urunc-network-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "network.test")
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}
