// Package konductor runs konductor from a team's own main, with the team's
// modules added to the built-in ones: a custom build, as `konductor build`
// generates it.
//
//	package main
//
//	import (
//		"os"
//
//		konductor "github.com/containercraft/konductor-action"
//		web "example.com/acme/konductor-web"
//	)
//
//	func main() { os.Exit(konductor.Main(os.Args[1:], web.Module)) }
//
// The module API is package modules: a module is a modules.Spec (typed
// config with defaults, Validate with *modules.FieldError, Deploy with
// modules.Env and its Options, outputs, dependencies) turned into a
// modules.Module by modules.Define. modules/README.md, "Creating a module",
// walks through it.
package konductor

import (
	"os"

	"github.com/containercraft/konductor-action/cmd/konductor/cli"
	"github.com/containercraft/konductor-action/modules"
)

// Main runs konductor with args (without the program name) and extra modules
// beside the built-in ones, and returns the process exit code: 0 ok, 1 the
// operation failed or a mandatory policy blocked it, 2 bad input. A module
// whose name is taken, or not a config key, fails every command with exit 1.
func Main(args []string, extra ...modules.Module) int {
	return cli.Main(args, os.Stdout, os.Stderr, extra...)
}
