package network

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tapFlags are the flags QEMU (and other VMMs) open a tap with: Ethernet
// frames without packet info, with a virtio-net header, single queue.
const tapFlags = netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR

// filterPriority is the priority of the redirect filters urunc installs.
const filterPriority = 1

// Setup creates the tap device tap in the current network namespace and
// splices it to the container interface ifc with tc: every frame arriving on
// ifc is redirected out of the tap (to the guest) and every frame the guest
// writes to the tap is redirected out of ifc.
//
// The tap is persistent, single-queue and has IFF_NO_PI|IFF_VNET_HDR. It
// belongs to uid and gid: a process without CAP_NET_ADMIN may attach to it
// only when its effective uid is uid AND gid is its effective or a
// supplementary group (the kernel checks both, and netlink always sets the
// group), so pass the VMM process's own uid and gid; 0, 0 for a root VMM.
//
// What an earlier container of the namespace left is removed first: a tap
// of the same name, and the redirects of ifc to urunc taps that no VMM
// holds any more (or to a device that is gone, which would drop every
// frame). Nothing else on ifc is touched: its ingress qdisc is shared with
// whatever else filters there. The Wiring returned says what Setup made,
// for Teardown; on failure, that is removed again.
func Setup(ifc *Interface, tap string, uid, gid int) (Wiring, error) {
	if err := checkSetup(ifc, tap, uid, gid); err != nil {
		return Wiring{}, err
	}
	if err := checkFree(ifc.Name, tap); err != nil {
		return Wiring{}, err
	}
	w := Wiring{Interface: ifc.Name, Tap: tap}
	adopt, err := removeStale(ifc.Name, tap)
	if err != nil {
		return Wiring{}, fmt.Errorf("remove stale network set-up: %w", err)
	}
	w.IngressQdisc = adopt
	if err := setup(ifc, tap, uint32(uid), uint32(gid), &w); err != nil {
		return Wiring{}, errors.Join(err, Teardown(w))
	}
	return w, nil
}

// removeStale removes the tap called tap and the redirects of ifcName that
// lead to it, to a urunc tap no VMM holds, or to no device. It reports
// whether the ingress qdisc is left empty by that: then it was urunc's.
func removeStale(ifcName, tap string) (bool, error) {
	link, err := linkByName(ifcName)
	if err != nil || link == nil {
		return false, err
	}
	filters, err := netlink.FilterList(link, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		return false, fmt.Errorf("list ingress filters of %q: %w", ifcName, err)
	}
	removed := 0
	for _, f := range filters {
		target, ok := redirectTarget(f)
		if !ok || !staleTarget(target, tap) {
			continue
		}
		if err := netlink.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
			return false, fmt.Errorf("delete stale redirect of %q: %w", ifcName, err)
		}
		removed++
	}
	if err := deleteTap(tap); err != nil {
		return false, err
	}
	return removed > 0 && removed == len(filters), nil
}

// redirectTarget is the device index a urunc-style filter (u32 with one
// mirred action) redirects to.
func redirectTarget(f netlink.Filter) (int, bool) {
	u, ok := f.(*netlink.U32)
	if !ok {
		return 0, false
	}
	for _, a := range u.Actions {
		if m, ok := a.(*netlink.MirredAction); ok {
			return m.Ifindex, true
		}
	}
	return 0, false
}

// staleTarget: the device index is gone (the kernel reports 0 for a
// mirred whose device was removed), is the tap about to be made, or is a
// urunc tap whose VMM is gone (no carrier).
func staleTarget(index int, tap string) bool {
	if index == 0 {
		return true
	}
	l, err := netlink.LinkByIndex(index)
	if err != nil {
		return true
	}
	name := l.Attrs().Name
	if name == tap {
		return true
	}
	_, isTap := l.(*netlink.Tuntap)
	return isTap && strings.HasPrefix(name, TapPrefix) && l.Attrs().RawFlags&unix.IFF_LOWER_UP == 0
}

