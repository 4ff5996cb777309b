package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
)

// State is runc's `state`/`list --format json` record.
type State struct {
	Version        string            `json:"ociVersion"`
	ID             string            `json:"id"`
	InitProcessPid int               `json:"pid"`
	Status         string            `json:"status"`
	Bundle         string            `json:"bundle"`
	Rootfs         string            `json:"rootfs"`
	Created        time.Time         `json:"created"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	Owner          string            `json:"owner"`
}

// State returns the state of one container.
func (r *Runtime) State(id string) (*State, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	return stateOf(c)
}

func stateOf(c *libcontainer.Container) (*State, error) {
	st, err := c.State()
	if err != nil {
		return nil, fmt.Errorf("state of %q: %w", c.ID(), err)
	}
	status, err := c.Status()
	if err != nil {
		return nil, fmt.Errorf("status of %q: %w", c.ID(), err)
	}
	pid := st.BaseState.InitProcessPid
	if status == libcontainer.Stopped {
		pid = 0
	}
	bundle, annotations := utils.Annotations(st.Config.Labels)
	return &State{
		Version:        st.BaseState.Config.Version,
		ID:             st.BaseState.ID,
		InitProcessPid: pid,
		Status:         status.String(),
		Bundle:         bundle,
		Rootfs:         st.BaseState.Config.Rootfs,
		Created:        st.BaseState.Created,
		Annotations:    annotations,
	}, nil
}

// List returns the state of every container under the root.
func (r *Runtime) List() ([]State, error) {
	entries, err := os.ReadDir(r.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state root %q: %w", r.Root, err)
	}
	var out []State
	for _, e := range entries {
		if !e.IsDir() || e.Name() == vmDirName {
			continue
		}
		c, err := libcontainer.Load(r.Root, e.Name())
		if err != nil {
			continue // being created or removed right now
		}
		s, err := stateOf(c)
		if err != nil {
			continue
		}
		if info, err := e.Info(); err == nil {
			s.Owner = ownerName(info)
		}
		out = append(out, *s)
	}
	return out, nil
}

func ownerName(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	if u, err := user.LookupId(fmt.Sprint(st.Uid)); err == nil {
		return u.Username
	}
	return fmt.Sprintf("#%d", st.Uid)
}
