package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/urunc-runtime/urunc/internal/hostcheck"
)

var checkCommand = &cli.Command{
	Name:  "check",
	Usage: "check that this host can run urunc's VMMs; exit 1 if a needed item is missing",
	Description: `Prints one line per item: ok, missing or warn, the item, what was found
and, when something is missing, how to fix it. Exits 0 when every needed item
works, 1 otherwise. The VMMs that can emulate (run guests without KVM) are
needed; the others are reported but optional.`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Value: "text", Usage: "output format: text or json"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		write := map[string]func(*os.File, []hostcheck.Result) error{
			"text": func(f *os.File, rs []hostcheck.Result) error { return hostcheck.WriteText(f, rs) },
			"json": func(f *os.File, rs []hostcheck.Result) error { return hostcheck.WriteJSON(f, rs) },
		}[c.String("format")]
		if write == nil {
			return fmt.Errorf("check: --format %q: must be text or json", c.String("format"))
		}
		cfg, err := loadConfig(c)
		if err != nil {
			return err
		}
		rs := hostcheck.Run(cfg, hostcheck.HostProbes())
		if err := write(os.Stdout, rs); err != nil {
			return err
		}
		if !hostcheck.Passed(rs) {
			return exitCode(1)
		}
		return nil
	},
}
