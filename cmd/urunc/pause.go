package main

import (
	"github.com/urfave/cli/v2"

	"github.com/urunc-runtime/urunc/internal/lifecycle"
)

var pauseCommand = &cli.Command{
	Name:      "pause",
	Usage:     "freeze all processes of a container (the VMM too)",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		return withContainer(c, (*lifecycle.Runtime).Pause)
	},
}

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "thaw a paused container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		return withContainer(c, (*lifecycle.Runtime).Resume)
	},
}
