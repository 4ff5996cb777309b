// Package launcher is the step that runs inside the container at start: it
// reads the VM plan that create wrote and the network that start found,
// builds the guest's command line and the VMM's final argv, and execs the
// VMM, so that the VMM becomes the container's pid 1.
package launcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/fault"
	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/trace"
	"github.com/urunc-runtime/urunc/internal/urunit"
	"github.com/urunc-runtime/urunc/internal/vmm"
	"github.com/urunc-runtime/urunc/internal/vmmseccomp"
)

// Plan is what create decided: everything but the network.
type Plan struct {
	VMM          vmm.Name   `json:"vmm"`
	Spec         vmm.Spec   `json:"spec"` // Cmdline, ExitDevice and Net are filled at launch
	Guest        guest.Type `json:"guest"`
	GuestSpec    guest.Spec `json:"guestSpec"`
	ExtraCmdline string     `json:"extraCmdline,omitempty"` // host-configured kernel parameters
	// AgentSocket is where the VMM listens for the guest agent's channel
	// and ControlSocket where the supervisor listens for host tools; set
	// when the guest runs the agent and the VMM can carry it. The
	// launcher then supervises the VMM instead of becoming it (Supervise).
	AgentSocket   string `json:"agentSocket,omitempty"`
	ControlSocket string `json:"controlSocket,omitempty"`
	// StopGrace is how long, in seconds, the supervisor lets a guest take
	// to stop after a stop signal before it kills the VMM.
	StopGrace int `json:"stopGrace,omitempty"`
	// RootDisk is the host block device the guest boots from, "" for none
	// (kept so that delete can release it).
	RootDisk string `json:"rootDisk,omitempty"`
	// LoopGuard: the launcher denies the VMM the loop-device ioctls, so
	// that it cannot detach or reconfigure the root disk it is given.
	LoopGuard bool `json:"loopGuard,omitempty"`
	// Seccomp is the mode of the filter the launcher installs before it
	// execs a VMM that has none of its own (vmmseccomp.For); "" for none.
	Seccomp vmmseccomp.Mode `json:"seccomp,omitempty"`
	// TraceFile, when set, receives the launcher's phase record; ID tags it.
	TraceFile string `json:"traceFile,omitempty"`
	ID        string `json:"id,omitempty"`
	// Template, when set, starts the guest from a VM template (warm
	// start): create found the guest eligible (template.go).
	Template *Template `json:"template,omitempty"`
}

// Network is the container network that start handed to the guest: an
// IPv4 address (IP), an IPv6 one (IP6), or both.
type Network struct {
	Interface string   `json:"interface"` // container interface redirected to the tap
	Tap       string   `json:"tap"`
	MAC       string   `json:"mac"`
	IP        string   `json:"ip"` // "" on an IPv6-only interface
	PrefixLen int      `json:"prefixLen"`
	Gateway   string   `json:"gateway,omitempty"`
	MTU       int      `json:"mtu"`
	DNS       []string `json:"dns,omitempty"` // IPv4 and IPv6 nameservers, in resolv.conf's order
	// IP6 is the interface's global IPv6 address, "" for none; Gateway6
	// its IPv6 default gateway, possibly link-local.
	IP6        string `json:"ip6,omitempty"`
	PrefixLen6 int    `json:"prefixLen6,omitempty"`
	Gateway6   string `json:"gateway6,omitempty"`
	// IngressQdisc: the interface's ingress qdisc is urunc's, for delete
	// (network.Wiring).
	IngressQdisc bool `json:"ingressQdisc,omitempty"`
}

// Files in the folder that create and start share with the launcher.
const (
	PlanFile    = "vm.json"
	NetworkFile = "net.json"
)

// Argv returns the VMM command line for a plan and an optional network.
func Argv(p Plan, n *Network) ([]string, error) {
	v, spec, err := finalSpec(p, n, Boot{})
	if err != nil {
		return nil, err
	}
	return args(p, v, spec)
}

// ConfigFiles returns the configuration files the launcher writes before
// it execs the VMM of a plan on a network: none for a VMM that reads no
// file.
func ConfigFiles(p Plan, n *Network) ([]vmm.File, error) {
	l, err := newLaunch(p, n, Boot{})
	return l.files, err
}

