// Command urunc is a runc-compatible OCI runtime that runs unikernels and
// single-application virtual machines as containers.
package main

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/urunc-runtime/urunc/internal/config"
	"github.com/urunc-runtime/urunc/internal/lifecycle"
	"github.com/urunc-runtime/urunc/internal/trace"
)

// version is set by the Makefile.
var version = "dev"

// exitCode carries a process exit status out of an action without it
// being reported as an error.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	app := &cli.App{
		Name:    "urunc",
		Usage:   "OCI runtime for unikernels and single-application VMs",
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/run/urunc", Usage: "folder for container state"},
			&cli.StringFlag{Name: "log", Usage: "log file (default stderr)"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json"},
			&cli.BoolFlag{Name: "debug", Usage: "debug logging"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "use systemd to manage cgroups"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "accepted for runc compatibility; ignored"},
			&cli.StringFlag{Name: "config", Value: config.DefaultPath, EnvVars: []string{"URUNC_CONFIG"}, Usage: "urunc configuration file"},
			&cli.StringFlag{Name: "trace", EnvVars: []string{trace.EnvVar}, Usage: "append phase timestamps (JSON lines) to this file"},
		},
		Before: setupLogging,
		Commands: []*cli.Command{
			createCommand, startCommand, runCommand, stateCommand, killCommand, deleteCommand,
			listCommand, psCommand, execCommand, featuresCommand, pauseCommand, resumeCommand,
			updateCommand, launchCommand, execProxyCommand, checkCommand, templatesCommand,
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	if err := app.Run(os.Args); err != nil {
		var code exitCode
		if errors.As(err, &code) {
			os.Exit(int(code))
		}
		logrus.Error(err)
		if logrus.StandardLogger().Out != os.Stderr {
			fmt.Fprintln(os.Stderr, "urunc:", err)
		}
		os.Exit(1)
	}
}

// setupLogging sends logs where the caller asked, in runc's formats.
func setupLogging(c *cli.Context) error {
	log := logrus.StandardLogger()
	if c.Bool("debug") {
		log.SetLevel(logrus.DebugLevel)
	}
	if path := c.String("log"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("open --log %q: %w", path, err)
		}
		log.SetOutput(f)
	}
	switch c.String("log-format") {
	case "text":
	case "json":
		log.SetFormatter(new(logrus.JSONFormatter))
	default:
		return fmt.Errorf("--log-format %q: must be text or json", c.String("log-format"))
	}
	return nil
}

// loadConfig reads the configuration the global flags name and logs its
// deprecation warnings.
func loadConfig(c *cli.Context) (*config.Config, error) {
	return loadConfigWarn(c.String("config"), c.Command != nil && c.Command.Hidden, logrus.StandardLogger())
}

// warnedDeprecations makes the warnings once per invocation, however many
// times the command loads the configuration.
var warnedDeprecations sync.Once

// loadConfigWarn loads the configuration at path and logs each of its
// deprecation warnings at warn level. A hidden helper command (launch,
// stop-watch) stays quiet: the urunc that started it has warned already,
// and its stderr may be the container's.
func loadConfigWarn(path string, helper bool, log logrus.FieldLogger) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if !helper {
		warnedDeprecations.Do(func() {
			for _, d := range cfg.Deprecations {
				log.Warn(d)
			}
		})
	}
	return cfg, nil
}

// newRuntime builds the runtime from the global flags.
func newRuntime(c *cli.Context) (*lifecycle.Runtime, error) {
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, err
	}
	return &lifecycle.Runtime{
		Root:          c.String("root"),
		SystemdCgroup: c.Bool("systemd-cgroup"),
		Config:        cfg,
		Log:           logrus.StandardLogger(),
		GlobalArgs:    globalArgs(c),
		TracePath:     absPath(c.String("trace")),
	}, nil
}

// globalArgs renders the global flags again for urunc's helper processes.
func globalArgs(c *cli.Context) []string {
	args := []string{"--root", c.String("root"), "--config", c.String("config"), "--log-format", c.String("log-format")}
	if l := c.String("log"); l != "" {
		args = append(args, "--log", l)
	}
	for _, b := range []string{"debug", "systemd-cgroup"} {
		if c.Bool(b) {
			args = append(args, "--"+b)
		}
	}
	return args
}

// checkArgs enforces the number of positional arguments.
func checkArgs(c *cli.Context, min, max int) error {
	n := c.NArg()
	if n < min || n > max {
		return fmt.Errorf("%s: wrong number of arguments (%d): usage: urunc %s %s", c.Command.Name, n, c.Command.Name, c.Command.ArgsUsage)
	}
	return nil
}

// withContainer runs f for the one container id a verb takes.
func withContainer(c *cli.Context, f func(rt *lifecycle.Runtime, id string) error) error {
	if err := checkArgs(c, 1, 1); err != nil {
		return err
	}
	rt, err := newRuntime(c)
	if err != nil {
		return err
	}
	return f(rt, c.Args().First())
}
