// Command konductor previews and deploys Pulumi stacks configured as
// platform modules, from a laptop or as a GitHub Action.
package main

import (
	"os"

	konductor "github.com/containercraft/konductor-action"
)

// The public entry point, so the shipped binary is a custom build with no
// extra modules, and the two cannot drift apart.
func main() {
	os.Exit(konductor.Main(os.Args[1:]))
}
