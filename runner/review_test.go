package runner_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/testenv"
)

// TestDeployIsWhatWasReviewed runs the review flow on the real CLI with a
// render-mode platform stack (namespaces, baseline, the cert-manager chart):
// a pull request's preview is reviewed; the merge deploys it (only the
// commit labels differ) keeping to the gating preview's plan; when the
// base moved between review and merge, a stack that requires a review stops
// with its state untouched and names the unreviewed change; a direct push
// to a stack that does not require one deploys and says it was unreviewed.
func TestDeployIsWhatWasReviewed(t *testing.T) {
	state := t.TempDir()
	chart := testenv.CertManagerChart(t)
	dir := testenv.Project(t, "platform", "dev", kubeStack("    render_dir: rendered", chart, true, "apps"))
	at := func(commit string) *runner.Runner {
		return newKubeRunnerEnv(t, map[string]string{engine.EnvBackendURL: "file://" + state,
			"GITHUB_SHA": commit, "GITHUB_REF_NAME": "main", "GITHUB_REPOSITORY": "acme/platform", "GITHUB_ACTOR": "dev"})
	}
	setTier := func(tier string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "Pulumi.dev.yaml"), []byte(kubeStack("    render_dir: rendered", chart, true, tier)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(r *runner.Runner, req runner.Request) *result.Result {
		t.Helper()
		req.Dir, req.Stack = dir, "dev"
		start := time.Now()
		res, err := r.Run(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s (review %v): %s in %s, counts %v", req.Operation, req.Review != nil, res.Status, time.Since(start).Round(time.Millisecond), res.Counts)
		return res
	}
	review := func(res *result.Result) *result.Review {
		t.Helper()
		rv, err := result.DecodeReview(res.Review)
		if err != nil {
			t.Fatalf("preview review %q: %v", res.Review, err)
		}
		return &rv
	}
	stateFile := filepath.Join(state, ".pulumi", "stacks", "platform", "dev.json")

	// Deployed: tier apps.
	if res := run(at("1111111111111111111111111111111111111111"), runner.Request{Operation: result.Up}); res.Status != result.Succeeded {
		t.Fatalf("first deploy: %s: %s", res.Status, res.Error)
	}

	// A pull request changes the tier; its head is previewed and reviewed.
	setTier("infra")
	pr := run(at("2222222222222222222222222222222222222222"), runner.Request{Operation: result.Preview})
	if pr.Status != result.Succeeded || pr.Review == "" {
		t.Fatalf("PR preview: %s, review %q", pr.Status, pr.Review)
	}
	// Merged: the merge commit's labels differ from the reviewed commit's,
	// nothing else does.
	merged := run(at("3333333333333333333333333333333333333333"), runner.Request{Operation: result.Up,
		Review: &runner.ReviewCheck{Reviewed: review(pr), Source: "pull request #1, preview of 2222222", Fail: true}})
	if merged.Status != result.Succeeded || !merged.Reviewed.Matched() {
		t.Fatalf("merge deploy: %s (%s), outcome %+v", merged.Status, merged.Error, merged.Reviewed)
	}
	if merged.Reviewed.Plan != "kept to the plan of the preview that matched the review" {
		t.Errorf("plan: %q", merged.Reviewed.Plan)
	}
	if merged.Counts[result.OpUpdate] == 0 {
		t.Errorf("the merge deploy updated nothing: %v", merged.Counts)
	}

	// Another pull request is reviewed; before it merges the base moves
	// (another change to the same stack lands): the deploy must stop.
	setTier("ops")
	pr2 := run(at("4444444444444444444444444444444444444444"), runner.Request{Operation: result.Preview})
	before, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := kubeStack("    render_dir: rendered", chart, true, "ops")
	cfg = strings.Replace(cfg, "owner: team-a@example.com", "owner: someone-else@example.com", 1)
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.dev.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	stopped := run(at("5555555555555555555555555555555555555555"), runner.Request{Operation: result.Up,
		Review: &runner.ReviewCheck{Reviewed: review(pr2), Source: "pull request #2, preview of 4444444", Fail: true}})
	if stopped.Status != result.Unreviewed {
		t.Fatalf("base moved: status %s, want unreviewed (%s)", stopped.Status, stopped.Error)
	}
	named := false
	for _, d := range stopped.Reviewed.Differences {
		if strings.Contains(d.URN, "team-a") && d.Why == "changed since the review" {
			named = true
		}
	}
	if !named {
		t.Errorf("the unreviewed change to team-a is not named: %+v", stopped.Reviewed.Differences)
	}
	if after, _ := os.ReadFile(stateFile); !bytes.Equal(before, after) {
		t.Error("the state changed though the deploy stopped")
	}

	// A direct push to a stack that does not require a review deploys and
	// says it was not reviewed.
	direct := run(at("6666666666666666666666666666666666666666"), runner.Request{Operation: result.Up,
		Review: &runner.ReviewCheck{Source: "no pull request for commit 6666666"}})
	if direct.Status != result.Succeeded || direct.Reviewed == nil || direct.Reviewed.Found || direct.Reviewed.Matched() {
		t.Fatalf("direct push: %s (%s), outcome %+v", direct.Status, direct.Error, direct.Reviewed)
	}
	if !strings.Contains(direct.Reviewed.Plan, "without a plan") {
		t.Errorf("plan: %q", direct.Reviewed.Plan)
	}
}
