package main

import (
	"github.com/urfave/cli/v2"

	"github.com/urunc-runtime/urunc/internal/launcher"
)

// launchCommand runs inside a unikernel container at start; users never
// call it.
var launchCommand = &cli.Command{
	Name:      "launch",
	Hidden:    true,
	ArgsUsage: "<plan>",
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		return launcher.Exec(c.Args().First())
	},
}
