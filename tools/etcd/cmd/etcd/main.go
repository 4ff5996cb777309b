// Command etcd is etcd v3 built from its server module, for the cluster
// end-to-end tests only.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
