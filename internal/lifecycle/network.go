package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/urunc-runtime/urunc/internal/fault"
	"github.com/urunc-runtime/urunc/internal/launcher"
	"github.com/urunc-runtime/urunc/internal/network"
)

// setupNetwork gives the VM the container's network. It runs at start, in
// urunc on the host (where CAP_NET_ADMIN is), because every client has
// configured the container's namespace by then: inside that namespace it
// finds the interface, creates a tap owned by the VMM's user and redirects
// all traffic between the two, then records what the launcher needs. A
// container without an interface gives the guest no network.
func (r *Runtime) setupNetwork(id string, c *libcontainer.Container) error {
	st, err := c.State()
	if err != nil {
		return fmt.Errorf("network: container state: %w", err)
	}
	plan, err := r.readPlan(id)
	if err != nil {
		return err
	}
	cfg := c.Config()
	netns := cfg.Namespaces.PathOf(configs.NEWNET)
	conf, _ := os.ReadFile(filepath.Join("/proc", fmt.Sprint(st.InitProcessPid), "root/etc/resolv.conf"))
	var found *launcher.Network
	same := func() error { return sameProcess(st.InitProcessPid, st.InitProcessStartTime) }
	err = network.InProcessNamespaceOf(st.InitProcessPid, same, func() error {
		record := func(w network.Wiring) error {
			return r.updateRecord(id, func(h *hostRecord) { h.NetNS, h.Wiring = netns, &w })
		}
		found, err = attachTap(id, int(plan.GuestSpec.UID), int(plan.GuestSpec.GID), record)
		if err != nil || found == nil {
			return err
		}
		found.DNS = network.Nameservers(conf)
		if err := checkGuestNetwork(plan, found); err != nil {
			return errors.Join(err, network.Teardown(wiring(found)))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	fault.Point(fault.StartNetworkWired)
	if found == nil {
		return nil
	}
	return writeVMFile(filepath.Join(r.vmDir(id), shareDir, launcher.NetworkFile), found, plan.GuestSpec)
}

// sameProcess checks that pid is still the process that started at
// startTime (libcontainer's record of the init), not a reused pid.
func sameProcess(pid int, startTime uint64) error {
	p, err := processID(pid)
	if err != nil || p.StartTime != startTime {
		return fmt.Errorf("the container's init %d is gone (its pid may have been reused)", pid)
	}
	return nil
}

// ErrHostNetwork is returned at create for a unikernel container that would
// share urunc's own network namespace.
var ErrHostNetwork = errors.New("unikernel containers need a network namespace of their own")

// checkOwnNetns refuses a spec whose container would run in urunc's own
// (the host's) network namespace: start wires the namespace's interface to
// the guest, which there would take over the host's interface. That is
// docker --network host, podman --network host and hostNetwork pods.
func checkOwnNetns(s *specs.Spec) error {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type != specs.NetworkNamespace {
			continue
		}
		if ns.Path == "" {
			return nil // a new one
		}
		same, err := sameFile(ns.Path, "/proc/self/ns/net")
		if err != nil {
			return fmt.Errorf("linux.namespaces: network namespace %q: %w", ns.Path, err)
		}
		if same {
			return fmt.Errorf("%w: linux.namespaces names %q, which is the host's; run it without host networking",
				ErrHostNetwork, ns.Path)
		}
		return nil
	}
	return fmt.Errorf("%w: linux.namespaces has no network namespace, so it would be the host's "+
		"(host networking: docker/podman --network host, hostNetwork: true); run it without host networking", ErrHostNetwork)
}

// sameFile reports whether two paths name the same inode.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// checkGuestNetwork builds the launcher's VMM command line for the network
// found, so that a network the guest cannot take (an IPv6-only one for a
// guest that takes IPv4 only) fails start with the reason instead of the
// launcher after it.
func checkGuestNetwork(plan launcher.Plan, n *launcher.Network) error {
	_, err := launcher.Argv(plan, n)
	if err != nil && n.IP == "" {
		return fmt.Errorf("%w (interface %q has IPv6 only, %s/%d, and only linux guests take IPv6)",
			err, n.Interface, n.IP6, n.PrefixLen6)
	}
	return err
}

// attachTap wires a tap to the interface of the current network namespace.
// record gets the wiring before Setup makes it (the ingress qdisc counted
// as urunc's only when the interface has none yet) and again once made.
func attachTap(id string, uid, gid int, record func(network.Wiring) error) (*launcher.Network, error) {
	ifc, err := network.Discover("")
	if err != nil || ifc == nil {
		return nil, err
	}
	had, err := network.HasIngress(ifc.Name)
	if err != nil {
		return nil, err
	}
	tap := network.TapName(id)
	if err := record(network.Wiring{Interface: ifc.Name, Tap: tap, IngressQdisc: !had}); err != nil {
		return nil, err
	}
	fault.Point(fault.StartNetworkRecorded)
	w, err := network.Setup(ifc, tap, uid, gid)
	if err != nil {
		return nil, err
	}
	if err := record(w); err != nil {
		return nil, errors.Join(err, network.Teardown(w))
	}
	n := describeNetwork(ifc, w.Tap)
	n.IngressQdisc = w.IngressQdisc
	return n, nil
}

// wiring is what network.Setup recorded in n.
func wiring(n *launcher.Network) network.Wiring {
	return network.Wiring{Interface: n.Interface, Tap: n.Tap, IngressQdisc: n.IngressQdisc}
}

// describeNetwork records what the launcher needs of a discovered
// interface: its IPv4 address, its IPv6 address, or both.
func describeNetwork(ifc *network.Interface, tap string) *launcher.Network {
	n := &launcher.Network{Interface: ifc.Name, Tap: tap, MAC: ifc.MAC.String(), MTU: ifc.MTU}
	if ifc.IP != nil {
		n.IP, n.PrefixLen = ifc.IP.String(), ifc.PrefixLen
		if ifc.Gateway != nil {
			n.Gateway = ifc.Gateway.String()
		}
	}
	if ifc.IP6 != nil {
		n.IP6, n.PrefixLen6 = ifc.IP6.String(), ifc.PrefixLen6
		if ifc.Gateway6 != nil {
			n.Gateway6 = ifc.Gateway6.String()
		}
	}
	return n
}

func (r *Runtime) readPlan(id string) (launcher.Plan, error) {
	return launcher.ReadPlan(filepath.Join(r.vmDir(id), shareDir))
}
