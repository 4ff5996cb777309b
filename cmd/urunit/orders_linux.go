package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/agent"
	"github.com/urunc-runtime/urunc/internal/urunit"
)

// ordersMode reports whether the kernel command line asks urunit to wait
// for its orders on the agent channel (a VM template, or a guest started
// like one) instead of reading its config from the initramfs.
func ordersMode() bool {
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return false
	}
	_, ok := urunit.ParseCmdline(string(cmdline)).Last(urunit.OrdersParam)
	return ok
}

// runOrdered runs the application the host orders over the virtio-serial
// agent port. Until the orders come, nothing of any container is in the
// guest: this is the state a VM template is saved in.
func runOrdered(modErr error, reap *reaper, signals *appSignals) int {
	if modErr != nil {
		return fail("load kernel modules", modErr, statusFailure)
	}
	ag := newAgentServer(reap, signals, os.Stderr)
	f, err := openVirtioPort(virtioPortsDir, devDir, time.Now().Add(openWait))
	if err != nil {
		return fail("open the agent channel to wait for orders", err, statusFailure)
	}
	conn, o, err := awaitOrders(f)
	if err != nil {
		return fail("read orders", err, statusFailure)
	}
	cfg, err := applyOrders(o)
	if werr := agent.WriteJSON(conn, agent.FrameStarted, startedReply(err)); werr != nil && err == nil {
		err = fmt.Errorf("answer the orders: %w", werr)
	}
	if err != nil {
		return fail("apply orders", err, statusFailure)
	}
	ag.enabled = true
	ag.opened(nil)
	go func() {
		defer recoverGoroutine("agent transport")
		if err := ag.serveOnPort(f, conn); err != nil {
			fail("agent channel", err, 0)
		}
	}()
	status := runConfig(cfg, reap, signals, ag)
	ag.reportExit(status)
	return status
}

func startedReply(err error) agent.Reply {
	if err != nil {
		return agent.Reply{Version: agent.Version, Error: err.Error()}
	}
	return agent.Reply{Version: agent.Version}
}

// awaitOrders answers FrameHello with FrameReady until FrameOrders come,
// and returns the connection they came on. The host may go away between
// frames (a template is saved while urunit waits here, and each clone
// is a new host): a closed channel is waited on, never an error.
func awaitOrders(f *os.File) (io.ReadWriteCloser, urunit.Orders, error) {
	buf := make([]byte, agent.MaxPayload)
	var rd agent.OrdersReader
	var conn io.ReadWriteCloser
	for {
		if conn == nil {
			c, err := waitHost(f)
			if err != nil {
				return nil, urunit.Orders{}, fmt.Errorf("read %s: %w", f.Name(), err)
			}
			conn = c
		}
		t, p, err := agent.ReadFrame(conn, buf)
		if errors.Is(err, io.EOF) {
			conn = nil
			continue
		}
		if err != nil {
			return nil, urunit.Orders{}, err
		}
		switch t {
		case agent.FrameHello:
			if err := agent.WriteFrame(conn, agent.FrameReady, nil); err != nil {
				return nil, urunit.Orders{}, err
			}
		case agent.FrameOrders:
			done, err := rd.Add(p)
			if err != nil {
				return nil, urunit.Orders{}, err
			}
			if done {
				var o urunit.Orders
				return conn, o, rd.Decode(&o)
			}
		default:
			return nil, urunit.Orders{}, fmt.Errorf("%w: type %d before the orders", agent.ErrUnexpected, t)
		}
	}
}

// applyOrders makes the guest the container's: a fresh clock and random
// pool (a clone resumes with the template's), its host name, NIC address
// and network, and returns the application's config.
func applyOrders(o urunit.Orders) (urunit.Config, error) {
	data, err := json.Marshal(o.Config)
	if err != nil {
		return urunit.Config{}, err
	}
	cfg, err := parseConfig(data) // the same checks and defaults as a config file
	if err != nil {
		return urunit.Config{}, fmt.Errorf("config: %w", err)
	}
	if o.TimeNs > 0 {
		ts := unix.NsecToTimespec(o.TimeNs)
		if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
			return urunit.Config{}, fmt.Errorf("set the clock: %w", err)
		}
	}
	if err := reseed(o.Seed); err != nil {
		return urunit.Config{}, err
	}
	var mac net.HardwareAddr
	if o.MAC != "" {
		if mac, err = net.ParseMAC(o.MAC); err != nil {
			return urunit.Config{}, fmt.Errorf("mac: %w", err)
		}
	}
	if err := setupNetworkFrom(o.Net, mac); err != nil {
		// As at a cold boot: the app may not need the network.
		fail("set up network (the application runs without it)", err, 0)
	}
	return cfg, nil
}

// Linux's random ioctls (include/uapi/linux/random.h).
const (
	rndAddEntropy  = 0x40085203 // RNDADDENTROPY
	rndReseedCRNG  = 0x5207     // RNDRESEEDCRNG
	minSeedLength  = 32
	bitsPerByte    = 8
	randomPoolPath = "/dev/urandom"
)

// reseed credits seed to the kernel's random pool and reseeds its CRNG
// from it at once, so that no two clones of a template draw the same
// numbers after the orders.
func reseed(seed []byte) error {
	if len(seed) < minSeedLength || len(seed) > urunit.MaxSeed {
		return fmt.Errorf("seed: %d bytes, want %d to %d", len(seed), minSeedLength, urunit.MaxSeed)
	}
	f, err := os.OpenFile(randomPoolPath, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("reseed: %w", err)
	}
	defer f.Close()
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	info := make([]byte, 8+len(seed))
	*(*int32)(unsafe.Pointer(&info[0])) = int32(len(seed) * bitsPerByte)
	*(*int32)(unsafe.Pointer(&info[4])) = int32(len(seed))
	copy(info[8:], seed)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), rndAddEntropy, uintptr(unsafe.Pointer(&info[0]))); e != 0 {
		return fmt.Errorf("reseed: add entropy: %w", e)
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), rndReseedCRNG, 0); e != 0 {
		return fmt.Errorf("reseed: %w", e)
	}
	return nil
}
