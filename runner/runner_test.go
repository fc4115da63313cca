package runner_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/report"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/stashmod"
	"github.com/containercraft/konductor-action/test/testenv"
)

func newRunner(t *testing.T, environ []string) *runner.Runner {
	t.Helper()
	eng, err := engine.New(engine.Options{Environ: environ})
	if err != nil {
		t.Fatal(err)
	}
	return &runner.Runner{
		Registry: modules.NewRegistry(stashmod.Module, stashmod.New("downstream", "stash")),
		Engine:   eng,
		Getenv:   testenv.Getenv(environ),
	}
}

const stackV1 = `config:
  app:stash:
    enabled: true
    values:
      color: blue
      size: small
  app:downstream:
    enabled: true
    values:
      note: hello
`

// TestLifecycle runs preview → up → changed preview → up → destroy on the
// real pinned CLI with the embedded file backend under the work dir.
func TestLifecycle(t *testing.T) {
	dir := testenv.Project(t, "app", "dev", stackV1)
	environ := testenv.Environ(t, nil)
	Cycle(t, newRunner(t, environ), dir)
	matches, _ := filepath.Glob(filepath.Join(dir, engine.LocalStateDir, ".pulumi", "stacks", "app", "dev.json*"))
	if len(matches) == 0 {
		t.Errorf("no state under %s: the embedded file backend was not used", filepath.Join(dir, engine.LocalStateDir))
	}
}

// Cycle is the lifecycle every backend must pass.
func Cycle(t *testing.T, r *runner.Runner, dir string) {
	t.Helper()
	ctx := context.Background()
	run := func(op result.Operation) *result.Result {
		t.Helper()
		res, err := r.Run(ctx, runner.Request{Operation: op, Dir: dir, Stack: "dev"})
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if res.Status != result.Succeeded {
			t.Fatalf("%s: status %s: %s\n%s", op, res.Status, res.Error, report.Markdown(res, report.Options{}))
		}
		return res
	}

	// 1. A preview of a new stack shows every resource as a create.
	res := run(result.Preview)
	// stash-color, stash-size, downstream-note + two module components.
	if got := res.Counts[result.OpCreate]; got != 6 { // + the stack itself
		t.Errorf("preview creates = %d, want 6; counts %v", got, res.Counts)
	}
	md := report.Markdown(res, report.Options{})
	// The headline counts the three stashes; the stack, the module
	// components and the provider are konductor's internal resources.
	for _, want := range []string{"`dev` — preview has changes", "**3** to create · 3 internal", "`pulumi:index:Stash` **stash-color**", "`pulumi:index:Stash` **downstream-note**"} {
		if !strings.Contains(md, want) {
			t.Errorf("preview markdown lacks %q:\n%s", want, md)
		}
	}

	// 2. up creates them.
	res = run(result.Up)
	if got := res.Counts[result.OpCreate]; got != 6 {
		t.Errorf("up creates = %d, want 6", got)
	}
	if o := res.Outputs["stash"]; !strings.Contains(o.Value, `"blue"`) {
		t.Errorf("stack output stash = %q, want the stash values", o.Value)
	}

	// 3. A config change previews as an update with the exact property diff.
	testenv.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), strings.Replace(stackV1, "color: blue", "color: green", 1))
	res = run(result.Preview)
	if res.Counts[result.OpUpdate] != 1 {
		t.Fatalf("want 1 update, counts %v", res.Counts)
	}
	var upd *result.Step
	for i := range res.Steps {
		if res.Steps[i].Op == result.OpUpdate {
			upd = &res.Steps[i]
		}
	}
	if upd == nil || upd.Name != "stash-color" {
		t.Fatalf("update step = %+v, want stash-color", upd)
	}
	want := result.PropertyDiff{Path: "input", Kind: result.Updated, Old: `"blue"`, New: `"green"`}
	if len(upd.Diffs) != 1 || upd.Diffs[0] != want {
		t.Errorf("diffs = %+v, want [%+v]", upd.Diffs, want)
	}
	md = report.Markdown(res, report.Options{})
	if !strings.Contains(md, "`input`: `\"blue\"` → `\"green\"`") {
		t.Errorf("markdown lacks the property diff:\n%s", md)
	}
	run(result.Up)

	// 4. destroy deletes everything; a new preview creates all again.
	res = run(result.Destroy)
	if got := res.Counts[result.OpDelete]; got != 6 {
		t.Errorf("destroy deletes = %d, want 6 (counts %v)", got, res.Counts)
	}
	res = run(result.Preview)
	if res.Counts[result.OpCreate] != 6 || res.Counts[result.OpSame] != 0 {
		t.Errorf("after destroy, preview counts = %v, want 6 creates and nothing same", res.Counts)
	}
}
