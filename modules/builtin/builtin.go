// Package builtin lists the modules this build of konductor ships.
package builtin

import (
	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/aws"
	"github.com/containercraft/konductor-action/modules/azure"
	"github.com/containercraft/konductor-action/modules/certmanager"
	"github.com/containercraft/konductor-action/modules/helm"
	"github.com/containercraft/konductor-action/modules/kubernetes"
)

// Registry returns a registry of every built-in module.
func Registry() *modules.Registry {
	return modules.NewRegistry(
		aws.Module,
		azure.Module,
		certmanager.Module,
		helm.Module,
		kubernetes.Module,
	)
}
