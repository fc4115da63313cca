// Package rules holds konductor's baseline policy rules as plain Go: each
// rule is a name, a description, a default enforcement level, typed config
// properties with defaults, and a pure check over a resource's type token and
// property map (shaped as the Pulumi engine sends it: camelCase input names,
// JSON-like values). The policy pack in ../baseline adapts them to policyx;
// the CLI can list them with All.
//
// Checks never see Pulumi SDK types. Values the engine does not know yet
// (preview-time outputs of other resources) arrive as Unknown; a check skips
// what it cannot decide rather than guessing.
package rules

//go:generate go run ./internal/gentaggable

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Level is a policy enforcement level, spelled as in Pulumi's policy config.
type Level string

// The enforcement levels a rule can default to or be configured with.
const (
	Advisory  Level = "advisory"
	Mandatory Level = "mandatory"
	Disabled  Level = "disabled"
)

// Property is one config property of a rule. Default is JSON-shaped
// (string, bool, float64, []any of those) so it can go into a JSON schema
// unchanged.
type Property struct {
	Name        string
	Type        string // JSON schema type: "string", "boolean", "number" or "array"
	Items       string // element type of an "array"
	Description string
	Default     any
}

// Check reports whether v, a configured value (decoded from konductor.yaml
// or the engine's JSON), has the property's type. The engine checks values
// against the same JSON schema, but only once a run has started and
// without naming the file; this lets konductor say so up front.
func (p Property) Check(v any) error {
	if p.Type == "array" {
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s is not a list of %ss", show(v), p.Items)
		}
		for i, e := range list {
			if !hasType(e, p.Items) {
				return fmt.Errorf("element %d, %s, is not a %s", i, show(e), typeNoun(p.Items))
			}
		}
		return nil
	}
	if !hasType(v, p.Type) {
		return fmt.Errorf("%s is not a %s", show(v), typeNoun(p.Type))
	}
	return nil
}

// hasType reports whether v is a value of a JSON schema scalar type.
func hasType(v any, typ string) bool {
	switch typ {
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number", "integer":
		if _, isStr := v.(string); isStr {
			return false // asNumber parses strings; the schema does not
		}
		n, ok := asNumber(v)
		return ok && (typ == "number" || n == math.Trunc(n))
	}
	return false
}

// typeNoun names a JSON schema type in errors.
func typeNoun(typ string) string {
	switch typ {
	case "boolean":
		return "boolean (true or false)"
	case "integer":
		return "whole number"
	}
	return typ
}

// show renders a configured value in errors: strings quoted, the rest as
// JSON ("null" for a key given no value).
func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Resource is what a check sees of one resource.
type Resource struct {
	// Type is the resource type token, e.g. "kubernetes:apps/v1:Deployment".
	Type string
	// URN and Name identify the resource in messages of stack checks.
	URN  string
	Name string
	// Properties are the resource's inputs (resource checks) or outputs
	// (stack checks), keyed by camelCase property name.
	Properties map[string]any
	// Protect is the resource's protect option.
	Protect bool
	// ProviderProperties are the inputs of the resource's provider, when the
	// engine sent them (AWS default tags live there).
	ProviderProperties map[string]any
	// Dependencies and PropertyDependencies are set for stack checks only.
	Dependencies         []string
	PropertyDependencies map[string][]string
}

// Violation is one finding. Every violation carries a remediation hint.
type Violation struct {
	// URN names the offending resource in stack checks; resource checks
	// leave it empty (the resource under validation).
	URN         string
	Message     string
	Remediation string
}

// String renders the violation as reported to the engine.
func (v Violation) String() string {
	return v.Message + " Remediation: " + v.Remediation
}

// Rule is one baseline policy.
type Rule struct {
	Name        string
	Description string
	// Provider is what the rule applies to: "all", "kubernetes", "aws" or
	// "azure". Informational (listing); checks filter on the type token.
	Provider   string
	Level      Level
	Properties []Property
	// Retired maps properties the rule no longer takes to what to set
	// instead, so an old konductor.yaml gets told rather than "unknown".
	Retired map[string]string
	// Exactly one of Check and CheckStack is set. Check validates one
	// resource's inputs before the engine acts on it; CheckStack validates
	// the final set of resources (outputs) once every step has run.
	Check      func(r Resource, cfg Config) []Violation
	CheckStack func(rs []Resource, cfg Config) []Violation
}

// IsStack reports whether the rule is a stack validation rule.
func (r Rule) IsStack() bool { return r.CheckStack != nil }

// Defaults returns the rule's config with every property at its default.
func (r Rule) Defaults() Config {
	c := Config{}
	for _, p := range r.Properties {
		c[p.Name] = p.Default
	}
	return c
}

// Config merges configured values over the rule's defaults. Keys that are
// not properties of the rule (including "enforcementLevel") are dropped.
func (r Rule) Config(configured map[string]any) Config {
	c := r.Defaults()
	for _, p := range r.Properties {
		if v, ok := configured[p.Name]; ok && v != nil {
			c[p.Name] = v
		}
	}
	return c
}

// Evaluate runs a resource rule with configured values merged over its
// defaults. It returns nil for stack rules.
func (r Rule) Evaluate(res Resource, configured map[string]any) []Violation {
	if r.Check == nil {
		return nil
	}
	return r.Check(res, r.Config(configured))
}

// Config holds a rule's resolved config properties.
type Config map[string]any

// String returns a string property ("" if absent or not a string).
func (c Config) String(name string) string {
	s, _ := c[name].(string)
	return s
}

// Bool returns a boolean property (false if absent or not a bool).
func (c Config) Bool(name string) bool {
	b, _ := c[name].(bool)
	return b
}

// Strings returns a string-array property; non-string elements are skipped.
func (c Config) Strings(name string) []string {
	var out []string
	switch v := c[name].(type) {
	case []string:
		out = append(out, v...)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	case string:
		out = append(out, v)
	}
	return out
}

// Numbers returns a number-array property; non-numeric elements are skipped.
func (c Config) Numbers(name string) []float64 {
	var out []float64
	switch v := c[name].(type) {
	case []any:
		for _, e := range v {
			if n, ok := asNumber(e); ok {
				out = append(out, n)
			}
		}
	case []float64:
		out = append(out, v...)
	case []int:
		for _, n := range v {
			out = append(out, float64(n))
		}
	}
	return out
}

// All returns every baseline rule, sorted by name. Each call returns fresh
// values; callers may modify them.
func All() []Rule {
	all := []Rule{
		requiredMetadata(),
		protectStateful(),
		k8sNoPrivileged(),
		k8sNoHostNamespaces(),
		k8sImagePinned(),
		k8sResourceLimits(),
		k8sNamespaceMetadata(),
		awsS3PublicAccessBlock(),
		awsS3Encryption(),
		awsKMSRotation(),
		awsSGNoAdminIngress(),
		awsIAMNoStar(),
		awsAllowedRegions(),
		azureStorageSecure(),
		azureAllowedLocations(),
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all
}

// Lookup returns the rule with the given name.
func Lookup(name string) (Rule, bool) {
	for _, r := range All() {
		if r.Name == name {
			return r, true
		}
	}
	return Rule{}, false
}

// stringsDefault turns a string list into a JSON-shaped default.
func stringsDefault(s ...string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// quoteList renders a list for messages: "a", "b", "c".
func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
