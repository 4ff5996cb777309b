package main

import (
	"encoding/json"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/urunc-runtime/urunc/internal/lifecycle"
)

var stateCommand = &cli.Command{
	Name:      "state",
	Usage:     "print the state of a container as JSON",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		return withContainer(c, func(rt *lifecycle.Runtime, id string) error {
			st, err := rt.State(id)
			if err != nil {
				return err
			}
			return printJSON(st)
		})
	},
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