// finalSpec completes the plan's VMM spec with what the guest asks for on
// this network: its command line, its channels when the VMM has them, and
// its network device; b says how a template plan's guest boots.
func finalSpec(p Plan, n *Network, b Boot) (vmm.VMM, vmm.Spec, error) {
	g, err := guest.Get(p.Guest)
	if err != nil {
		return nil, vmm.Spec{}, err
	}
	// create checked the pair already; a plan edited or written by an
	// older urunc must not boot a guest on a VMM that cannot run it.
	if err := vmm.ValidGuest(p.VMM, string(p.Guest)); err != nil {
		return nil, vmm.Spec{}, err
	}
	gs := p.GuestSpec
	if !takesNet(p.Spec) {
		n = nil
	}
	if n != nil {
		gs.Net = &guest.Net{IP: n.IP, PrefixLen: n.PrefixLen, Gateway: n.Gateway, DNS: n.DNS, MTU: n.MTU,
			IP6: n.IP6, PrefixLen6: n.PrefixLen6, Gateway6: n.Gateway6}
	}
	if b.ordered() {
		// The network reaches the guest in its orders, not on the
		// command line, which is the template's.
		gs.Net = nil
	}
	boot, err := g.Boot(gs)
	if err != nil {
		return nil, vmm.Spec{}, fmt.Errorf("guest %s: %w", p.Guest, err)
	}
	v, err := vmm.Get(p.VMM)
	if err != nil {
		return nil, vmm.Spec{}, err
	}
	spec := p.Spec
	cmdline := boot.Cmdline
	if t := v.Describe().Agent; boot.Agent && t != "" && p.AgentSocket != "" {
		spec.AgentSocket = p.AgentSocket
		cmdline += " " + urunit.AgentParam + "=" + string(t)
	}
	if b.ordered() {
		cmdline += " " + urunit.OrdersParam + "=1"
	}
	// The host's [linux] kernel_args go last: trusted, they win over all.
	spec.Cmdline = strings.TrimSpace(cmdline + " " + p.ExtraCmdline)
	if max := guest.NeedsOf(g).MaxCmdline; max > 0 && len(spec.Cmdline) > max {
		// The kernel would cut the line and lose the host's parameters.
		return nil, vmm.Spec{}, fmt.Errorf("guest %s: %w: command line with the host's kernel_args is %d bytes, the kernel reads %d",
			p.Guest, guest.ErrInvalidSpec, len(spec.Cmdline), max)
	}
	spec.VirtioModern = boot.VirtioModern
	if _, ok := v.(vmm.GuestChannels); ok {
		spec.ExitDevice, spec.ExitPort, spec.ExitPortSize = boot.ExitDevice, boot.ExitPort, boot.ExitPortSize
	}

	if n != nil {
		spec.Net = &vmm.NetDevice{Tap: n.Tap, MAC: n.MAC}
	}
	if err := b.apply(&spec, v); err != nil {
		return nil, vmm.Spec{}, err
	}
	return v, spec, nil
}

// takesNet tells whether the VM gets a NIC: a Solo5 unikernel has one only
// when its manifest declares it.
func takesNet(s vmm.Spec) bool {
	if s.Solo5 == nil {
		return true
	}
	for _, d := range s.Solo5.Devices {
		if d.Type == vmm.Solo5NetBasic {
			return true
		}
	}
	return false
}

func args(p Plan, v vmm.VMM, spec vmm.Spec) ([]string, error) {
	a, err := v.Args(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.VMM, err)
	}
	return a, nil
}

// Run starts the plan in dir: it supervises the VMM when the guest runs
// the agent (Supervise, whose status it exits with), and becomes the VMM
// otherwise (Exec). It returns only on failure.
func Run(dir string) error {
	p, err := ReadPlan(dir)
	if err != nil {
		return err
	}
	if p.AgentSocket != "" && p.ControlSocket != "" {
		os.Exit(Supervise(dir))
	}
	return Exec(dir, Boot{})
}

// Exec replaces the current process with the VMM of the plan in dir,
// booted as b says. It returns only on failure.
func Exec(dir string, b Boot) error {
	l, err := prepare(dir, b)
	if err != nil {
		return err
	}
	if err := l.writeFiles(); err != nil {
		return err
	}
	trace.New(l.plan.TraceFile, l.plan.ID).Mark("vmm-exec")
	fault.Point(fault.LaunchBeforeExec)
	if err := confine(l.plan); err != nil {
		return err
	}
	if err := unix.Exec(l.argv[0], l.argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %s %q: %w", l.plan.VMM, l.argv[0], err)
	}
	return nil
}

// ArgvFile, in the plan's run folder (Spec.RunDir), records the VMM's
// final argv and the config files written for it, so that the command
// line actually run can be read from the host after start. 0600: the
// guest's command line can carry its args and env, as vm.json does.
const ArgvFile = "vmm-argv.json"

