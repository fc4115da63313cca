package kubernetes

import (
	"fmt"

	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/modules"
)

// Provider returns the kubernetes module's provider from the outputs of a
// module that depends on it (module names the caller in the error).
func Provider(module string, env modules.Env) (pulumi.ProviderResource, error) {
	p, ok := env.Deps[Name][OutputProvider].(pulumi.ProviderResource)
	if !ok {
		return nil, fmt.Errorf("%s: the kubernetes module's outputs hold no provider", module)
	}
	return p, nil
}

// AfterChart makes a resource wait for every object of a Helm chart. Depending
// on the Chart itself is not enough: its objects are registered by the
// provider, not by this program, so the SDK cannot expand the component to
// them; its Resources output lists them.
func AfterChart(chart *helmv4.Chart) pulumi.ResourceOption {
	return pulumi.DependsOnInputs(chart.Resources.ApplyT(func(rs []any) []pulumi.Resource {
		out := make([]pulumi.Resource, 0, len(rs))
		for _, r := range rs {
			if res, ok := r.(pulumi.Resource); ok {
				out = append(out, res)
			}
		}
		return out
	}).(pulumi.ResourceArrayOutput))
}
