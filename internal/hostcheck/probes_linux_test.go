//go:build linux

package hostcheck

import (
	"os"
	"testing"
)

func TestStaticELF(t *testing.T) {
	const dynamic = "/bin/sh"
	if _, err := os.Stat(dynamic); err != nil {
		t.Skipf("%s missing", dynamic)
	}
	if static, err := staticELF(dynamic); err != nil || static {
		t.Errorf("staticELF(%s) = %v, %v; want a dynamic executable", dynamic, static, err)
	}
	if _, err := staticELF("/proc/self/status"); err == nil {
		t.Error("staticELF of a text file succeeded")
	}
}

// The tc probe leaves nothing behind: it runs in a namespace of its own.
func TestProbeTC(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the probe creates a network namespace")
	}
	if err := probeTC(); err != nil {
		t.Errorf("probeTC: %v (network_linux_test.go's tap tests need the same kernel parts)", err)
	}
}
