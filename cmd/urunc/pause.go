package main

import "github.com/urfave/cli/v2"

var pauseCommand = &cli.Command{
	Name:      "pause",
	Usage:     "freeze all processes of a container (the VMM too)",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		return withID(c, func(id string, rt runtimeLike) error { return rt.Pause(id) })
	},
}

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "thaw a paused container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		return withID(c, func(id string, rt runtimeLike) error { return rt.Resume(id) })
	},
}

type runtimeLike interface {
	Pause(id string) error
	Resume(id string) error
}

func withID(c *cli.Context, f func(string, runtimeLike) error) error {
	if err := checkArgs(c, 1, 1); err != nil {
		return err
	}
	rt, err := newRuntime(c)
	if err != nil {
		return err
	}
	return f(c.Args().First(), rt)
}
