package launcher

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/agent"
	"github.com/urunc-runtime/urunc/internal/guest"
	"github.com/urunc-runtime/urunc/internal/initrd"
	"github.com/urunc-runtime/urunc/internal/qmp"
	"github.com/urunc-runtime/urunc/internal/urunit"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// Template is a plan's VM template: create found the guest able to start
// warm (a Linux guest whose files all travel in its initrd, on a VMM
// that saves templates) and bound the template's cache entry into the
// container.
//
// The entry holds one template per machine shape (layoutKey): a folder
// named for it, whose "current" folder holds the saved device state
// (stateFile) and the guest's RAM (ramFile). The first container of a
// shape builds it (buildTemplate); every container, the first too, then
// starts as a clone (restore) and gets its own args, env, network, clock
// and random seed as urunit.Orders. When the template cannot be built or
// restored, the guest boots cold as a guest without a template does
// (BootCold): a template never makes a container fail. BootFile in the
// run folder says which way it went.
type Template struct {
	// Dir is the cache entry as the monitor root sees it, writable.
	Dir string `json:"dir"`
	// BuildTimeout bounds, in seconds, the template's boot up to urunit's
	// wait for orders.
	BuildTimeout int `json:"buildTimeout"`
}

// BootMode is how a template plan's guest starts; "" is the plain boot of
// a plan without a template.
type BootMode string

// Boot modes.
const (
	// BootCold boots a template plan's guest as a plan without one does,
	// from an initrd that the supervisor completed with urunit's config
	// (coldInitrd): create left the config out for the template's sake.
	BootCold    BootMode = "cold"
	BootBuild   BootMode = "build"   // the template's own boot, RAM in Boot.Dir
	BootRestore BootMode = "restore" // a clone of the template in Boot.Dir
)

// ordered tells whether urunit waits for its orders in a guest booted so.
func (b Boot) ordered() bool { return b.Mode == BootBuild || b.Mode == BootRestore }

// Boot is a boot mode and, to build or restore, the template folder.
type Boot struct {
	Mode BootMode
	Dir  string
}

// Names in a template folder and in the run folder.
const (
	stateFile   = "state"
	ramFile     = "ram"
	currentDir  = "current"
	unbuildable = "unbuildable" // in a shape's folder: why its template cannot be built
	coldInitrd  = "initrd-cold"
	qmpSocket   = "qmp.sock"
	BootFile    = "boot.json"
	templateMAC = "02:00:00:00:00:01" // a template's NIC; each clone sets its own
)

// BootRecord is BootFile: how the guest started, for urunc and tests.
type BootRecord struct {
	Mode   BootMode `json:"mode"`
	Layout string   `json:"layout,omitempty"`
	// Built: this container built the template it started from.
	Built bool `json:"built,omitempty"`
	// Why the guest booted cold although it had a template plan.
	Why string `json:"why,omitempty"`
}

// apply sets the VMM spec up for b.
func (b Boot) apply(spec *vmm.Spec, v vmm.VMM) error {
	switch b.Mode {
	case "":
		return nil
	case BootCold:
		if spec.RunDir == "" {
			return errors.New("a cold boot of a template plan needs the run folder")
		}
		spec.Initrd = filepath.Join(spec.RunDir, coldInitrd)
		return nil
	case BootBuild, BootRestore:
	default:
		return fmt.Errorf("boot mode %q is not %q, %q or %q", b.Mode, BootCold, BootBuild, BootRestore)
	}
	if !v.Describe().Templates {
		return fmt.Errorf("%s cannot start guests from VM templates", v.Name())
	}
	if spec.RunDir == "" || b.Dir == "" {
		return errors.New("a template boot needs the run folder and the template folder")
	}
	if spec.QMPSocket == "" { // [api] socket makes one already, which serves the supervisor too
		spec.QMPSocket = filepath.Join(spec.RunDir, qmpSocket)
	}
	spec.Template = &vmm.TemplateSpec{MemoryFile: filepath.Join(b.Dir, ramFile),
		Shared: b.Mode == BootBuild, Incoming: b.Mode == BootRestore}
	if b.Mode == BootBuild && spec.Net != nil {
		// Nothing of the first container may stay in the template.
		spec.Net = &vmm.NetDevice{Tap: spec.Net.Tap, MAC: templateMAC}
	}
	return nil
}

