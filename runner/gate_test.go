package runner_test

import (
	"context"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/stashmod"
	"github.com/containercraft/konductor-action/test/testenv"
)

// gateEngine answers a preview with a fixed result and records the
// operations it was asked for.
type gateEngine struct {
	mu      sync.Mutex
	ops     []result.Operation
	preview *result.Result
}

func (e *gateEngine) Run(_ context.Context, req engine.Request) (*result.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ops = append(e.ops, req.Operation)
	if req.Operation == result.Preview {
		c := *e.preview
		return &c, nil
	}
	return &result.Result{Operation: req.Operation, Status: result.Succeeded, Counts: map[result.Op]int{result.OpCreate: 1}}, nil
}

func (e *gateEngine) Config(context.Context, string, string) (auto.ConfigMap, error) { return nil, nil }

// A deploy with policy packs previews first, and goes ahead only when that
// preview succeeded with no mandatory violation: the engine never starts
// an `up` that would apply the steps before a violating resource.
func TestDeployGate(t *testing.T) {
	t.Parallel()
	mandatory := result.Violation{Pack: "p", Rule: "r", Level: "mandatory"}
	for _, c := range []struct {
		name    string
		preview result.Result
		wantOps []result.Operation
		want    result.Status
	}{
		{"clean preview deploys", result.Result{Status: result.Succeeded}, []result.Operation{result.Preview, result.Up}, result.Succeeded},
		{"mandatory violation blocks", result.Result{Status: result.Failed, Violations: []result.Violation{mandatory}}, []result.Operation{result.Preview}, result.Blocked},
		{"advisory only deploys", result.Result{Status: result.Succeeded, Violations: []result.Violation{{Pack: "p", Rule: "a", Level: "advisory"}}}, []result.Operation{result.Preview, result.Up}, result.Succeeded},
		{"failed preview stops", result.Result{Status: result.Failed, Error: "boom"}, []result.Operation{result.Preview}, result.Failed},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := testenv.Project(t, "app", "dev", "config:\n  app:stash:\n    enabled: true\n")
			eng := &gateEngine{preview: &c.preview}
			r := &runner.Runner{Registry: modules.NewRegistry(stashmod.Module), Engine: eng}
			res, err := r.Run(context.Background(), runner.Request{Operation: result.Up, Dir: dir, Stack: "dev",
				Commit: "abc1234", PolicyPacks: []string{"/packs/team"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(eng.ops) != len(c.wantOps) || eng.ops[0] != c.wantOps[0] || eng.ops[len(eng.ops)-1] != c.wantOps[len(c.wantOps)-1] {
				t.Errorf("engine ran %v, want %v", eng.ops, c.wantOps)
			}
			if res.Status != c.want || res.Operation != result.Up {
				t.Errorf("result %s %s (%s)", res.Operation, res.Status, res.Error)
			}
		})
	}
}

// configEngine answers Config with a fixed config map.
type configEngine struct {
	gateEngine
	cfg auto.ConfigMap
}

func (e *configEngine) Config(context.Context, string, string) (auto.ConfigMap, error) {
	return e.cfg, nil
}

// The values to mask are every leaf of a secret key the stack file does
// not hold in plain text: a `secure:` value, and what an ESC environment
// supplied (the file names only the environment).
func TestSecretsIncludeEnvironmentValues(t *testing.T) {
	t.Parallel()
	dir := testenv.Project(t, "app", "dev", "environment: [platform/dev]\nconfig:\n  app:stash:\n    enabled: true\n    values:\n      color: blue\n")
	eng := &configEngine{cfg: auto.ConfigMap{
		"app:stash":  {Value: `{"enabled":true,"values":{"color":"blue","token":"esc-tok-71f"}}`, Secret: true},
		"app:region": {Value: "eu-west-1"},
	}}
	r := &runner.Runner{Registry: modules.NewRegistry(stashmod.Module), Engine: eng}
	got, err := r.Secrets(context.Background(), dir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "esc-tok-71f" {
		t.Errorf("Secrets = %q, want the environment's token only", got)
	}
	// No secure value and no environment: no engine call, nothing to mask.
	plain := testenv.Project(t, "app", "dev", "config:\n  app:stash:\n    enabled: true\n")
	if got, err := (&runner.Runner{Registry: modules.NewRegistry(stashmod.Module)}).Secrets(context.Background(), plain, "dev"); err != nil || got != nil {
		t.Errorf("plain stack: %q, %v", got, err)
	}
}
