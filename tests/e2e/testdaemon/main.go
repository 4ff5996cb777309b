// Command testdaemon starts and stops the private daemons of the
// end-to-end tests by hand, as the tests do (package tests/e2e/harness):
//
//	go run ./tests/e2e/testdaemon containerd start|stop DIR
//	go run ./tests/e2e/testdaemon dockerd start|stop DIR
//
// Both verbs are idempotent. A started daemon outlives the command; stop
// removes everything it made, DIR included, and exits 1 when processes
// outlived the daemon. Environment (unset: the default):
//
//	URUNC_BIN       folder with urunc and containerd-shim-urunc-v2 (default: bin/ in the current folder)
//	URUNC_CONFIG    containerd: in its environment, read by urunc; dockerd: passed to urunc with --config
//	URUNC_TOOLS     containerd, ctr, runc (default: /var/cache/urunc/tools, see scripts/install-tools.sh)
//	CONTAINERD_CRI=0, CONTAINERD_LOG_LEVEL, CONTAINERD_SANDBOX_IMAGE,
//	CONTAINERD_START_TIMEOUT, CONTAINERD_STOP_TIMEOUT (seconds)
//	DOCKERD (binary), DOCKERD_LOG_LEVEL, DOCKERD_START_TIMEOUT, DOCKERD_STOP_TIMEOUT (seconds)
//
// Keep DIR short: unix socket paths live under it (108 bytes at most).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/urunc-runtime/urunc/tests/e2e/harness"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: testdaemon containerd|dockerd start|stop DIR")
	os.Exit(2)
}

func seconds(name string) time.Duration {
	s, err := strconv.ParseFloat(os.Getenv(name), 64)
	if err != nil {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "testdaemon: "+format+"\n", args...)
}

func main() {
	if len(os.Args) != 4 {
		usage()
	}
	kind, verb, dir := os.Args[1], os.Args[2], os.Args[3]
	bin := os.Getenv("URUNC_BIN")
	if bin == "" {
		bin = "bin"
	}
	bin, _ = filepath.Abs(bin)
	var start func() error
	var stop func() (*harness.Report, error)
	var failed func(*harness.Report) bool
	switch kind {
	case "containerd":
		c := &harness.Containerd{Dir: dir, Tools: os.Getenv("URUNC_TOOLS"), Bin: bin,
			DisableCRI: os.Getenv("CONTAINERD_CRI") == "0", LogLevel: os.Getenv("CONTAINERD_LOG_LEVEL"),
			SandboxImage: os.Getenv("CONTAINERD_SANDBOX_IMAGE"),
			StartTimeout: seconds("CONTAINERD_START_TIMEOUT"), StopTimeout: seconds("CONTAINERD_STOP_TIMEOUT"), Logf: logf}
		start, stop = c.Start, c.Stop
		failed = func(r *harness.Report) bool { return len(r.Shims) > 0 }
	case "dockerd":
		d := &harness.Dockerd{Dir: dir, Bin: bin, URUNCConfig: os.Getenv("URUNC_CONFIG"), Dockerd: os.Getenv("DOCKERD"),
			LogLevel:     os.Getenv("DOCKERD_LOG_LEVEL"),
			StartTimeout: seconds("DOCKERD_START_TIMEOUT"), StopTimeout: seconds("DOCKERD_STOP_TIMEOUT"), Logf: logf}
		start, stop = d.Start, d.Stop
		failed = func(r *harness.Report) bool { return len(r.Leftovers)+len(r.ContainerProcs) > 0 }
	default:
		usage()
	}
	switch verb {
	case "start":
		if err := start(); err != nil {
			logf("%v", err)
			os.Exit(1)
		}
	case "stop":
		r, err := stop()
		if err != nil {
			logf("%v", err)
			os.Exit(1)
		}
		if failed(r) {
			logf("processes outlived the daemon:\n%s", r)
			os.Exit(1)
		}
	default:
		usage()
	}
}