// layoutKey names the machine shape of a plan on a network: the argv of
// its template's build, with what differs between containers of one
// shape (the tap's name) left out. A clone's VMM must have the devices,
// memory and command line the template was saved with.
func layoutKey(p Plan, n *Network) (string, error) {
	if n != nil {
		c := *n
		c.Tap = "tap"
		n = &c
	}
	v, spec, err := finalSpec(p, n, Boot{Mode: BootBuild, Dir: "/template"})
	if err != nil {
		return "", err
	}
	argv, err := args(p, v, spec)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(strings.Join(argv, "\x00")))
	return hex.EncodeToString(sum[:12]), nil
}

// orders are what urunit needs to run this container in a guest that
// waits for them.
func orders(p Plan, n *Network) (urunit.Orders, error) {
	g, err := guest.Get(p.Guest)
	if err != nil {
		return urunit.Orders{}, err
	}
	tg, ok := g.(guest.Templater)
	if !ok {
		return urunit.Orders{}, fmt.Errorf("guest %s has no init to give orders to", p.Guest)
	}
	cfg, err := tg.Init(p.GuestSpec)
	if err != nil {
		return urunit.Orders{}, err
	}
	o := urunit.Orders{Config: cfg, Seed: make([]byte, 64)}
	if _, err := rand.Read(o.Seed); err != nil {
		return urunit.Orders{}, fmt.Errorf("random seed: %w", err)
	}
	if n != nil && takesNet(p.Spec) {
		gn := &guest.Net{IP: n.IP, PrefixLen: n.PrefixLen, Gateway: n.Gateway, DNS: n.DNS, MTU: n.MTU,
			IP6: n.IP6, PrefixLen6: n.PrefixLen6, Gateway6: n.Gateway6}
		if o.Net, err = tg.OrdersNet(gn); err != nil {
			return urunit.Orders{}, err
		}
		o.MAC = n.MAC
	}
	return o, nil
}

// sendOrders gives urunit its orders on conn and waits for its answer:
// after a template's restore or an orders-mode boot, before the session.
func sendOrders(conn io.ReadWriter, o urunit.Orders) error {
	// The clock as it is now: a template may have been built since the
	// orders were made.
	o.TimeNs = time.Now().UnixNano()
	if err := agent.WriteOrders(conn, o); err != nil {
		return fmt.Errorf("send orders: %w", err)
	}
	var r agent.Reply
	if err := agent.ReadJSON(conn, agent.FrameStarted, &r); err != nil {
		return fmt.Errorf("orders: %w", err)
	}
	if r.Error != "" {
		return fmt.Errorf("urunit refused the orders: %s", r.Error)
	}
	return nil
}

// warmBoot decides how a template plan's guest starts: a clone of the
// template for its shape, built first when missing, or cold, with the
// reason, when the template cannot be had.
func (s *supervisor) warmBoot(dir string, n *Network) (Boot, BootRecord) {
	layout, err := layoutKey(s.plan, n)
	if err != nil {
		return Boot{Mode: BootCold}, BootRecord{Mode: BootCold, Why: err.Error()}
	}
	cold := func(why string) (Boot, BootRecord) {
		return Boot{Mode: BootCold}, BootRecord{Mode: BootCold, Layout: layout, Why: why}
	}
	rec := BootRecord{Mode: BootRestore, Layout: layout}
	shape := filepath.Join(s.plan.Template.Dir, layout)
	cur := filepath.Join(shape, currentDir)
	if why, err := os.ReadFile(filepath.Join(shape, unbuildable)); err == nil {
		return cold("the template cannot be built: " + string(why))
	}
	if _, err := os.Stat(filepath.Join(cur, stateFile)); err != nil {
		if err := s.buildTemplate(dir, shape); err != nil {
			var gf guestFailed
			if errors.As(err, &gf) {
				// The same guest would fail the same way: do not make
				// every container of the image try again.
				_ = writePrivate(filepath.Join(shape, unbuildable), []byte(err.Error()))
			}
			return cold("build the template: " + err.Error())
		}
		rec.Built = true
	}
	now := time.Now()
	_ = os.Chtimes(cur, now, now) // last use, for the cache's eviction
	return Boot{Mode: BootRestore, Dir: cur}, rec
}

// guestFailed: the template's guest stopped before it was ready for
// orders (e.g. its kernel has no virtio_console for the agent channel).
type guestFailed struct{ error }

