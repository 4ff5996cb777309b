// Package fault lets the end-to-end tests kill urunc at a named phase, as
// a crash, an OOM kill or a power cut would: abruptly, without deferred
// cleanup. Only a binary built with the faultinject tag (make
// urunc-fault) reads the switch; in every other build Point does nothing
// and the environment variable is ignored.
package fault

import "strings"

// Env names the phase at which a faultinject build kills itself.
const Env = "URUNC_FAULT"

// Phases are the named points, in the order a container's life passes
// them. The create steps are the step runner's ("create/" and the step's
// name with dashes); the e2e phase walk kills urunc at each.
var Phases = []string{
	CreateStep("open image files"), CreateStep("plan vm"), CreateStep("claim vm folder"), CreateStep("prepare vm"),
	CreateStep("build the vmm's spec"), CreateStep("create container"), CreateCreated,
	StartNetworkRecorded, StartNetworkWired, StartNetworkWritten, StartReleased,
	LaunchBeforeExec,
	KillSignalled,
	DeleteKilled, DeleteNetworkRemoved, DeleteLoopRestored,
}

// The phases outside create's steps.
const (
	CreateCreated        = "create/created"         // the container exists, its init waits
	StartNetworkRecorded = "start/network-recorded" // the wiring is recorded, not made
	StartNetworkWired    = "start/network-wired"    // tap and redirect made, net.json not written
	StartNetworkWritten  = "start/network-written"  // net.json written, the init not released
	StartReleased        = "start/released"         // the launcher runs
	LaunchBeforeExec     = "launch/before-exec"     // the launcher, just before it execs the VMM
	KillSignalled        = "kill/signalled"         // the container's init has the signal
	DeleteKilled         = "delete/killed"          // libcontainer's state is gone, the VM's host objects not
	DeleteNetworkRemoved = "delete/network-removed" // tap and redirect gone, loop and folder not
	DeleteLoopRestored   = "delete/loop-restored"   // only the VM folder is left
)

// CreateStep is the phase after create's step called name.
func CreateStep(name string) string { return "create/" + strings.ReplaceAll(name, " ", "-") }
