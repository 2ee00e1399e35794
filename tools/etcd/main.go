// The etcd server, built from go.etcd.io/etcd/server/v3 through this module: server/v3's own go.mod replaces
// api/v3, client/v3 and pkg/v3 with local paths, so `go install go.etcd.io/etcd/server/v3@v3.7.3` is refused.
// Here those come from their releases at the same version (server/v3 requires them), and this main is the one
// server/v3 ships.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
