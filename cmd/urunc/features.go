package main

import (
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli/v2"

	"github.com/urunc-runtime/urunc/internal/unikernel"
)

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "print the OCI features this runtime supports, as JSON",
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		t := true
		return printJSON(features.Features{
			OCIVersionMin: "1.0.0",
			OCIVersionMax: specs.Version,
			Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
			MountOptions:  specconv.KnownMountOptions(),
			Linux: &features.Linux{
				Namespaces: specconv.KnownNamespaces(),
				Cgroup:     &features.Cgroup{V1: &t, V2: &t, Systemd: &t, SystemdUser: &t},
			},
			Annotations: map[string]string{
				"com.urunc.version":               version,
				"com.urunc.unikernel.prefix":      unikernel.Prefix,
				"org.opencontainers.runc.version": "libcontainer v1.5.3",
			},
		})
	},
}
