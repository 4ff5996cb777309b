package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// defaultEnv is where `make test` points the tests, used when the
// variable is unset and the file is there: so that `go test ./tests/e2e`
// as root on a machine where `make test` (or `make all kernel
// guest-kernel tools`) ran works without the Makefile's environment.
var defaultEnv = []struct{ name, path string }{
	{"URUNC_BIN", "../../bin"},
	{"URUNC_KERNEL", "/var/cache/urunc/kernel/vmlinuz"},
	{"URUNC_GUEST_KERNEL", "/var/cache/urunc/guest-kernel/current/vmlinux"},
	{"URUNC_TOOLS", "/var/cache/urunc/tools"},
}

func TestMain(m *testing.M) {
	for _, d := range defaultEnv {
		if os.Getenv(d.name) != "" {
			continue
		}
		p, err := filepath.Abs(d.path)
		if err != nil {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			os.Setenv(d.name, p)
			fmt.Fprintf(os.Stderr, "e2e: %s unset, using %s\n", d.name, p)
		}
	}
	os.Exit(m.Run())
}
