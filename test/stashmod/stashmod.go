// Package stashmod is a module for engine tests that needs no provider
// plugin: each configured value becomes a pulumi:index:Stash resource, a
// real custom resource with real create, update and delete steps.
package stashmod

import (
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/modules"
)

// Config is the stash module's config.
type Config struct {
	// Values become one Stash each, named by key.
	Values map[string]string `yaml:"values"`
	// Secret becomes a Stash whose input is a Pulumi secret, and an output.
	Secret string `yaml:"secret"`
	// Mode slow makes the program wait SlowSeconds before registering
	// anything, so a test can cancel a running operation.
	Mode        string `yaml:"mode" enum:"fast,slow"`
	SlowSeconds int    `yaml:"slow_seconds"`
}

// Module is a stash module named "stash".
var Module = New("stash")

// New returns a stash module called name that depends on deps.
func New(name string, deps ...string) modules.Module {
	return modules.Define(modules.Spec[Config]{
		Name:        name,
		Description: "test module of Stash resources",
		DependsOn:   deps,
		Defaults:    func() Config { return Config{Mode: "fast"} },
		Validate: func(c *Config) error {
			for k := range c.Values {
				if k == "" {
					return modules.Errorf("values", "empty key")
				}
			}
			// As a name would be: the Secret placeholder itself is invalid,
			// so the tests show that encrypted values are validated only
			// once decrypted.
			if strings.ContainsAny(c.Secret, "[] ") {
				return modules.Errorf("secret", "must not contain brackets or spaces")
			}
			return nil
		},
		Deploy: func(ctx *pulumi.Context, c *Config, env modules.Env) (modules.Outputs, error) {
			if c.Mode == "slow" {
				select {
				case <-time.After(time.Duration(c.SlowSeconds) * time.Second):
				case <-ctx.Context().Done():
					return nil, ctx.Context().Err()
				}
			}
			keys := make([]string, 0, len(c.Values))
			for k := range c.Values {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			out := modules.Outputs{}
			for _, k := range keys {
				s, err := pulumi.NewStash(ctx, name+"-"+k, &pulumi.StashArgs{Input: pulumi.String(c.Values[k])}, env.Options()...)
				if err != nil {
					return nil, err
				}
				out[k] = s.Output
			}
			if c.Secret != "" {
				s, err := pulumi.NewStash(ctx, name+"-secret", &pulumi.StashArgs{Input: pulumi.ToSecret(pulumi.String(c.Secret))}, env.Options()...)
				if err != nil {
					return nil, err
				}
				out["secret"] = s.Output
			}
			return out, nil
		},
	})
}
