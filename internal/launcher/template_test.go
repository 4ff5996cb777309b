package launcher

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/agent"
	"github.com/urunc-runtime/urunc/internal/urunit"
	"github.com/urunc-runtime/urunc/internal/vmm"
)

// The machine shape ignores what differs between containers of one image
// (the tap's name, the MAC) and changes with what a clone must match.
func TestLayoutKey(t *testing.T) {
	p := linuxPlan(vmm.QEMU, vmm.FormatBzImage)
	base, err := layoutKey(p, testNet)
	if err != nil {
		t.Fatal(err)
	}
	other := *testNet
	other.Tap, other.MAC, other.IP = "urunc99999999", "02:42:0a:04:00:99", "10.9.9.9"
	if k, _ := layoutKey(p, &other); k != base {
		t.Errorf("another tap, MAC and address change the shape: %s != %s", k, base)
	}
	bigger := p
	bigger.Spec.MemoryMiB = 256
	noNet, _ := layoutKey(p, nil)
	bigKey, _ := layoutKey(bigger, testNet)
	if noNet == base || bigKey == base {
		t.Errorf("shape ignores the NIC or the memory: %s, %s, %s", base, noNet, bigKey)
	}
}

func TestBootSpec(t *testing.T) {
	p := linuxPlan(vmm.QEMU, vmm.FormatBzImage)
	for _, tc := range []struct {
		b          Boot
		wantOrders bool
		want, not  []string // argv elements (substrings) present, absent
	}{
		{Boot{Mode: BootBuild, Dir: "/t/b"}, true,
			[]string{"mem-path=/t/b/ram,share=on", "mac=" + templateMAC, "urunit.orders=1"}, []string{"-incoming", "ip=", testNet.MAC}},
		{Boot{Mode: BootRestore, Dir: "/t/current"}, true,
			[]string{"mem-path=/t/current/ram,share=off", "defer", "urunit.orders=1"}, []string{"ip="}},
		{Boot{Mode: BootCold}, false,
			[]string{"/urunc/run/" + coldInitrd, "ip=10.4.0.5"}, []string{"urunit.orders", "memory-backend", "/urunc/initrd"}},
	} {
		t.Run(string(tc.b.Mode), func(t *testing.T) {
			l, err := newLaunch(p, testNet, tc.b)
			if err != nil {
				t.Fatal(err)
			}
			joined := strings.Join(l.argv, "\n")
			for _, w := range tc.want {
				if !strings.Contains(joined, w) {
					t.Errorf("argv lacks %q:\n%s", w, joined)
				}
			}
			for _, n := range tc.not {
				if slices.ContainsFunc(l.argv, func(a string) bool { return strings.Contains(a, n) && !strings.Contains(a, "rdinit") }) {
					t.Errorf("argv has %q:\n%s", n, joined)
				}
			}
			if tc.b.ordered() != tc.wantOrders {
				t.Errorf("ordered() = %v", tc.b.ordered())
			}
		})
	}
	if _, err := newLaunch(linuxPlan(vmm.Firecracker, vmm.FormatPVH), testNet, Boot{Mode: BootRestore, Dir: "/t"}); err == nil {
		t.Error("a firecracker plan restored from a template")
	}
	if _, err := newLaunch(p, testNet, Boot{Mode: "warp"}); err == nil {
		t.Error("an unknown boot mode was taken")
	}
}

// A container's orders: its own config, network, MAC, host name and a
// fresh seed each time.
func TestOrders(t *testing.T) {
	p := linuxPlan(vmm.QEMU, vmm.FormatBzImage)
	p.GuestSpec.Hostname = "web-1"
	o1, err := orders(p, testNet)
	if err != nil {
		t.Fatal(err)
	}
	o2, _ := orders(p, testNet)
	if o1.Config.Args[0] != "/app" || o1.MAC != testNet.MAC || o1.Config.Hostname != "web-1" ||
		!strings.Contains(o1.Net, "ip=10.4.0.5::10.4.0.1:255.255.255.0::eth0:off") {
		t.Errorf("orders = %+v", o1)
	}
	if len(o1.Seed) < 32 || len(o1.Seed) > urunit.MaxSeed || bytes.Equal(o1.Seed, o2.Seed) {
		t.Errorf("seeds %x and %x: want two fresh ones of 32..%d bytes", o1.Seed, o2.Seed, urunit.MaxSeed)
	}
	if o, _ := orders(p, nil); o.Net != "" || o.MAC != "" {
		t.Errorf("orders without a network: %+v", o)
	}
}

// The cold initrd is the template's initrd with urunit's config after it.
func TestWriteColdInitrd(t *testing.T) {
	dir := t.TempDir()
	p := linuxPlan(vmm.QEMU, vmm.FormatBzImage)
	p.Spec.Initrd, p.Spec.RunDir = filepath.Join(dir, "initrd"), dir
	if err := os.WriteFile(p.Spec.Initrd, []byte("IMAGE-INITRD"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeColdInitrd(p); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, coldInitrd)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("IMAGE-INITRD070701")) || !bytes.Contains(data, []byte(strings.TrimPrefix(urunit.ConfigPath, "/"))) ||
		!bytes.Contains(data, []byte(`"args":["/app"]`)) {
		t.Errorf("cold initrd %q", data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("cold initrd mode %v, want 0600: it holds args and env", fi.Mode().Perm())
	}
}

// A build whose supervisor is gone is swept, one still held is not; a
// dropped template always is, and the template itself never.
func TestSweepBuilds(t *testing.T) {
	entry := t.TempDir()
	shape := filepath.Join(entry, "shape1")
	for _, n := range []string{"build-held", "build-dead", "current.drop-1", "current"} {
		if err := os.MkdirAll(filepath.Join(shape, n), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// What a container could plant there: a FIFO (opening it would block
	// create) and a link to a folder outside.
	if err := unix.Mkfifo(filepath.Join(shape, "build-fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(shape, "build-link")); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockDir(filepath.Join(shape, "build-held"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	SweepBuilds(entry)
	ents, _ := os.ReadDir(shape)
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if !slices.Equal(left, []string{"build-held", "current"}) {
		t.Errorf("left %v, want the held build and the template", left)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("the folder a link pointed at is gone: %v", err)
	}
}

// The clock in the orders is the one when they are sent, however long
// ago they were made (a template build may come between).
func TestSendOrdersStampsTheClock(t *testing.T) {
	host, guest := net.Pipe()
	defer host.Close()
	got := make(chan urunit.Orders, 1)
	go func() {
		defer guest.Close()
		var rd agent.OrdersReader
		for {
			_, p, err := agent.ReadFrame(guest, nil)
			if err != nil {
				return
			}
			if done, _ := rd.Add(p); done {
				var o urunit.Orders
				rd.Decode(&o)
				got <- o
				agent.WriteJSON(guest, agent.FrameStarted, agent.Reply{Version: agent.Version})
				return
			}
		}
	}()
	made := urunit.Orders{Config: urunit.Config{Args: []string{"/app"}}, TimeNs: time.Now().Add(-time.Hour).UnixNano()}
	if err := sendOrders(host, made); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(time.Unix(0, (<-got).TimeNs)); d < 0 || d > 5*time.Second {
		t.Errorf("orders carry a clock %v old, want the time they were sent", d)
	}
}