// Record is ArgvFile's content.
type Record struct {
	VMM  vmm.Name `json:"vmm"`
	Argv []string `json:"argv"`
	// ConfigFiles are the VMM config files the launcher wrote (Firecracker's
	// JSON), as the VMM sees them; argv names them.
	ConfigFiles []string `json:"configFiles,omitempty"`
}

// launch is everything Exec needs, computed before anything is written.
type launch struct {
	plan  Plan
	spec  vmm.Spec
	argv  []string
	files []vmm.File
}

// prepare reads the plan and network in dir and builds the VMM's argv and
// config files from them.
func prepare(dir string, b Boot) (launch, error) {
	p, err := ReadPlan(dir)
	if err != nil {
		return launch{}, err
	}
	n, err := ReadNetwork(dir)
	if err != nil {
		return launch{}, err
	}
	return newLaunch(p, n, b)
}

// newLaunch builds the VMM's argv and config files for a plan and network.
func newLaunch(p Plan, n *Network, b Boot) (launch, error) {
	v, spec, err := finalSpec(p, n, b)
	if err != nil {
		return launch{}, err
	}
	argv, err := args(p, v, spec)
	if err != nil {
		return launch{}, err
	}
	l := launch{plan: p, spec: spec, argv: argv}
	if cf, ok := v.(vmm.ConfigFiler); ok {
		if l.files, err = cf.ConfigFiles(spec); err != nil {
			return launch{}, fmt.Errorf("%s: %w", p.VMM, err)
		}
	}
	return l, nil
}

// record is what ArgvFile gets for l.
func (l launch) record() Record {
	r := Record{VMM: l.plan.VMM, Argv: l.argv}
	for _, f := range l.files {
		r.ConfigFiles = append(r.ConfigFiles, f.Path)
	}
	return r
}

// Describe returns the Record that Exec writes for the plan and network in
// dir: urunc start logs it (at debug level) before it releases the launcher,
// from the same files and code, so the two cannot differ.
func Describe(dir string) (Record, error) {
	l, err := prepare(dir, Boot{})
	if err != nil {
		return Record{}, err
	}
	return l.record(), nil
}

// writeFiles writes the files a VMM reads its configuration from into the
// run folder, which the launcher owns, then ArgvFile.
func (l launch) writeFiles() error {
	for _, f := range l.files {
		if err := os.WriteFile(f.Path, f.Data, f.Mode); err != nil {
			return fmt.Errorf("%s: write %s: %w", l.plan.VMM, f.Path, err)
		}
	}
	if l.spec.RunDir == "" {
		return nil // a plan without a run folder: nowhere to leave the record
	}
	data, err := json.MarshalIndent(l.record(), "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", ArgvFile, err)
	}
	return writePrivate(filepath.Join(l.spec.RunDir, ArgvFile), append(data, '\n'))
}

// writePrivate writes a 0600 file through a temporary file and a rename,
// so that a reader on the host never sees it half-written.
func writePrivate(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*") // 0600
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// confine installs the plan's seccomp filter; it is the last step before
// the exec, since the filter binds the launcher too.
func confine(p Plan) error {
	if p.LoopGuard {
		if err := vmmseccomp.ApplyLoopGuard(); err != nil {
			return fmt.Errorf("%w: the VMM does not get the root disk unguarded", err)
		}
	}
	if p.Seccomp == "" || p.Seccomp == vmmseccomp.Off {
		return nil
	}
	pol, ok := vmmseccomp.For(string(p.VMM))
	if !ok {
		return fmt.Errorf("%s: no seccomp policy for this VMM (plan asks for %q)", p.VMM, p.Seccomp)
	}
	if err := vmmseccomp.Apply(pol, p.Seccomp); err != nil {
		return fmt.Errorf("%w: the VMM does not run unconfined; let the container's seccomp profile allow seccomp(2) "+
			"or prctl(2), or set [%s] seccomp = \"off\" in urunc's config", err, p.VMM)
	}
	return nil
}

// ReadPlan reads the plan create wrote in dir.
func ReadPlan(dir string) (Plan, error) {
	var p Plan
	err := readJSON(filepath.Join(dir, PlanFile), &p)
	return p, err
}

// ReadNetwork reads the network start wrote in dir; nil when start found
// none (or has not run).
func ReadNetwork(dir string) (*Network, error) {
	var n *Network
	err := readJSON(filepath.Join(dir, NetworkFile), &n)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return n, err
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}
