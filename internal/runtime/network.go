package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"

	"github.com/urunc-dev/urunc/internal/launcher"
	"github.com/urunc-dev/urunc/internal/network"
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
	conf, _ := os.ReadFile(filepath.Join("/proc", fmt.Sprint(st.InitProcessPid), "root/etc/resolv.conf"))
	var found *launcher.Network
	err = network.InProcessNamespace(st.InitProcessPid, func() error {
		found, err = attachTap(id, int(plan.GuestSpec.UID), int(plan.GuestSpec.GID))
		if err != nil || found == nil {
			return err
		}
		found.DNS = network.Nameservers(conf)
		if err := checkGuestNetwork(plan, found); err != nil {
			return errors.Join(err, network.Teardown(found.Interface, found.Tap))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	if found == nil {
		return nil
	}
	return writeVMFile(filepath.Join(r.vmDir(id), shareDir, launcher.NetworkFile), found, plan.GuestSpec)
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
func attachTap(id string, uid, gid int) (*launcher.Network, error) {
	ifc, err := network.Discover("")
	if err != nil || ifc == nil {
		return nil, err
	}
	tap := network.TapName(id)
	if err := network.Setup(ifc, tap, uid, gid); err != nil {
		return nil, err
	}
	return describeNetwork(ifc, tap), nil
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

// teardownNetwork removes the tap and the redirect from a network namespace
// that outlives the container (a pod's, given by path in the spec). A
// namespace the container owned alone is gone with its last process, and
// the tap with it.
func (r *Runtime) teardownNetwork(id string, c *libcontainer.Container) error {
	n, err := launcher.ReadNetwork(filepath.Join(r.vmDir(id), shareDir))
	if err != nil || n == nil {
		return err
	}
	cfg := c.Config()
	path := cfg.Namespaces.PathOf(configs.NEWNET)
	if path == "" {
		return nil
	}
	err = network.InNamespace(path, func() error { return network.Teardown(n.Interface, n.Tap) })
	if err != nil {
		return fmt.Errorf("network teardown in %s: %w", path, err)
	}
	return nil
}

func (r *Runtime) readPlan(id string) (launcher.Plan, error) {
	return launcher.ReadPlan(filepath.Join(r.vmDir(id), shareDir))
}
