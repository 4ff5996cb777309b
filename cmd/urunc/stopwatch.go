package main

import (
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// stopWatchCommand is started by kill, detached, after a stop signal was
// passed to a guest; users never call it.
var stopWatchCommand = &cli.Command{
	Name:      "stop-watch",
	Hidden:    true,
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.IntFlag{Name: "signal", Value: int(unix.SIGTERM)},
		&cli.BoolFlag{Name: "delivered"},
		// The start time of the init that kill signalled: a container
		// of the same id started since is not this watcher's.
		&cli.Uint64Flag{Name: "init-start-time"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		return rt.StopWatch(c.Args().First(), unix.Signal(c.Int("signal")), c.Bool("delivered"), c.Uint64("init-start-time"))
	},
}