// checkFree refuses an interface whose traffic already goes to another tap
// that a VMM holds (its carrier is up): taking it over would cut that guest
// off. A redirect to a tap nobody holds any more, left by a crashed
// container, does not count.
func checkFree(ifcName, tap string) error {
	link, err := linkByName(ifcName)
	if err != nil || link == nil {
		return err
	}
	filters, err := netlink.FilterList(link, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		return fmt.Errorf("list ingress filters of %q: %w", ifcName, err)
	}
	for _, f := range filters {
		u, ok := f.(*netlink.U32)
		if !ok {
			continue
		}
		for _, a := range u.Actions {
			m, ok := a.(*netlink.MirredAction)
			if !ok {
				continue
			}
			target, err := netlink.LinkByIndex(m.Ifindex)
			if err != nil || target.Attrs().Name == tap || target.Attrs().RawFlags&unix.IFF_LOWER_UP == 0 {
				continue
			}
			return fmt.Errorf("set up tap %q: %w: %q already redirects to %q, held by a running VMM (urunc serves one guest per network namespace)",
				tap, ErrInUse, ifcName, target.Attrs().Name)
		}
	}
	return nil
}

func checkSetup(ifc *Interface, tap string, uid, gid int) error {
	switch {
	case ifc == nil || ifc.Name == "":
		return fmt.Errorf("set up tap %q: no container interface: %w", tap, ErrInvalidArgument)
	case tap == "" || len(tap) > maxIfName:
		return fmt.Errorf("set up tap %q: name must be 1-%d bytes: %w", tap, maxIfName, ErrInvalidArgument)
	case tap == ifc.Name:
		return fmt.Errorf("set up tap %q: same name as the container interface: %w", tap, ErrInvalidArgument)
	case !validID(uid) || !validID(gid):
		return fmt.Errorf("set up tap %q: owner %d:%d: %w", tap, uid, gid, ErrInvalidArgument)
	}
	return nil
}

// validID reports whether id is a uid or gid the kernel accepts (not -1).
func validID(id int) bool {
	return id >= 0 && int64(id) < int64(^uint32(0))
}

func setup(ifc *Interface, tap string, uid, gid uint32, w *Wiring) error {
	link, err := netlink.LinkByName(ifc.Name)
	if err != nil {
		return fmt.Errorf("find link %q: %w", ifc.Name, err)
	}
	t, err := createTap(tap, ifc.MTU, uid, gid)
	if err != nil {
		return err
	}
	made, err := redirect(link, t)
	w.IngressQdisc = w.IngressQdisc || made
	if err != nil {
		return err
	}
	_, err = redirect(t, link)
	return err
}

func createTap(name string, mtu int, uid, gid uint32) (netlink.Link, error) {
	t := &netlink.Tuntap{
		LinkAttrs: netlink.LinkAttrs{Name: name},
		Mode:      netlink.TUNTAP_MODE_TAP,
		Flags:     tapFlags,
		Owner:     uid,
		Group:     gid,
	}
	if err := netlink.LinkAdd(t); err != nil {
		return nil, fmt.Errorf("create tap %q: %w", name, err)
	}
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("find tap %q: %w", name, err)
	}
	if mtu > 0 {
		if err := netlink.LinkSetMTU(link, mtu); err != nil {
			return nil, fmt.Errorf("set mtu %d of tap %q: %w", mtu, name, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("bring up tap %q: %w", name, err)
	}
	return link, nil
}

// redirect adds a u32 match-all filter to the ingress qdisc of from (made
// if absent; it reports whether it made it) whose mirred action redirects
// every frame to the egress of to, in effect `tc filter add dev FROM parent
// ffff: protocol all prio 1 u32 match u32 0 0 action mirred egress redirect
// dev TO`.
func redirect(from, to netlink.Link) (made bool, err error) {
	qdisc := &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{
		LinkIndex: from.Attrs().Index,
		Handle:    netlink.MakeHandle(0xffff, 0),
		Parent:    netlink.HANDLE_INGRESS,
	}}
	switch err := netlink.QdiscAdd(qdisc); {
	case err == nil:
		made = true
	case !errors.Is(err, unix.EEXIST):
		return false, fmt.Errorf("add ingress qdisc to %q: %w", from.Attrs().Name, err)
	}
	filter := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: from.Attrs().Index,
			Parent:    netlink.MakeHandle(0xffff, 0),
			Priority:  filterPriority,
			Protocol:  unix.ETH_P_ALL,
		},
		// A nil selector is netlink's match-all (one zero key: match u32 0 0).
		Actions: []netlink.Action{netlink.NewMirredAction(to.Attrs().Index)},
	}
	if err := netlink.FilterAdd(filter); err != nil {
		return made, fmt.Errorf("add redirect from %q to %q: %w", from.Attrs().Name, to.Attrs().Name, err)
	}
	return made, nil
}

