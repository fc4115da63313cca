// Package builtin lists the modules this build of konductor ships.
package builtin

import (
	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/kubernetes"
)

// Registry returns a registry of every built-in module.
func Registry() *modules.Registry {
	return modules.NewRegistry(
		kubernetes.Module,
	)
}
