// Package program composes a stack's enabled modules into one inline Pulumi
// program: each module runs inside its own component resource, in dependency
// order, with its config read from the engine (so encrypted values arrive
// decrypted) and its outputs exported as stack outputs. Every resource input
// and output that holds one of a module's secret config values is a Pulumi
// secret (secrets.go).
package program

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pconfig "github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/result"
)

// ComponentType is the type token of the component each module runs in.
const ComponentType = result.ModuleType

// Options tune the program.
type Options struct {
	// ComponentOptions returns extra options for a module's component, such
	// as the global metadata transform its children inherit.
	ComponentOptions func(module string) []pulumi.ResourceOption
}

type component struct {
	pulumi.ResourceState
}

// Build returns the program for st.
func Build(st *config.Stack, opts Options) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		cfg := pconfig.New(ctx, st.Project)
		// The file tells the plain leaves of a secret key from the secret
		// ones (config.SecretLeaves); unreadable, every leaf is secret.
		doc, _ := os.ReadFile(st.File)
		outputs := make(map[string]modules.Outputs, len(st.Modules))
		for _, e := range st.Modules {
			m := e.Module
			name := m.Name()
			// Read through the engine so secrets come decrypted; the file's
			// own view (st) holds only placeholders for them.
			raw, err := cfg.Try(name)
			if err != nil {
				return fmt.Errorf("module %s: reading config %s:%s: %w", name, st.Project, name, err)
			}
			c, err := config.DecodeModule(m, []byte(raw))
			if err != nil {
				return err
			}
			var copts []pulumi.ResourceOption
			if opts.ComponentOptions != nil {
				copts = opts.ComponentOptions(name)
			}
			var secret secrets
			if key := st.Project + ":" + name; ctx.IsConfigSecret(key) {
				secret = config.SecretLeaves(doc, st.Project, key, raw)
			}
			if len(secret) > 0 {
				copts = append(copts, pulumi.Transforms([]pulumi.ResourceTransform{secret.transform()}))
			}
			comp := &component{}
			if err := ctx.RegisterComponentResource(ComponentType, name, comp, copts...); err != nil {
				return fmt.Errorf("module %s: %w", name, err)
			}
			deps := make(map[string]modules.Outputs, len(m.DependsOn()))
			for _, d := range m.DependsOn() {
				deps[d] = outputs[d]
			}
			out, err := m.Deploy(ctx, c, modules.Env{
				Project: st.Project, Stack: st.Name, WorkDir: st.Dir, Deps: deps, Parent: comp,
			})
			if err != nil {
				return fmt.Errorf("module %s: %w", name, err)
			}
			outputs[name] = out
			exported := pulumi.Map{}
			for k, v := range out {
				// Resources (a provider) are for dependent modules only.
				if _, ok := v.(pulumi.Resource); ok {
					continue
				}
				if in, ok := v.(pulumi.Input); ok {
					exported[k] = in
					if len(secret) > 0 {
						exported[k] = secret.export(in)
					}
				}
			}
			if err := ctx.RegisterResourceOutputs(comp, exported); err != nil {
				return err
			}
			ctx.Export(name, exported)
		}
		return nil
	}
}
