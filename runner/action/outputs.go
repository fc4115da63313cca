package action

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/containercraft/konductor-action/runner/result"
)

// Output names, as in action.yml.
const (
	OutputHasChanges          = "has-changes"
	OutputHasDestroy          = "has-destroy"
	OutputPolicyViolations    = "policy-violations"
	OutputMandatoryViolations = "mandatory-violations"
	// OutputOverriddenViolations counts mandatory violations an approving
	// reviewer overrode (they no longer count as mandatory).
	OutputOverriddenViolations = "overridden-violations"
	OutputResult               = "result"
	OutputStackOutputs         = "stack-outputs"
	// OutputDriftedStacks lists the stacks a drift check found drifted
	// (drift.go); [] on other runs.
	OutputDriftedStacks = "drifted-stacks"
	// OutputPlan and OutputMatrix are written by command: plan only.
	OutputPlan   = "plan"
	OutputMatrix = "matrix"
)

// StackResult is one stack's entry in the result output.
type StackResult struct {
	Operation            result.Operation  `json:"operation"`
	Status               result.Status     `json:"status"`
	HasChanges           bool              `json:"hasChanges"`
	HasDestroy           bool              `json:"hasDestroy"`
	Counts               map[result.Op]int `json:"counts"`
	PolicyViolations     int               `json:"policyViolations"`
	MandatoryViolations  int               `json:"mandatoryViolations"`
	OverriddenViolations int               `json:"overriddenViolations,omitempty"`
	Drift                bool              `json:"drift,omitempty"`
	Commit               string            `json:"commit,omitempty"`
	Error                string            `json:"error,omitempty"`
}

// outputs writes the step outputs for results (already masked). Every value
// is one line: booleans, counts and compact JSON, whose encoding escapes
// line breaks. So no value can end a heredoc or start another output, which
// go-githubactions' SetOutput (a fixed heredoc delimiter) cannot promise
// for text from a pull request.
func (r *run) outputs(results []*result.Result) error {
	changes, destroy := false, false
	violations, mandatory, overridden := 0, 0, 0
	summary := map[string]StackResult{}
	stackOutputs := map[string]map[string]any{}
	for _, res := range results {
		changes = changes || res.HasChanges()
		destroy = destroy || res.HasDestroy()
		violations += len(res.Violations)
		mandatory += res.MandatoryViolations()
		overridden += res.OverriddenViolations()
		counts := res.Counts
		if counts == nil {
			counts = map[result.Op]int{}
		}
		summary[res.Stack] = StackResult{
			Operation: res.Operation, Status: res.Status, HasChanges: res.HasChanges(), HasDestroy: res.HasDestroy(),
			Counts: counts, PolicyViolations: len(res.Violations), MandatoryViolations: res.MandatoryViolations(),
			OverriddenViolations: res.OverriddenViolations(),
			Drift:                drifted(r.plan, res), Commit: res.Commit, Error: res.Error,
		}
		outs := map[string]any{}
		for k, o := range res.Outputs {
			// An output holding a secret anywhere (a Pulumi secret, or a
			// value masked as one) is left out whole; one with no full
			// value (unknown in a preview) too.
			if o.Secret || o.Change == result.Deleted || o.Raw == nil || strings.Contains(compactJSON(o.Raw), result.SecretText) {
				continue
			}
			outs[k] = o.Raw
		}
		stackOutputs[res.Stack] = outs
	}
	kv := [][2]string{
		{OutputHasChanges, strconv.FormatBool(changes)},
		{OutputHasDestroy, strconv.FormatBool(destroy)},
		{OutputPolicyViolations, strconv.Itoa(violations)},
		{OutputMandatoryViolations, strconv.Itoa(mandatory)},
		{OutputOverriddenViolations, strconv.Itoa(overridden)},
		{OutputResult, compactJSON(summary)},
		{OutputStackOutputs, compactJSON(stackOutputs)},
		{OutputDriftedStacks, compactJSON(driftedStacks(r.plan, results))},
	}
	return r.writeOutputs(kv)
}

// writeOutputs appends name=value lines to GITHUB_OUTPUT, refusing any
// value that is not one line. The values are built from typed values and
// masked results (never masked as text: a secret equal to "true" must not
// turn has-changes=true into has-changes=[secret]).
func (r *run) writeOutputs(kv [][2]string) error {
	path := r.getenv("GITHUB_OUTPUT")
	if path == "" {
		return nil
	}
	var b strings.Builder
	for _, p := range kv {
		v := p[1]
		if err := checkOutput(p[0], v); err != nil {
			return err
		}
		b.WriteString(p[0] + "=" + v + "\n")
	}
	return appendFile(path, b.String())
}

// checkOutput refuses a value that could break out of its line.
func checkOutput(name, value string) error {
	if strings.ContainsAny(value, "\r\n") {
		return fmt.Errorf("output %s: refusing a multi-line value", name)
	}
	return nil
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}