// writeColdInitrd writes the initrd of a cold boot: the plan's initrd,
// which create built without urunit's config, and the config after it.
func writeColdInitrd(p Plan) error {
	g, err := guest.Get(p.Guest)
	if err != nil {
		return err
	}
	tg, ok := g.(guest.Templater)
	if !ok {
		return fmt.Errorf("guest %s has no init", p.Guest)
	}
	cfg, err := tg.Init(p.GuestSpec)
	if err != nil {
		return err
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	src, err := os.Open(p.Spec.Initrd)
	if err != nil {
		return err
	}
	defer src.Close()
	path := filepath.Join(p.Spec.RunDir, coldInitrd)
	out, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) // args and env
	if err != nil {
		return err
	}
	defer out.Close()
	if _, err := io.Copy(out, src); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := initrd.Build(out, "", []initrd.File{{Path: urunit.ConfigPath, Mode: 0o644, Data: data}}); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return out.Close()
}

// vmmCommand is the supervisor's child that becomes the VMM, booted as b.
func vmmCommand(dir string, b Boot) *exec.Cmd {
	argv := []string{"launch", "--vmm"}
	if b.Mode != "" {
		argv = append(argv, "--boot", string(b.Mode), "--template", b.Dir)
	}
	cmd := exec.Command("/proc/self/exe", append(argv, dir)...)
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// buildTemplate boots the plan's guest in orders mode with its RAM in a
// shared file, waits until urunit waits for orders, and saves the VM
// into shape/current. Two containers may build one shape at once: each
// builds in its own folder, and the first to rename it into place wins;
// the other's work is dropped.
func (s *supervisor) buildTemplate(dir, shape string) error {
	if err := os.MkdirAll(shape, 0o700); err != nil {
		return err
	}
	timeout := time.Duration(s.plan.Template.BuildTimeout) * time.Second
	staging, err := os.MkdirTemp(shape, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging) // gone by rename when it worked
	// Held while building, so that SweepBuilds leaves this build alone
	// and takes it once this supervisor is gone.
	unlock, err := lockDir(staging, true)
	if err != nil {
		return err
	}
	defer unlock()
	deadline := time.Now().Add(timeout)
	cmd := vmmCommand(dir, Boot{Mode: BootBuild, Dir: staging})
	var out boundedBuffer // the template's boot is no container's output
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	if err := s.saveTemplate(staging, deadline, exited); err != nil {
		// A guest that failed ends its VMM at once; the channel may
		// break a moment before the VMM is reaped.
		select {
		case <-exited:
			err = guestFailed{err}
		case <-time.After(2 * time.Second):
		}
		if s := strings.TrimSpace(out.String()); s != "" {
			err = fmt.Errorf("%w (VMM said: %s)", err, s)
		}
		return err
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		return errors.New("the template's VMM did not quit")
	}
	err = unix.Renameat2(unix.AT_FDCWD, staging, unix.AT_FDCWD, filepath.Join(shape, currentDir), unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
		return nil // another container built it first: use that one
	}
	return err
}

// SweepBuilds removes, in every shape of the cache entry, the builds no
// supervisor holds any more (each holds a lock on its build folder while
// it builds; the lock goes with the process, however it ends) and the
// templates dropped by one killed before it removed them.
func SweepBuilds(entry string) {
	shapes, _ := os.ReadDir(entry)
	for _, sh := range shapes {
		if !sh.IsDir() {
			continue
		}
		dir := filepath.Join(entry, sh.Name())
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			switch {
			case strings.Contains(e.Name(), ".drop-"):
				os.RemoveAll(p)
			case strings.HasPrefix(e.Name(), "build-"):
				unlock, err := lockDir(p, false)
				if err == nil {
					os.RemoveAll(p)
					unlock()
				} else if !e.IsDir() {
					os.Remove(p) // no build made that: a link, a FIFO
				}
			}
		}
	}
}

// lockDir takes an exclusive lock on folder dir (waiting for it when wait),
// and returns its release. The entry is writable by the containers that
// use it, so dir is opened only if it is a folder itself: never a link
// to follow, nor a FIFO that would block the host's create.
func lockDir(dir string, wait bool) (func(), error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	if err := unix.Flock(fd, how); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return func() { unix.Close(fd) }, nil
}