// Teardown removes what Setup recorded in w: the redirects of the
// interface to the tap, the tap (its own qdisc goes with it) and, when it
// is urunc's and no filter is left on it, the interface's ingress qdisc.
// Another container's redirect is never touched. What is already gone is
// not an error, so Teardown may run any number of times. A link named tap
// that is not a tap is left alone and reported.
func Teardown(w Wiring) error {
	link, err := linkByName(w.Interface)
	if err != nil {
		return err
	}
	tap, err := linkByName(w.Tap)
	if err != nil {
		return err
	}
	if link != nil && tap != nil {
		if _, ok := tap.(*netlink.Tuntap); ok {
			if err := deleteRedirects(link, tap.Attrs().Index); err != nil {
				return err
			}
		}
	}
	if err := deleteTap(w.Tap); err != nil {
		return err
	}
	if link == nil || !w.IngressQdisc {
		return nil
	}
	return deleteEmptyIngress(link)
}

// deleteRedirects removes the ingress filters of link that redirect to
// the device index.
func deleteRedirects(link netlink.Link, index int) error {
	filters, err := netlink.FilterList(link, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		return fmt.Errorf("list ingress filters of %q: %w", link.Attrs().Name, err)
	}
	for _, f := range filters {
		if target, ok := redirectTarget(f); ok && target == index {
			if err := netlink.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("delete redirect of %q: %w", link.Attrs().Name, err)
			}
		}
	}
	return nil
}

func deleteTap(name string) error {
	link, err := linkByName(name)
	if err != nil || link == nil {
		return err
	}
	if _, ok := link.(*netlink.Tuntap); !ok {
		return fmt.Errorf("delete tap %q: %w (type %q)", name, ErrNotTap, link.Type())
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete tap %q: %w", name, err)
	}
	return nil
}

// deleteEmptyIngress removes link's ingress qdisc when no filter is on it.
func deleteEmptyIngress(link netlink.Link) error {
	ifcName := link.Attrs().Name
	filters, err := netlink.FilterList(link, netlink.HANDLE_MIN_INGRESS)
	if err != nil {
		return fmt.Errorf("list ingress filters of %q: %w", ifcName, err)
	}
	if len(filters) > 0 {
		return nil // another guest's, or another tool's
	}
	qdiscs, err := netlink.QdiscList(link)
	if err != nil {
		return fmt.Errorf("list qdiscs of %q: %w", ifcName, err)
	}
	for _, q := range qdiscs {
		if _, ok := q.(*netlink.Ingress); !ok {
			continue
		}
		err := netlink.QdiscDel(q)
		if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("delete ingress qdisc of %q: %w", ifcName, err)
		}
	}
	return nil
}

// HasIngress reports whether the interface called name has an ingress
// qdisc: one that exists before Setup is not urunc's.
func HasIngress(name string) (bool, error) {
	link, err := linkByName(name)
	if err != nil || link == nil {
		return false, err
	}
	qdiscs, err := netlink.QdiscList(link)
	if err != nil {
		return false, fmt.Errorf("list qdiscs of %q: %w", name, err)
	}
	for _, q := range qdiscs {
		if _, ok := q.(*netlink.Ingress); ok {
			return true, nil
		}
	}
	return false, nil
}

// linkByName returns the link, or nil without error when it does not exist.
func linkByName(name string) (netlink.Link, error) {
	link, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find link %q: %w", name, err)
	}
	return link, nil
}
