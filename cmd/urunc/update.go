package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/docker/go-units"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

var updateCommand = &cli.Command{
	Name:  "update",
	Usage: "change the cgroup limits of a container (runc-compatible)",
	Description: `Either --resources names a JSON file (or - for standard input) holding an
OCI LinuxResources object, as containerd sends it, or the flags give the
values; with --resources the flags are ignored. For a unikernel the limits
apply to the VMM: CPU limits throttle the whole VM, and a memory limit
below the VM's fixed size is refused.`,
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "JSON file of LinuxResources, - for stdin"},
		&cli.StringFlag{Name: "memory", Usage: "memory limit (bytes, or with a unit: 512m, 1g; -1 for none)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit"},
		&cli.StringFlag{Name: "memory-swap", Usage: "memory plus swap limit (-1 for none)"},
		&cli.StringFlag{Name: "cpu-share", Aliases: []string{"cpu-shares"}, Usage: "CPU shares (relative weight)"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period in microseconds"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS quota in microseconds per period (-1 for none)"},
		&cli.StringFlag{Name: "cpu-burst", Usage: "CPU CFS burst in microseconds"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs to run on (0-3,5)"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes to allocate from"},
		&cli.StringFlag{Name: "pids-limit", Usage: "maximum number of processes (-1 for none)"},
		&cli.StringFlag{Name: "blkio-weight", Usage: "block IO weight (10-1000)"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		res, err := updateResources(c)
		if err != nil {
			return err
		}
		rt, err := newRuntime(c)
		if err != nil {
			return err
		}
		return rt.Update(c.Args().First(), res)
	},
}

// updateResources reads --resources, or builds the resources from flags.
func updateResources(c *cli.Context) (*specs.LinuxResources, error) {
	if path := c.String("resources"); path != "" {
		var in io.Reader = os.Stdin
		if path != "-" {
			f, err := os.Open(path)
			if err != nil {
				return nil, fmt.Errorf("--resources: %w", err)
			}
			defer f.Close()
			in = f
		}
		var res specs.LinuxResources
		if err := json.NewDecoder(in).Decode(&res); err != nil {
			return nil, fmt.Errorf("--resources %s: not a LinuxResources JSON object: %w", path, err)
		}
		return &res, nil
	}
	return resourcesFromFlags(func(name string) (string, bool) {
		return c.String(name), c.IsSet(name)
	})
}

// resourcesFromFlags builds LinuxResources from flag values; flag returns a
// flag's value and whether it was given.
func resourcesFromFlags(flag func(string) (string, bool)) (*specs.LinuxResources, error) {
	res := &specs.LinuxResources{}
	given := false
	set := func(name string, parse func(string) error) error {
		v, ok := flag(name)
		if !ok {
			return nil
		}
		given = true
		if err := parse(v); err != nil {
			return fmt.Errorf("--%s %q: %w", name, v, err)
		}
		return nil
	}
	bytes := func(name string, to **int64) error { return set(name, parseInto(to, parseBytes)) }
	integer := func(name string, to **int64) error {
		return set(name, parseInto(to, func(v string) (int64, error) { return strconv.ParseInt(v, 10, 64) }))
	}
	unsigned := func(name string, to **uint64) error {
		return set(name, parseInto(to, func(v string) (uint64, error) { return strconv.ParseUint(v, 10, 64) }))
	}
	mem, cpu, pids, blkio := &specs.LinuxMemory{}, &specs.LinuxCPU{}, &specs.LinuxPids{}, &specs.LinuxBlockIO{}
	var weight *uint64
	for _, err := range []error{
		bytes("memory", &mem.Limit), bytes("memory-reservation", &mem.Reservation), bytes("memory-swap", &mem.Swap),
		unsigned("cpu-share", &cpu.Shares), unsigned("cpu-period", &cpu.Period), integer("cpu-quota", &cpu.Quota),
		unsigned("cpu-burst", &cpu.Burst), integer("pids-limit", &pids.Limit), unsigned("blkio-weight", &weight),
	} {
		if err != nil {
			return nil, err
		}
	}
	for name, to := range map[string]*string{"cpuset-cpus": &cpu.Cpus, "cpuset-mems": &cpu.Mems} {
		if v, ok := flag(name); ok {
			given, *to = true, v
		}
	}
	if weight != nil {
		if *weight < 10 || *weight > 1000 {
			return nil, fmt.Errorf("--blkio-weight %d: must be 10 to 1000", *weight)
		}
		w := uint16(*weight)
		blkio.Weight = &w
	}
	if !given {
		return nil, errors.New("nothing to update: give --resources or at least one limit flag (see urunc update --help)")
	}
	res.Memory, res.CPU, res.Pids, res.BlockIO = mem, cpu, pids, blkio
	return res, nil
}

// parseInto returns a parser that stores what parse makes of a value in *to.
func parseInto[T any](to **T, parse func(string) (T, error)) func(string) error {
	return func(v string) error {
		n, err := parse(v)
		if err != nil {
			return err
		}
		*to = &n
		return nil
	}
}

// parseBytes reads a size with an optional unit (512m, 1g), or -1 for none.
func parseBytes(v string) (int64, error) {
	if v == "-1" {
		return -1, nil
	}
	return units.RAMInBytes(v)
}
