package rules

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/modules/metadata"
)

// ruleCase is one input of a rule and the violations it must produce: one
// substring per expected violation, in order; none means the input passes.
type ruleCase struct {
	name string
	res  Resource
	cfg  map[string]any // configured properties, merged over the defaults
	want []string
}

// runCases runs resource-rule cases and checks every violation carries a
// message and a remediation hint.
func runCases(t *testing.T, ruleName string, cases []ruleCase) {
	t.Helper()
	rule, ok := Lookup(ruleName)
	if !ok {
		t.Fatalf("no rule %q", ruleName)
	}
	if rule.Check == nil {
		t.Fatalf("rule %q is not a resource rule", ruleName)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vs := rule.Evaluate(tc.res, tc.cfg)
			checkViolations(t, vs, tc.want)
		})
	}
}

func checkViolations(t *testing.T, vs []Violation, want []string) {
	t.Helper()
	for _, v := range vs {
		if v.Message == "" || v.Remediation == "" {
			t.Errorf("violation without message or remediation: %+v", v)
		}
		if !strings.HasPrefix(v.Remediation, "set ") && !strings.HasPrefix(v.Remediation, "replace ") &&
			!strings.HasPrefix(v.Remediation, "add ") && !strings.HasPrefix(v.Remediation, "restrict ") {
			t.Errorf("remediation does not start with an action: %q", v.Remediation)
		}
	}
	if len(vs) != len(want) {
		t.Fatalf("got %d violations, want %d:\n%s", len(vs), len(want), render(vs))
	}
	for i, w := range want {
		if !strings.Contains(vs[i].String(), w) {
			t.Errorf("violation %d = %q, want it to contain %q", i, vs[i].String(), w)
		}
	}
}

func render(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("  " + v.String() + "\n")
	}
	return b.String()
}

// obj parses JSON into the map[string]any shape the engine's property maps
// convert to (numbers are float64).
func obj(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return m
}

// k8sLabels are complete konductor labels.
func k8sLabels() map[string]any {
	return map[string]any{
		metadata.LabelManagedBy: metadata.ManagedByValue,
		metadata.LabelStack:     "dev",
		metadata.LabelModule:    "cert_manager",
		metadata.LabelGitCommit: "0123abc",
	}
}

// cloudTags are complete konductor tags.
func cloudTags() map[string]any {
	return map[string]any{
		metadata.TagManagedBy: metadata.ManagedByValue,
		metadata.TagStack:     "dev",
		metadata.TagModule:    "aws",
	}
}
