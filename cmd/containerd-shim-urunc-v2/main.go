// Command containerd-shim-urunc-v2 is containerd's own runc shim v2,
// registered as io.containerd.urunc.v2 and calling urunc instead of runc.
// A BinaryName runtime option still wins, as it does for the runc shim.
// Its task service is runc's with create wrapped (task.go).
package main

import (
	"context"

	"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2/manager"
	"github.com/containerd/containerd/v2/pkg/shim"
	gorunc "github.com/containerd/go-runc"
)

func main() {
	gorunc.DefaultCommand = "urunc"
	shim.Run(context.Background(), manager.NewShimManager("io.containerd.urunc.v2"))
}
