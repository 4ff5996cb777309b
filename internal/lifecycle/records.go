package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer/system"
	"golang.org/x/sys/unix"

	"github.com/urunc-runtime/urunc/internal/fault"
	"github.com/urunc-runtime/urunc/internal/network"
)

// hostRecordFile, in the VM folder, lists the host objects urunc makes for
// a unikernel container beyond what libcontainer tracks. Each is recorded
// before it is made, so that delete removes exactly what exists whatever
// step died, even once libcontainer's own state is gone.
const hostRecordFile = "host.json"

// hostRecord is hostRecordFile's content.
type hostRecord struct {
	// NetNS is the path of the network namespace the tap is made in when
	// it outlives the container (a pod's); "" when the container owns its
	// namespace, whose tap and redirect go with its last process.
	NetNS string `json:"netns,omitempty"`
	// Wiring is the tap and redirect start makes, recorded before Setup
	// (the ingress qdisc counted as urunc's only if none existed) and
	// again, exact, once made.
	Wiring *network.Wiring `json:"wiring,omitempty"`
	// RootDisk is the loop device whose autoclear create turned off,
	// with what identifies its backing file.
	RootDisk *loopID `json:"rootDisk,omitempty"`
}

// loopID names a loop device by what it is bound to: a device number
// alone may be bound to another file by the time delete runs.
type loopID struct {
	Device string `json:"device"`
	Dev    uint64 `json:"dev"`   // lo_device: the backing file's device
	Inode  uint64 `json:"inode"` // lo_inode: the backing file's inode
}

// procID names a process by pid and start time, which a reused pid does
// not share.
type procID struct {
	Pid       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
}

// processID returns pid's identity, for a record.
func processID(pid int) (procID, error) {
	st, err := system.Stat(pid)
	if err != nil {
		return procID{}, err
	}
	return procID{Pid: pid, StartTime: st.StartTime}, nil
}

// readRecord reads container id's host record; a missing one is empty.
func (r *Runtime) readRecord(id string) (hostRecord, error) {
	var h hostRecord
	data, err := os.ReadFile(filepath.Join(r.vmDir(id), hostRecordFile))
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("read host record: %w", err)
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("parse host record: %w", err)
	}
	return h, nil
}

// updateRecord changes container id's host record with f and writes it
// atomically, under a lock: start and kill may update it at once.
func (r *Runtime) updateRecord(id string, f func(*hostRecord)) error {
	lock, err := os.OpenFile(filepath.Join(r.vmDir(id), hostRecordFile+".lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("lock host record: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock host record: %w", err)
	}
	h, err := r.readRecord(id)
	if err != nil {
		return err
	}
	f(&h)
	data, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode host record: %w", err)
	}
	return writeFileAtomic(filepath.Join(r.vmDir(id), hostRecordFile), data, 0o600, -1, -1)
}

// removeRecorded removes what container id's host record lists and its
// processes have left: the tap and redirect in a namespace that outlives
// the container, the loop device's autoclear. What is
// already gone is not an error, so it may run any number of times.
func (r *Runtime) removeRecorded(id string, h hostRecord) error {
	var errs []error
	if h.Wiring != nil && h.NetNS != "" {
		err := network.InNamespace(h.NetNS, func() error { return network.Teardown(*h.Wiring) })
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("network teardown in %s: %w", h.NetNS, err))
		}
	}
	fault.Point(fault.DeleteNetworkRemoved)
	if h.RootDisk != nil {
		errs = append(errs, restoreLoop(*h.RootDisk))
	}
	fault.Point(fault.DeleteLoopRestored)
	return errors.Join(errs...)
}
