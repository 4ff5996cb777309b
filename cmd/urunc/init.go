package main

import (
	"os"

	_ "github.com/opencontainers/cgroups/devices" // device cgroup rules (runc registers them the same way)
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // the C half of container init
)

// libcontainer re-executes this binary as "urunc init" inside the new
// namespaces; that path never reaches main.
func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
}