// saveTemplate waits for urunit to be ready for orders, then stops the VM
// and saves its device state into staging (its RAM is in the shared file
// there already) and quits it.
func (s *supervisor) saveTemplate(staging string, deadline time.Time, exited <-chan struct{}) error {
	conn, err := s.dialUntil(deadline, exited)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	if err := agent.WriteFrame(conn, agent.FrameHello, nil); err != nil {
		return err
	}
	if t, _, err := agent.ReadFrame(conn, nil); err != nil || t != agent.FrameReady {
		return fmt.Errorf("wait for urunit to be ready for orders: frame %d, %v", t, err)
	}
	q, err := s.migrationMonitor(deadline)
	if err != nil {
		return err
	}
	defer q.Close()
	if _, err := q.Execute("stop", nil); err != nil {
		return err
	}
	state, err := os.OpenFile(filepath.Join(staging, stateFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer state.Close()
	if _, err := q.ExecuteFD("getfd", map[string]string{"fdname": "template"}, int(state.Fd())); err != nil {
		return err
	}
	if _, err := q.Execute("migrate", map[string]string{"uri": "fd:template"}); err != nil {
		return err
	}
	for {
		st, why, err := q.MigrationStatus()
		if err != nil {
			return err
		}
		if st == "completed" {
			break
		}
		if st == "failed" || st == "cancelled" {
			return fmt.Errorf("save the template: migration %s: %s", st, why)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := state.Sync(); err != nil {
		return err
	}
	_, err = q.Execute("quit", nil)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !strings.Contains(err.Error(), "EOF") {
		return err
	}
	return nil
}

// dialUntil connects to the VMM's agent socket, retrying until deadline
// or until the VMM has exited.
func (s *supervisor) dialUntil(deadline time.Time, exited <-chan struct{}) (net.Conn, error) {
	for {
		conn, err := net.Dial("unix", s.plan.AgentSocket)
		if err == nil {
			return conn, nil
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("connect to the agent channel: %w", err)
		}
		select {
		case <-exited:
			return nil, errors.New("the VMM exited before the guest was ready")
		case <-time.After(connectPoll):
		}
	}
}

// migrationMonitor connects to the VMM's QMP socket for a template's
// save or restore, bounded by deadline: x-ignore-shared must be on at
// both ends, so that the RAM in the template's file is neither saved nor
// loaded.
func (s *supervisor) migrationMonitor(deadline time.Time) (*qmp.Client, error) {
	q, err := qmp.Dial(s.qmpSocket(), deadline)
	if err != nil {
		return nil, err
	}
	_ = q.SetDeadline(deadline)
	if err := q.IgnoreShared(); err != nil {
		q.Close()
		return nil, err
	}
	return q, nil
}

// qmpSocket is where the VMM of a template boot serves QMP (Boot.apply).
func (s *supervisor) qmpSocket() string {
	if s.plan.Spec.QMPSocket != "" {
		return s.plan.Spec.QMPSocket
	}
	return filepath.Join(s.plan.Spec.RunDir, qmpSocket)
}

// restore feeds the template's saved state to a clone's VMM, started
// paused (Incoming) with the state file as its fd 3, and runs it.
func (s *supervisor) restore() error {
	q, err := s.migrationMonitor(time.Now().Add(30 * time.Second))
	if err != nil {
		return err
	}
	defer q.Close()
	if _, err := q.Execute("migrate-incoming", map[string]string{"uri": "fd:3"}); err != nil {
		return err
	}
	for {
		st, err := q.Status()
		if err != nil {
			return err
		}
		switch st {
		case "inmigrate":
			time.Sleep(2 * time.Millisecond)
		case "paused", "postmigrate":
			// The template was saved stopped, so its clone loads stopped.
			// Join the agent channel before it runs: the template was
			// saved with its builder connected, and a clone that wakes up
			// connected too never sees the channel close, so urunit reads
			// the orders at once instead of polling for the host.
			conn, err := net.Dial("unix", s.plan.AgentSocket)
			if err != nil {
				return fmt.Errorf("connect to the agent channel: %w", err)
			}
			s.agentConn = conn
			if _, err := q.Execute("cont", nil); err != nil {
				return err
			}
			return nil
		default:
			return fmt.Errorf("restore the template: VM is %s", st)
		}
	}
}

// writeBootRecord leaves rec in the run folder.
func (s *supervisor) writeBootRecord(rec BootRecord) {
	data, err := json.Marshal(rec)
	if err == nil && s.plan.Spec.RunDir != "" {
		_ = writePrivate(filepath.Join(s.plan.Spec.RunDir, BootFile), append(data, '\n'))
	}
}

// boundedBuffer keeps the last 4 KiB written to it.
type boundedBuffer struct{ b bytes.Buffer }

const boundedMax = 4 << 10

func (w *boundedBuffer) Write(p []byte) (int, error) {
	w.b.Write(p)
	if over := w.b.Len() - boundedMax; over > 0 {
		w.b.Next(over)
	}
	return len(p), nil
}

func (w *boundedBuffer) String() string { return w.b.String() }
