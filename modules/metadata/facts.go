package metadata

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Facts is everything the global metadata is made of: where the deployment
// comes from (project, stack, git) and what the user declared for every
// resource (labels, compliance). The runner builds it once per stack.
type Facts struct {
	Project string
	Stack   string
	Git     Git
	// Compliance is the decoded `<project>:compliance` block.
	Compliance Compliance
	// Labels are the user labels of `<project>:labels`, applied to every
	// resource (as Kubernetes labels and as cloud tags).
	Labels map[string]string
}

// Git describes the commit being deployed.
type Git struct {
	// Repository is "owner/name".
	Repository string `yaml:"repository"`
	Commit     string `yaml:"commit"`
	Branch     string `yaml:"branch"`
	// Actor is who triggered the run. It is informational (reports) and is
	// not stamped on resources: it would change every resource on every
	// deploy by someone else without saying anything about the resource.
	Actor string `yaml:"actor"`
}

// Compliance is the `<project>:compliance` block of stack config, in the
// shape of the Konductor seed (fisma, nist, scip).
type Compliance struct {
	Fisma Fisma `yaml:"fisma"`
	Nist  Nist  `yaml:"nist"`
	Scip  Scip  `yaml:"scip"`
}

// Fisma is the FISMA categorization and authority to operate.
type Fisma struct {
	// Level is the FIPS 199 impact level: low, moderate or high.
	Level string `yaml:"level" enum:"low,moderate,high"`
	ATO   ATO    `yaml:"ato"`
}

// ATO is an authority to operate.
type ATO struct {
	ID string `yaml:"id"`
	// Authorized and EOL are dates (ISO 8601), kept as written.
	Authorized string `yaml:"authorized"`
	EOL        string `yaml:"eol"`
}

// Nist lists NIST SP 800-53 controls.
type Nist struct {
	Controls   []string `yaml:"controls"`
	Auxiliary  []string `yaml:"auxiliary"`
	Exceptions []string `yaml:"exceptions"`
}

// Scip is the seed's project ownership block.
type Scip struct {
	Environment string       `yaml:"environment"`
	Ownership   Ownership    `yaml:"ownership"`
	Provider    ScipProvider `yaml:"provider"`
}

// Ownership names who operates the platform and who provides it.
type Ownership struct {
	Operator Owner `yaml:"operator"`
	Provider Owner `yaml:"provider"`
}

// Owner is a team and how to reach it.
type Owner struct {
	Name     string   `yaml:"name"`
	Contacts []string `yaml:"contacts"`
}

// ScipProvider is the infrastructure provider and its regions.
type ScipProvider struct {
	Name    string   `yaml:"name"`
	Regions []string `yaml:"regions"`
}

// FismaLevels are the accepted values of fisma.level.
var FismaLevels = []string{"low", "moderate", "high"}

// DecodeCompliance decodes the raw `<project>:compliance` block (as read from
// stack config) strictly: an unknown key or a wrong type is an error naming
// it. A nil or empty block is the zero Compliance.
func DecodeCompliance(raw map[string]any) (Compliance, error) {
	var c Compliance
	if len(raw) == 0 {
		return c, nil
	}
	b, err := yaml.Marshal(raw)
	if err != nil {
		return c, fmt.Errorf("compliance: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("compliance: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if c.Fisma.Level != "" && !slices.Contains(FismaLevels, c.Fisma.Level) {
		return c, fmt.Errorf("compliance: fisma.level: %q is not one of %s", c.Fisma.Level, strings.Join(FismaLevels, ", "))
	}
	return c, nil
}

// field is one flattened metadata entry: a key suffix and its full value.
type field struct{ key, value string }

// listSep joins list values. The full joined value goes to annotations and
// tags; labels get a sanitized form.
const listSep = ","

// fields flattens the compliance block into ordered (key suffix, value)
// pairs; empty values are left out. The suffixes are shared by the
// Kubernetes keys (compliance.konductor.io/<suffix>) and the cloud tag keys
// (konductor:compliance:<suffix>), and the order is the tag priority.
func (c Compliance) fields() []field {
	all := []field{
		{"fisma-level", c.Fisma.Level},
		{"fisma-ato-id", c.Fisma.ATO.ID},
		{"fisma-ato-authorized", c.Fisma.ATO.Authorized},
		{"fisma-ato-eol", c.Fisma.ATO.EOL},
		{"nist-controls", strings.Join(c.Nist.Controls, listSep)},
		{"nist-auxiliary", strings.Join(c.Nist.Auxiliary, listSep)},
		{"nist-exceptions", strings.Join(c.Nist.Exceptions, listSep)},
		{"scip-environment", c.Scip.Environment},
		{"scip-operator", c.Scip.Ownership.Operator.Name},
		{"scip-operator-contacts", strings.Join(c.Scip.Ownership.Operator.Contacts, listSep)},
		{"scip-provider", c.Scip.Ownership.Provider.Name},
		{"scip-provider-contacts", strings.Join(c.Scip.Ownership.Provider.Contacts, listSep)},
		{"scip-infrastructure", c.Scip.Provider.Name},
		{"scip-regions", strings.Join(c.Scip.Provider.Regions, listSep)},
	}
	out := all[:0]
	for _, f := range all {
		if f.value != "" {
			out = append(out, f)
		}
	}
	return out
}
