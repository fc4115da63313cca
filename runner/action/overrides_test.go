package action_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

const otherSHA = "1234567890123456789012345678901234567890"

// blockedPreview is a preview stopped by one mandatory violation.
func blockedPreview() []*result.Result {
	return []*result.Result{{Project: "app", Stack: "dev", Operation: result.Preview, Status: result.Blocked,
		Error:  "1 mandatory policy violation(s) block this preview; nothing was changed",
		Counts: map[result.Op]int{result.OpCreate: 1},
		Violations: []result.Violation{{Pack: "konductor-baseline", Rule: "k8s-no-host-namespaces", Level: "mandatory",
			Type: "kubernetes:apps/v1:Deployment", Name: "webhook", URN: "urn:pulumi:dev::app::kubernetes:apps/v1:Deployment::webhook",
			Message: "uses the host network"}}}}
}

// reviewEvent is a pull_request_review event of the harness's pull request.
func reviewEvent(t *testing.T, action string) []byte {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(readTestdata(t, "pull_request.opened.json"), &p); err != nil {
		t.Fatal(err)
	}
	p["action"] = action
	p["review"] = map[string]any{"state": "approved"}
	p["pull_request"].(map[string]any)["head"].(map[string]any)["sha"] = headSHA
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An approving reviewer with write access lets a mandatory violation of a
// pull request through, with a reason, on the head commit; every other
// kind of override line leaves the block and says why it did not count.
func TestOverridesOnPullRequest(t *testing.T) {
	t.Parallel()
	const line = "konductor override konductor-baseline/k8s-no-host-namespaces : the webhook needs it on this cluster"
	tests := []struct {
		name     string
		settings string
		reviews  []fakegithub.Review
		comment  string // a plain comment
		dismiss  bool
		want     bool   // overridden
		why      string // in the section when not
	}{
		{"approved by a writer", "", []fakegithub.Review{{User: "alice", State: fakegithub.ReviewApproved, Body: "LGTM\n" + line}}, "", false, true, ""},
		{"in a plain comment", "", nil, line, false, false, "did not count"},
		{"by a reader", "", []fakegithub.Review{{User: "rita", State: fakegithub.ReviewApproved, Body: line}}, "", false, false, "has read permission"},
		{"by the author", "", []fakegithub.Review{{User: "octocat", State: fakegithub.ReviewCommented, Body: line}}, "", false, false, "author"},
		{"no reason", "", []fakegithub.Review{{User: "alice", State: fakegithub.ReviewApproved, Body: "konductor override konductor-baseline/k8s-no-host-namespaces"}}, "", false, false, "reason"},
		{"another rule", "", []fakegithub.Review{{User: "alice", State: fakegithub.ReviewApproved, Body: "konductor override konductor-baseline/k8s-pinned-images : fine"}}, "", false, false, "k8s-pinned-images"},
		{"an older commit", "", []fakegithub.Review{{User: "alice", State: fakegithub.ReviewApproved, CommitID: otherSHA, Body: line}}, "", false, false, "a new commit needs a new approval"},
		{"dismissed", "", []fakegithub.Review{{User: "alice", State: fakegithub.ReviewApproved, Body: line}}, "", true, false, "dismissed"},
		{"override: never", "policies:\n  rules:\n    k8s-no-host-namespaces: {override: never}\n",
			[]fakegithub.Review{{User: "alice", State: fakegithub.ReviewApproved, Body: line}}, "", false, false, "sets the rule to override: never"},
		{"not in override_by", "policies:\n  rules:\n    k8s-no-host-namespaces: {override_by: [sec-lead]}\n",
			[]fakegithub.Review{{User: "alice", State: fakegithub.ReviewApproved, Body: line}}, "", false, false, "lets only sec-lead override it"},
		{"in override_by", "policies:\n  rules:\n    k8s-no-host-namespaces: {override_by: [Sec-Lead]}\n",
			[]fakegithub.Review{{User: "sec-lead", State: fakegithub.ReviewApproved, Body: line}}, "", false, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, "dev")
			if tt.settings != "" {
				h.file("konductor.yaml", tt.settings)
			}
			h.changed("Pulumi.dev.yaml")
			for _, login := range []string{"alice", "sec-lead"} {
				h.srv.SetCollaborator(owner, repo, login, fakegithub.RoleWrite)
			}
			h.srv.SetCollaborator(owner, repo, "rita", fakegithub.RoleRead)
			for _, rv := range tt.reviews {
				got := h.srv.AddReview(owner, repo, prNum, rv)
				if tt.dismiss {
					h.srv.DismissReview(got.ID)
				}
			}
			if tt.comment != "" {
				h.srv.SeedComment(owner, repo, prNum, "alice", tt.comment)
			}
			h.event("pull_request_review", reviewEvent(t, "submitted"))
			h.fake.results["dev"] = blockedPreview()
			err := h.run()
			var body string
			for _, c := range h.srv.Comments(owner, repo, prNum) {
				if strings.HasPrefix(c.Body, "<!-- konductor:comment -->") {
					body = c.Body
				}
			}
			out := h.outputs()
			if tt.want {
				if err != nil {
					t.Fatalf("overridden, yet the run failed: %v", err)
				}
				if !strings.Contains(body, "overridden by @"+tt.reviews[0].User+"**: the webhook needs it on this cluster") || !strings.Contains(body, "k8s-no-host-namespaces") {
					t.Errorf("the section does not show the override:\n%s", body)
				}
				if out[action.OutputOverriddenViolations] != "1" || out[action.OutputMandatoryViolations] != "0" {
					t.Errorf("outputs %v", out)
				}
				return
			}
			if !errors.Is(err, action.ErrFailed) {
				t.Fatalf("err = %v, want the block (ErrFailed)", err)
			}
			if !strings.Contains(body, "🛑 mandatory") || !strings.Contains(body, tt.why) {
				t.Errorf("the section lacks the block or %q:\n%s", tt.why, body)
			}
			if out[action.OutputOverriddenViolations] != "0" || out[action.OutputMandatoryViolations] != "1" {
				t.Errorf("outputs %v", out)
			}
		})
	}
}

// The merge deploy reads the same overrides from the merged pull request:
// those rules run as advisory for that deploy only.
func TestOverridesOnMergeDeploy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "prod")
	h.file("konductor.yaml", "stacks:\n  prod: {branch: main}\n")
	h.event("push", readTestdata(t, "push.main.json"))
	h.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo,
		HeadRef: "feature", HeadSHA: headSHA, Merged: true, MergeCommitSHA: pushSHA})
	h.srv.SetCollaborator(owner, repo, "alice", fakegithub.RoleAdmin)
	h.srv.AddReview(owner, repo, prNum, fakegithub.Review{User: "alice", State: fakegithub.ReviewApproved,
		Body: "konductor override konductor-baseline/k8s-no-host-namespaces prod : approved for the migration"})
	h.fake.results["prod"] = []*result.Result{{Project: "app", Stack: "prod", Operation: result.Up, Status: result.Succeeded,
		Counts: map[result.Op]int{result.OpUpdate: 1}}}
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	runs := h.fake.Runs()
	if len(runs) != 1 {
		t.Fatalf("runs %+v", runs)
	}
	o, ok := runs[0].Overrides["konductor-baseline/k8s-no-host-namespaces"]
	if !ok || o.By != "alice" || o.Reason != "approved for the migration" {
		t.Errorf("the deploy's overrides %+v, want alice's", runs[0].Overrides)
	}
}
