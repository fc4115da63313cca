// Command konductor previews and deploys Pulumi stacks configured as
// platform modules, from a laptop or as a GitHub Action.
package main

import (
	"os"

	"github.com/containercraft/konductor-action/cmd/konductor/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
