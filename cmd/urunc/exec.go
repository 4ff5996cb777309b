package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"

	"github.com/urunc-runtime/urunc/internal/lifecycle"
)

var execCommand = &cli.Command{
	Name:      "exec",
	Usage:     "run a process in a running container (a plain one, or a Linux guest through its agent)",
	ArgsUsage: "<container-id> [command...]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "process.json to run"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}},
		&cli.StringFlag{Name: "cwd"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "uid[:gid]"},
		&cli.StringFlag{Name: "pid-file"},
		&cli.StringFlag{Name: "console-socket"},
		&cli.IntFlag{Name: "preserve-fds"},
	},
	Action: func(c *cli.Context) error {
		if c.NArg() < 1 {
			return checkArgs(c, 1, 1)
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		id := c.Args().First()
		proc, err := execProcess(c, rt, id)
		if err != nil {
			return err
		}
		status, err := rt.Exec(id, proc, lifecycle.IOOpts{
			ConsoleSocket: c.String("console-socket"),
			PidFile:       absPath(c.String("pid-file")),
			PreserveFDs:   c.Int("preserve-fds"),
			Detach:        c.Bool("detach"),
		})
		if err != nil {
			return err
		}
		if status != 0 {
			return exitCode(status)
		}
		return nil
	},
}

// execProcess reads --process, or builds the process from the arguments
// on top of the container's own process settings.
func execProcess(c *cli.Context, rt *lifecycle.Runtime, id string) (*specs.Process, error) {
	if path := c.String("process"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--process: %w", err)
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("--process %q: %w", path, err)
		}
		return &p, nil
	}
	if c.NArg() < 2 {
		return nil, fmt.Errorf("exec: no command given: usage: urunc exec <container-id> <command...> or --process <file>")
	}
	p, err := rt.InitProcess(id)
	if err != nil {
		return nil, err
	}
	p.Args = c.Args().Slice()[1:]
	p.Terminal = c.Bool("tty")
	p.Env = append(p.Env, c.StringSlice("env")...)
	if cwd := c.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if u := c.String("user"); u != "" {
		if err := parseUser(u, &p.User); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func parseUser(s string, u *specs.User) error {
	uid, gid, hasGID := strings.Cut(s, ":")
	n, err := strconv.ParseUint(uid, 10, 32)
	if err != nil {
		return fmt.Errorf("--user %q: uid must be a number", s)
	}
	u.UID = uint32(n)
	if hasGID {
		g, err := strconv.ParseUint(gid, 10, 32)
		if err != nil {
			return fmt.Errorf("--user %q: gid must be a number", s)
		}
		u.GID = uint32(g)
	}
	return nil
}

func absPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
