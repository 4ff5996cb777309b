package main

import "github.com/urfave/cli/v2"

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and start a container; without --detach, wait and exit with its status",
	ArgsUsage: "<container-id>",
	Flags:     append([]cli.Flag{&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "do not wait for the container"}}, createFlags...),
	Action: func(c *cli.Context) error {
		status, err := create(c, true)
		if err != nil {
			return err
		}
		if status != 0 {
			return exitCode(status)
		}
		return nil
	},
}
