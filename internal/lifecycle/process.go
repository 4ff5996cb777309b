package lifecycle

import (
	"fmt"
	"os"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// newProcess converts an OCI process to a libcontainer one. Fields the
// container config already carries (capabilities, no-new-privileges, ...)
// are set only for exec, where they may differ from the init's. The
// AppArmor profile is set for both: specconv leaves it out of the container
// config (runc sets it on the init process, as here), so without it the
// init would run unconfined whatever process.apparmorProfile says.
func newProcess(p *specs.Process, init bool) (*libcontainer.Process, error) {
	lp := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Cwd:             p.Cwd,
		Init:            init,
		AppArmorProfile: p.ApparmorProfile,
	}
	for _, g := range p.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	if p.ConsoleSize != nil {
		lp.ConsoleWidth, lp.ConsoleHeight = uint16(p.ConsoleSize.Width), uint16(p.ConsoleSize.Height)
	}
	for _, rl := range p.Rlimits {
		typ, err := rlimitType(rl.Type)
		if err != nil {
			return nil, err
		}
		lp.Rlimits = append(lp.Rlimits, configs.Rlimit{Type: typ, Hard: rl.Hard, Soft: rl.Soft})
	}
	if init {
		return lp, nil
	}
	lp.NoNewPrivileges = &p.NoNewPrivileges
	lp.Label = p.SelinuxLabel
	if c := p.Capabilities; c != nil {
		lp.Capabilities = &configs.Capabilities{
			Bounding: c.Bounding, Effective: c.Effective, Inheritable: c.Inheritable,
			Permitted: c.Permitted, Ambient: c.Ambient,
		}
	}
	return lp, nil
}

var rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

func rlimitType(name string) (int, error) {
	t, ok := rlimits[strings.ToUpper(name)]
	if !ok {
		return 0, fmt.Errorf("process.rlimits: unknown type %q", name)
	}
	return t, nil
}

// preservedFiles returns the n descriptors after stdio and extra files that
// the caller asked to pass into the container (--preserve-fds).
func preservedFiles(n int) ([]*os.File, error) {
	var fs []*os.File
	for fd := 3; fd < 3+n; fd++ {
		if err := unix.FcntlFlock(uintptr(fd), unix.F_GETLK, &unix.Flock_t{}); err == unix.EBADF {
			return nil, fmt.Errorf("--preserve-fds: descriptor %d is not open", fd)
		}
		fs = append(fs, os.NewFile(uintptr(fd), fmt.Sprintf("preserved-fd-%d", fd)))
	}
	return fs, nil
}
