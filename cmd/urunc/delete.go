package main

import (
	"github.com/urfave/cli/v2"

	"github.com/urunc-runtime/urunc/internal/lifecycle"
)

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete a stopped container (with --force, a running one too)",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill the container first if it runs"},
	},
	Action: func(c *cli.Context) error {
		return withContainer(c, func(rt *lifecycle.Runtime, id string) error {
			return rt.Delete(id, c.Bool("force"))
		})
	},
}
