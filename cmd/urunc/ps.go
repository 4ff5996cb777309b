package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

var psCommand = &cli.Command{
	Name:      "ps",
	Usage:     "list the host pids of a container's processes",
	ArgsUsage: "<container-id>",
	Flags:     []cli.Flag{formatFlag},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		pids, err := rt.Ps(c.Args().First())
		if err != nil {
			return err
		}
		switch c.String("format") {
		case "json":
			if pids == nil {
				pids = []int{}
			}
			return printJSON(pids)
		case "table":
			fmt.Println("PID")
			for _, p := range pids {
				fmt.Println(p)
			}
			return nil
		}
		return fmt.Errorf("--format %q: must be table or json", c.String("format"))
	},
}
