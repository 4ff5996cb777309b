// Command urunit is the init (PID 1) of single-application Linux guests.
//
// The kernel starts it from the initramfs (rdinit=/.urunit/urunit). It mounts
// the pseudo file systems the application expects, reads the application's
// urunit.Config, runs the application, passes on the signals it receives,
// reaps every process that is re-parented to it, and finally ends the VM
// with the application's exit status. When the kernel command line asks
// for it (urunit.AgentParam), it also serves the host's end of the agent
// channel (internal/agent): the exit status, signals for the application
// and processes exec'd beside it. The config and the exit device are
// documented in internal/urunit.
//
// Build it static: CGO_ENABLED=0 go build ./cmd/urunit.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urunc-runtime/urunc/internal/urunit"
)

// Exit statuses for failures of urunit itself, as a shell would report them.
const (
	statusFailure    = 1   // urunit could not prepare the guest
	statusNotRunning = 126 // the application exists but could not be executed
	statusNotFound   = 127 // the application was not found
)

func main() {
	status := statusFailure
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "urunit: internal error: %v\n", r)
		}
		halt(status) // PID 1 must never return
	}()
	status = run()
}

// run prepares the guest, runs the application and returns the exit status
// to report to the host, after it has reported it on the agent channel.
func run() int {
	signals := catchSignals()
	reap := newReaper(os.Getpid() == 1) // before any child is forked
	if err := mountAll(); err != nil {
		return fail("mount file systems", err, statusFailure)
	}
	setupConsole()
	modErr := loadModules()
	if ordersMode() {
		return runOrdered(modErr, reap, signals)
	}
	ag := startAgent(reap, signals) // its transport's driver may be a module
	status := runApp(modErr, reap, signals, ag)
	ag.reportExit(status)
	return status
}

// runApp prepares the application's environment, runs it and returns its
// exit status, or urunit's when it could not.
func runApp(modErr error, reap *reaper, signals *appSignals, ag *agentServer) int {
	if modErr != nil {
		return fail("load kernel modules", modErr, statusFailure)
	}
	if err := setupNetwork(); err != nil {
		// The app may not need the network: say why it has none and go on.
		fail("set up network (the application runs without it)", err, 0)
	}
	cfg, err := loadConfig(urunit.ConfigPath)
	if err != nil {
		return fail("read config", err, statusFailure)
	}
	return runConfig(cfg, reap, signals, ag)
}

// runConfig runs the application cfg describes, once the network is set
// up, and returns its exit status.
func runConfig(cfg urunit.Config, reap *reaper, signals *appSignals, ag *agentServer) int {
	if err := setHostname(cfg.Hostname); err != nil {
		fail("set host name (the application runs with the kernel's)", err, 0)
	}
	if err := setupShares(cfg); err != nil {
		return fail("mount shared folders", err, statusFailure)
	}
	if err := createDevices(cfg.Devices); err != nil {
		return fail("create block devices", err, statusFailure)
	}
	pid, done, err := reap.start(func() (int, error) { return startApp(cfg) })
	if err != nil {
		return fail(fmt.Sprintf("start %q", cfg.Args[0]), err, startFailureStatus(err))
	}
	signals.forward(reap, pid)
	ag.appStarted()
	return waitApp(reap, done)
}

// fail prints one line about what failed to the console and returns status.
func fail(what string, err error, status int) int {
	fmt.Fprintf(os.Stderr, "urunit: %s: %v\n", what, err)
	return status
}

// startFailureStatus maps an error from startApp to the status a shell
// reports: 127 when the program (or its ELF interpreter) does not exist, 126
// when it exists but cannot be executed.
func startFailureStatus(err error) int {
	if errors.Is(err, errNotFound) || errors.Is(err, os.ErrNotExist) {
		return statusNotFound
	}
	return statusNotRunning
}
