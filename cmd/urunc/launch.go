package main

import (
	"github.com/urfave/cli/v2"

	"github.com/urunc-runtime/urunc/internal/launcher"
)

// launchCommand runs inside a unikernel container at start; users never
// call it. With --vmm it is the supervisor's child that becomes the VMM.
var launchCommand = &cli.Command{
	Name:      "launch",
	Hidden:    true,
	ArgsUsage: "<plan>",
	Flags:     []cli.Flag{&cli.BoolFlag{Name: "vmm", Usage: "exec the VMM (the supervisor's child)"}},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		if c.Bool("vmm") {
			return launcher.Exec(c.Args().First())
		}
		return launcher.Run(c.Args().First())
	},
}
