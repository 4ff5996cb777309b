package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/urunc-runtime/urunc/internal/lifecycle"
)

var formatFlag = &cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"}

var listCommand = &cli.Command{
	Name:  "list",
	Usage: "list containers",
	Flags: []cli.Flag{formatFlag, &cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print ids only"}},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		states, err := rt.List()
		if err != nil {
			return err
		}
		switch {
		case c.Bool("quiet"):
			for _, s := range states {
				fmt.Println(s.ID)
			}
			return nil
		case c.String("format") == "json":
			if states == nil {
				states = []lifecycle.State{}
			}
			return printJSON(states)
		case c.String("format") == "table":
			return printTable(states)
		}
		return fmt.Errorf("--format %q: must be table or json", c.String("format"))
	},
}

func printTable(states []lifecycle.State) error {
	w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
	fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
	for _, s := range states {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.InitProcessPid, s.Status, s.Bundle,
			s.Created.Format(time.RFC3339Nano), s.Owner)
	}
	return w.Flush()
}
