package main

import (
	"github.com/urfave/cli/v2"

	"github.com/urunc-runtime/urunc/internal/lifecycle"
)

var startCommand = &cli.Command{
	Name:      "start",
	Usage:     "start the process of a created container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		return withContainer(c, (*lifecycle.Runtime).Start)
	},
}
