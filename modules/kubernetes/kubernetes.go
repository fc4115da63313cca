// Package kubernetes is the kubernetes module: the Kubernetes provider every
// Kubernetes-based module deploys through, and the platform's namespaces.
package kubernetes

import (
	"errors"
	"fmt"

	k8s "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/containercraft/konductor-action/modules"
)

// Name is the module's config key.
const Name = "kubernetes"

// OutputProvider is the key of the provider in the module's outputs; modules
// that depend on kubernetes deploy through it.
const OutputProvider = "provider"

// Config is the module's section of stack config.
type Config struct {
	// Kubeconfig is a kubeconfig path or its contents; empty uses the
	// provider's own resolution (KUBECONFIG, ~/.kube/config).
	Kubeconfig string `yaml:"kubeconfig" doc:"kubeconfig path or contents; empty: KUBECONFIG or ~/.kube/config"`
	Context    string `yaml:"context" doc:"kubeconfig context; empty: the current context"`
	// RenderDir switches the provider to render mode: manifests are written
	// under it and no cluster is contacted.
	RenderDir  string      `yaml:"render_dir" doc:"write manifests here instead of applying them (no cluster needed)"`
	Namespaces []Namespace `yaml:"namespaces" doc:"namespaces to create"`
}

// Namespace is one managed namespace.
type Namespace struct {
	Name        string            `yaml:"name" doc:"namespace name (required)"`
	Labels      map[string]string `yaml:"labels" doc:"extra labels"`
	Annotations map[string]string `yaml:"annotations" doc:"extra annotations"`
	// Baseline adds a quota, container defaults and a default-deny network
	// policy to the namespace; nil adds nothing.
	Baseline *Baseline `yaml:"baseline" doc:"optional quota, limit range and default-deny network policy"`
}

// Module is the kubernetes module.
var Module = modules.Define(modules.Spec[Config]{
	Name:        Name,
	Description: "Kubernetes provider (cluster or render mode) and namespaces",
	Defaults:    func() Config { return Config{} },
	Validate:    validate,
	Deploy:      deploy,
})

func validate(c *Config) error {
	var errs []error
	if c.RenderDir != "" && (c.Kubeconfig != "" || c.Context != "") {
		errs = append(errs, modules.Errorf("render_dir", "render mode needs no cluster: remove kubeconfig and context, or render_dir"))
	}
	seen := map[string]bool{}
	for i, ns := range c.Namespaces {
		p := fmt.Sprintf("namespaces[%d].name", i)
		switch {
		case ns.Name == "":
			errs = append(errs, modules.Errorf(p, "required"))
		case len(validation.IsDNS1123Label(ns.Name)) > 0:
			errs = append(errs, modules.Errorf(p, "%q is not a valid namespace name (lowercase letters, digits and '-', at most 63)", ns.Name))
		case seen[ns.Name]:
			errs = append(errs, modules.Errorf(p, "duplicate namespace %q", ns.Name))
		}
		seen[ns.Name] = true
		ns.Baseline.validate(fmt.Sprintf("namespaces[%d].baseline", i), &errs)
	}
	return errors.Join(errs...)
}

func deploy(ctx *pulumi.Context, c *Config, env modules.Env) (modules.Outputs, error) {
	args := &k8s.ProviderArgs{}
	if c.RenderDir != "" {
		// As configured, not resolved against env.WorkDir: the provider runs
		// with the work dir as its cwd and resolves a relative path itself,
		// and an absolute one would differ between checkouts and replace the
		// provider, and with it every resource, on a preview from another
		// directory.
		args.RenderYamlToDirectory = pulumi.String(c.RenderDir)
		// Ignore KUBECONFIG from the environment: render mode is offline.
		args.Kubeconfig = pulumi.String("")
	} else {
		if c.Kubeconfig != "" {
			args.Kubeconfig = pulumi.String(c.Kubeconfig)
		}
		if c.Context != "" {
			args.Context = pulumi.String(c.Context)
		}
	}
	provider, err := k8s.NewProvider(ctx, "kubernetes", args, env.Options()...)
	if err != nil {
		return nil, err
	}
	names := pulumi.StringArray{}
	for _, ns := range c.Namespaces {
		n, err := corev1.NewNamespace(ctx, ns.Name, &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:        pulumi.String(ns.Name),
				Labels:      pulumi.ToStringMap(ns.Labels),
				Annotations: pulumi.ToStringMap(ns.Annotations),
			},
		}, env.Options(pulumi.Provider(provider))...)
		if err != nil {
			return nil, err
		}
		name := n.Metadata.Name().Elem()
		// The namespace's name output makes its baseline wait for it.
		if err := deployBaseline(ctx, env, provider, ns.Name, name, ns.Baseline); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return modules.Outputs{
		OutputProvider: provider,
		"namespaces":   names,
		"render_dir":   pulumi.String(c.RenderDir),
	}, nil
}
