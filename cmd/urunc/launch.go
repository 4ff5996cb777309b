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
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "vmm", Usage: "exec the VMM (the supervisor's child)"},
		&cli.StringFlag{Name: "boot", Usage: "with --vmm: how a template plan's guest starts (orders, build, restore)"},
		&cli.StringFlag{Name: "template", Usage: "with --boot build or restore: the template folder"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		if c.Bool("vmm") {
			b := launcher.Boot{Mode: launcher.BootMode(c.String("boot")), Dir: c.String("template")}
			return launcher.Exec(c.Args().First(), b)
		}
		return launcher.Run(c.Args().First())
	},
}
