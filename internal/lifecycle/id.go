package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// ErrInvalidID is wrapped by every container id ValidateID refuses.
var ErrInvalidID = errors.New("invalid container id")

// maxIDLen is NAME_MAX: the id names a folder in the state root.
const maxIDLen = 255

// ValidateID applies runc's rule for container ids (libcontainer's
// validateID): one or more of A-Z a-z 0-9 _ + - . and not "." or "..".
// Every path, tap name and cgroup urunc derives from an id is built only
// after this check, so no id can name anything outside the state root.
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: it is empty", ErrInvalidID)
	case len(id) > maxIDLen:
		return fmt.Errorf("%w: %d bytes, at most %d (it names a folder)", ErrInvalidID, len(id), maxIDLen)
	case id == "." || id == "..":
		return fmt.Errorf("%w %q: not a folder name", ErrInvalidID, id)
	case id == vmDirName:
		return fmt.Errorf("%w %q: reserved by urunc", ErrInvalidID, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '+' || c == '-' || c == '.') {
			return fmt.Errorf("%w %q: byte %q at %d; use only A-Z a-z 0-9 _ + - . (as runc)", ErrInvalidID, id, c, i)
		}
	}
	return nil
}

// claimPrefix starts the temporary name of a VM folder being claimed; no
// container id can start with it ("+" after ".").
const claimPrefix = ".+claim-"

// claimSweepAge is how old a claim's temporary folder must be to be swept.
const claimSweepAge = 10 * time.Second

// ErrCreating is returned when another urunc is creating the same id.
var ErrCreating = errors.New("another urunc is creating this container")

// claimVMDir makes the container's VM folder, 0700, and returns it open and
// flock'ed: the lock is held until create is over, so a concurrent create
// of the same id fails without touching it. The folder is made under a
// temporary name, locked, then renamed into place (RENAME_NOREPLACE), so it
// is never visible unlocked. A folder left by a create that died (no lock
// held, no libcontainer state) is removed and claimed anew.
func (r *Runtime) claimVMDir(id string) (*os.File, error) {
	dir := r.vmDir(id)
	parent := filepath.Dir(dir)
	for attempt := 0; attempt < 3; attempt++ {
		if err := os.MkdirAll(parent, 0o700); err != nil {
			return nil, fmt.Errorf("vm folder: %w", err)
		}
		tmp, err := os.MkdirTemp(parent, claimPrefix)
		if errors.Is(err, os.ErrNotExist) {
			continue // a delete removed the empty parent meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("vm folder: %w", err)
		}
		f, err := lockDir(tmp, unix.LOCK_EX)
		if errors.Is(err, os.ErrNotExist) {
			continue // swept by another create before it was locked
		}
		if err != nil {
			os.Remove(tmp)
			return nil, err
		}
		// A sweeper that locked tmp before this claim did removes it and
		// then lets go: the lock is then held on a folder already gone.
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err == nil && st.Nlink == 0 {
			f.Close()
			continue
		}
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_NOREPLACE)
		if err == nil {
			sweepClaims(parent)
			return f, nil
		}
		f.Close()
		os.Remove(tmp)
		if !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("vm folder %s: %w", dir, err)
		}
		if err := r.removeStaleVMDir(id, false); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("vm folder %s: still in use after 3 tries", dir)
}

// sweepClaims removes the temporary folders of claims whose create died
// before the rename: no lock is held on them.
func sweepClaims(parent string) {
	stale, _ := filepath.Glob(filepath.Join(parent, claimPrefix+"*"))
	for _, d := range stale {
		// A claim locks its folder right after making it: leave young ones
		// be, so that a sweep does not take one before its lock.
		if fi, err := os.Stat(d); err != nil || time.Since(fi.ModTime()) < claimSweepAge {
			continue
		}
		f, err := lockDir(d, unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			continue // a claim in progress, or gone
		}
		os.RemoveAll(d)
		f.Close()
	}
}

// removeStaleVMDir removes the VM folder of id when no create holds it and
// no container of that id exists; otherwise it says which.
func (r *Runtime) removeStaleVMDir(id string, force bool) error {
	f, err := lockDir(r.vmDir(id), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		return fmt.Errorf("container %q: %w", id, ErrCreating)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := libcontainer.Load(r.Root, id); err == nil {
		return fmt.Errorf("container %q: %w", id, libcontainer.ErrExist)
	}
	log := r.Log.WithField("id", id)
	log.Warn("removing the vm folder a failed create or delete left")
	h, err := r.readRecord(id)
	if err == nil {
		err = r.removeRecorded(id, h)
	}
	if err != nil && !force {
		return fmt.Errorf("container %q: remove what its host record lists: %w (delete --force removes the folder anyway)", id, err)
	}
	if err != nil {
		log.WithError(err).Warn("delete --force: removing the vm folder although its host objects could not all be removed")
	}
	if err := os.RemoveAll(r.vmDir(id)); err != nil {
		return fmt.Errorf("remove stale vm folder of %q: %w", id, err)
	}
	r.removeVMParent()
	return nil
}

// lockDir opens a folder and takes a flock on it.
func lockDir(dir string, how int) (*os.File, error) {
	f, err := os.OpenFile(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("vm folder: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock vm folder %s: %w", dir, err)
	}
	return f, nil
}
