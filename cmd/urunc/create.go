package main

import (
	"github.com/urfave/cli/v2"

	"github.com/urunc-runtime/urunc/internal/lifecycle"
)

var createFlags = []cli.Flag{
	&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Value: ".", Usage: "path to the OCI bundle"},
	&cli.StringFlag{Name: "pid-file", Usage: "file to write the container's pid to"},
	&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pty master"},
	&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot_root"},
	&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a session keyring"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass N extra descriptors (from fd 3) to the container"},
}

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container",
	ArgsUsage: "<container-id>",
	Flags:     createFlags,
	Action: func(c *cli.Context) error {
		_, err := create(c, false)
		return err
	},
}

// create implements create and run; it returns run's exit status.
func create(c *cli.Context, run bool) (int, error) {
	if err := checkArgs(c, 1, 1); err != nil {
		return -1, err
	}
	rt, err := newRuntime(c)
	if err != nil {
		return -1, err
	}
	return rt.Create(lifecycle.CreateOpts{
		ID:           c.Args().First(),
		Bundle:       absPath(c.String("bundle")),
		NoPivot:      c.Bool("no-pivot"),
		NoNewKeyring: c.Bool("no-new-keyring"),
		IO: lifecycle.IOOpts{
			ConsoleSocket: c.String("console-socket"),
			PidFile:       absPath(c.String("pid-file")),
			PreserveFDs:   c.Int("preserve-fds"),
			Detach:        c.Bool("detach"),
		},
	}, run)
}
