package runner_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/policy"
	"github.com/containercraft/konductor-action/runner/report"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/testenv"
)

const cleanStack = `config:
  app:stash:
    enabled: true
    values:
      color: blue
`

const violatingStack = `config:
  app:stash:
    enabled: true
    values:
      color: forbidden
      note: todo later
`

// policyProject is a project whose konductor.yaml adds the user pack from
// testdata as a Go package directory, built by the runner.
func policyProject(t *testing.T, stack, rulesYAML string) string {
	t.Helper()
	dir := testenv.Project(t, "app", "dev", stack)
	pack, err := filepath.Abs("testdata/stashpack")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Write(t, filepath.Join(dir, "konductor.yaml"), "policies:\n  packs: ["+pack+"]\n"+rulesYAML)
	return dir
}

func policyRunner(t *testing.T) *runner.Runner {
	r := newRunner(t, testenv.Environ(t, nil))
	r.Policy = policy.Options{CacheDir: t.TempDir(), Baseline: testenv.BaselinePack(t)}
	return r
}

func TestPolicyViolationsReported(t *testing.T) {
	dir := policyProject(t, violatingStack, "")
	res, err := policyRunner(t).Run(context.Background(), runner.Request{Operation: result.Preview, Dir: dir, Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.Blocked {
		t.Errorf("status = %s, want blocked", res.Status)
	}
	var got []string
	for _, v := range res.Violations {
		if v.Pack == "stashpack" {
			got = append(got, v.Level+" "+v.Rule+" "+v.Name+" "+v.Type)
			if !strings.HasPrefix(v.URN, "urn:pulumi:dev::app::") {
				t.Errorf("violation URN = %q", v.URN)
			}
		}
	}
	want := []string{"mandatory stash-no-forbidden stash-color pulumi:index:Stash", "advisory stash-no-todo stash-note pulumi:index:Stash"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("violations = %q, want %q (mandatory first)", got, want)
	}
	md := report.Markdown(res, report.Options{})
	iv, ic := strings.Index(md, "**Policy violations**"), strings.Index(md, "**Creates**")
	if iv < 0 || (ic >= 0 && ic < iv) {
		t.Errorf("violations must come before resource changes:\n%s", md)
	}
	if !strings.Contains(md, "🛑 mandatory `stashpack/stash-no-forbidden` on `pulumi:index:Stash` **stash-color**") {
		t.Errorf("markdown lacks the mandatory violation line:\n%s", md)
	}
}

// A mandatory violation blocks a deploy before any resource is touched: the
// state file is byte for byte what it was.
func TestMandatoryViolationBlocksDeploy(t *testing.T) {
	dir := policyProject(t, cleanStack, "")
	r := policyRunner(t)
	ctx := context.Background()
	res, err := r.Run(ctx, runner.Request{Operation: result.Up, Dir: dir, Stack: "dev"})
	if err != nil || res.Status != result.Succeeded {
		t.Fatalf("clean up: %v %+v", err, res)
	}
	stateFile := filepath.Join(dir, engine.LocalStateDir, ".pulumi", "stacks", "app", "dev.json")
	before, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}

	testenv.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), violatingStack)
	res, err = r.Run(ctx, runner.Request{Operation: result.Up, Dir: dir, Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.Blocked || res.MandatoryViolations() != 1 {
		t.Errorf("status = %s with %d mandatory, want blocked with 1", res.Status, res.MandatoryViolations())
	}
	after, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("state changed although the deploy was blocked")
	}

	// Downgrading the rule in konductor.yaml lets the deploy proceed.
	pack, _ := filepath.Abs("testdata/stashpack")
	testenv.Write(t, filepath.Join(dir, "konductor.yaml"), "policies:\n  packs: ["+pack+"]\n  rules:\n    stashpack/stash-no-forbidden: {enforcement: advisory}\n")
	res, err = r.Run(ctx, runner.Request{Operation: result.Up, Dir: dir, Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.Succeeded || res.Counts[result.OpCreate] != 1 || res.Counts[result.OpUpdate] != 1 {
		t.Errorf("after downgrade: status %s counts %v: %s", res.Status, res.Counts, res.Error)
	}
	for _, v := range res.Violations {
		if v.Rule == "stash-no-forbidden" && v.Level != "advisory" {
			t.Errorf("rule level = %s, want advisory", v.Level)
		}
	}
}

func TestPolicySettingsErrors(t *testing.T) {
	cases := map[string]string{
		"  rules:\n    k8s-no-privilegd: {enforcement: advisory}\n":                     `unknown rule (did you mean "k8s-no-privileged"?)`,
		"  rules:\n    aws-allowed-regions: {properties: {allowedRegion: [x]}}\n":       `unknown property (did you mean "allowedRegions"?)`,
		"  rules:\n    otherpack/x: {enforcement: advisory}\n":                          `no policy pack "otherpack"`,
		"  rules:\n    k8s-no-privileged: {enforcement: sometimes}\n":                   `"sometimes" is not one of advisory, mandatory, disabled`,
		"  rules:\n    k8s-resource-limits: {properties: {requireCpuLimit: \"yes\"}}\n": `policies.rules.k8s-resource-limits.properties.requireCpuLimit: "yes" is not a boolean (true or false)`,
		"  rules:\n    k8s-image-pinned: {properties: {requireDigest: 1}}\n":            `policies.rules.k8s-image-pinned.properties.requireDigest: 1 is not a boolean (true or false)`,
		"  rules:\n    aws-sg-no-admin-ingress: {properties: {adminPorts: 22}}\n":       `adminPorts: 22 is not a list of integers`,
		"  rules:\n    k8s-resource-limits: {properties: {requiredLimits: [cpu]}}\n":    `requiredLimits: no longer a property: CPU and memory requests and a memory limit are always required; set requireCpuLimit: true`,
	}
	for rules, want := range cases {
		dir := policyProject(t, cleanStack, rules)
		_, err := policyRunner(t).Run(context.Background(), runner.Request{Operation: result.Preview, Dir: dir, Stack: "dev"})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "konductor.yaml") {
			t.Errorf("rules %q: err = %v, want %q", rules, err, want)
		}
	}
	dir := testenv.Project(t, "app", "dev", cleanStack)
	testenv.Write(t, filepath.Join(dir, "konductor.yaml"), "policies:\n  packs: [./nope]\n")
	_, err := policyRunner(t).Run(context.Background(), runner.Request{Operation: result.Preview, Dir: dir, Stack: "dev"})
	if err == nil || !strings.Contains(err.Error(), "policy pack ./nope") {
		t.Errorf("missing pack: err = %v", err)
	}
	broken := t.TempDir()
	testenv.Write(t, filepath.Join(broken, "main.go"), "package main\nfunc main() { undefined() }\n")
	testenv.Write(t, filepath.Join(dir, "konductor.yaml"), "policies:\n  packs: ["+broken+"]\n")
	_, err = policyRunner(t).Run(context.Background(), runner.Request{Operation: result.Preview, Dir: dir, Stack: "dev"})
	if err == nil || !strings.Contains(err.Error(), "failed to build") {
		t.Errorf("broken pack: err = %v", err)
	}
}
