// Package pack adapts the rules of ../rules to a policyx policy pack. The
// pack binary (../baseline) only calls New from policyx.Main; everything
// testable lives here.
package pack

import (
	"context"
	"fmt"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/containercraft/konductor-action/policies/rules"
)

// Name and Version identify the pack to the engine.
const (
	Name    = "konductor-baseline"
	Version = "0.1.0"
)

// New returns the baseline policy pack.
func New() (policyx.PolicyPack, error) {
	policies, err := Policies(rules.All())
	if err != nil {
		return nil, err
	}
	// policyx ignores the pack-level level; each policy carries its own.
	return policyx.NewPolicyPack(Name, semver.MustParse(Version), policyx.EnforcementLevelAdvisory, policies)
}

// Policies adapts rules to policyx policies.
func Policies(rs []rules.Rule) ([]policyx.Policy, error) {
	out := make([]policyx.Policy, 0, len(rs))
	for _, r := range rs {
		p, err := Policy(r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Policy adapts one rule.
//
// Resource rules become resource validation policies: they see the
// resource's inputs, its protect option and its provider's inputs, and get
// the configured properties (policyx passes them as args.Config, with the
// schema defaults the engine fills in).
//
// Stack rules become stack validation policies: they see every resource's
// outputs, options and dependencies. policyx's StackValidationArgs carries no
// config, so stack rules always run with their defaults; only their
// enforcement level is configurable.
func Policy(r rules.Rule) (policyx.Policy, error) {
	level, err := Level(r.Level)
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", r.Name, err)
	}
	if r.IsStack() {
		rule := r
		return policyx.NewStackValidationPolicy(r.Name, policyx.StackValidationPolicyArgs{
			Description:      r.Description,
			EnforcementLevel: level,
			ValidateStack: func(_ context.Context, args policyx.StackValidationArgs) error {
				resources := make([]rules.Resource, len(args.Resources))
				for i, res := range args.Resources {
					resources[i] = Resource(res)
				}
				for _, v := range rule.CheckStack(resources, rule.Defaults()) {
					args.Manager.ReportViolation(v.String(), v.URN)
				}
				return nil
			},
		}), nil
	}
	if r.Check == nil {
		return nil, fmt.Errorf("rule %s has no check", r.Name)
	}
	rule := r
	return policyx.NewResourceValidationPolicy(r.Name, policyx.ResourceValidationPolicyArgs{
		Description:      r.Description,
		EnforcementLevel: level,
		ConfigSchema:     Schema(r),
		ValidateResource: func(_ context.Context, args policyx.ResourceValidationArgs) error {
			for _, v := range rule.Evaluate(Resource(args.Resource), args.Config) {
				args.Manager.ReportViolation(v.String(), "")
			}
			return nil
		},
	}), nil
}

// Level converts a rule level to policyx's.
func Level(l rules.Level) (policyx.EnforcementLevel, error) {
	switch l {
	case rules.Advisory:
		return policyx.EnforcementLevelAdvisory, nil
	case rules.Mandatory:
		return policyx.EnforcementLevelMandatory, nil
	case rules.Disabled:
		return policyx.EnforcementLevelDisabled, nil
	}
	return 0, fmt.Errorf("unknown enforcement level %q", l)
}

// Schema returns the JSON schema of a rule's config properties (nil if it
// has none). Defaults go into the schema: the engine fills them into the
// config it passes to Configure.
func Schema(r rules.Rule) *policyx.ConfigSchema {
	if len(r.Properties) == 0 {
		return nil
	}
	s := &policyx.ConfigSchema{Properties: map[string]map[string]any{}}
	for _, p := range r.Properties {
		prop := map[string]any{"type": p.Type}
		if p.Description != "" {
			prop["description"] = p.Description
		}
		if p.Items != "" {
			prop["items"] = map[string]any{"type": p.Items}
		}
		if p.Default != nil {
			prop["default"] = p.Default
		}
		s.Properties[p.Name] = prop
	}
	return s
}

// Resource converts what policyx hands a policy into what a rule sees.
func Resource(r policyx.AnalyzerResource) rules.Resource {
	out := rules.Resource{
		Type:                 r.Type,
		URN:                  r.URN,
		Name:                 r.Name,
		Properties:           Map(r.Properties),
		Protect:              r.Options.Protect,
		Dependencies:         r.Dependencies,
		PropertyDependencies: r.PropertyDependencies,
	}
	if r.Provider.Type != "" || r.Provider.Properties.Len() > 0 {
		out.ProviderProperties = Map(r.Provider.Properties)
	}
	return out
}

// Map converts a property map to plain Go values.
func Map(m property.Map) map[string]any {
	out := make(map[string]any, m.Len())
	for k, v := range m.All {
		out[k] = Value(v)
	}
	return out
}

// Value converts a property value to plain Go values: nil, bool, float64,
// string, []any, map[string]any; unknowns become rules.Unknown, secrets are
// unwrapped, resource references become their URN, assets and archives nil.
func Value(v property.Value) any {
	switch {
	case v.IsComputed():
		return rules.Unknown{}
	case v.IsNull():
		return nil
	case v.IsBool():
		return v.AsBool()
	case v.IsNumber():
		return v.AsNumber()
	case v.IsString():
		return v.AsString()
	case v.IsArray():
		arr := v.AsArray()
		out := make([]any, 0, arr.Len())
		for _, e := range arr.All {
			out = append(out, Value(e))
		}
		return out
	case v.IsMap():
		return Map(v.AsMap())
	case v.IsResourceReference():
		return string(v.AsResourceReference().URN)
	}
	return nil
}
