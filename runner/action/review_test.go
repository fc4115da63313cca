package action_test

import (
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

const pushSHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c" // push.main.json's after

// A pull request preview hides its review in the stack's section.
func TestPreviewCarriesReview(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev")
	h.changed("Pulumi.dev.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	review := strings.Repeat("ab", 16) + "-AAAAAQ"
	h.fake.results["dev"] = []*result.Result{{Project: "app", Stack: "dev", Status: result.Succeeded, Review: review,
		Counts: map[result.Op]int{result.OpCreate: 1}}}
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	_, secs, _ := github.Parse(h.comment())
	if len(secs) != 1 || secs[0].Review != review || secs[0].SHA != headSHA {
		t.Fatalf("sections %+v, want dev with the review at the head", secs)
	}
}

// A push deploy finds the merged pull request, hands its last preview's
// review to the runner (failing unreviewed deploys of protected stacks)
// and reports the deploy on the pull request; a direct push finds none.
func TestPushDeployChecksReview(t *testing.T) {
	t.Parallel()
	review := strings.Repeat("cd", 16)
	tests := []struct {
		name       string
		settings   string
		merged     bool
		sectionSHA string
		wantFail   bool
		wantFound  bool
		wantSource string
	}{
		{"reviewed, protected", "stacks:\n  prod: {branch: main, protected: true}\n", true, headSHA, true, true, "pull request #2, preview of ec26c3e"},
		{"reviewed, default deploy", "stacks:\n  prod: {branch: main}\n", true, headSHA, false, true, "pull request #2, preview of ec26c3e"},
		{"protected but explicitly deploy", "stacks:\n  prod: {branch: main, protected: true, on_unreviewed: deploy}\n", true, headSHA, false, true, ""},
		{"last commit not previewed", "stacks:\n  prod: {branch: main, on_unreviewed: fail}\n", true, "1111111111111111111111111111111111111111", true, false, "last commit ec26c3e was not previewed"},
		{"direct push", "stacks:\n  prod: {branch: main, protected: true}\n", false, "", true, false, "no merged pull request has commit 0d1a26e (a direct push)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, "prod")
			h.file("konductor.yaml", tt.settings)
			h.event("push", readTestdata(t, "push.main.json"))
			if tt.merged {
				h.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo,
					HeadRef: "feature", HeadSHA: headSHA, Merged: true, MergeCommitSHA: pushSHA})
				h.srv.SeedComment(owner, repo, prNum, fakegithub.DefaultLogin, github.Compose(github.DefaultHeader,
					[]github.Section{{Stack: "prod", SHA: tt.sectionSHA, Body: "preview", Review: review}}, 0))
			}
			h.fake.results["prod"] = []*result.Result{{Project: "app", Stack: "prod", Operation: result.Up, Status: result.Succeeded,
				Counts: map[result.Op]int{result.OpUpdate: 1}, Reviewed: &result.ReviewOutcome{Found: true, Source: "pull request #2, preview of ec26c3e"}}}
			if err := h.run(); err != nil {
				t.Fatal(err)
			}
			runs := h.fake.Runs()
			if len(runs) != 1 || runs[0].Review == nil {
				t.Fatalf("runs %+v, want one deploy with a review check", runs)
			}
			rc := runs[0].Review
			if rc.Fail != tt.wantFail || (rc.Reviewed != nil) != tt.wantFound || !strings.Contains(rc.Source, tt.wantSource) {
				t.Errorf("review check %+v (source %q), want fail=%v found=%v source ~ %q", rc, rc.Source, tt.wantFail, tt.wantFound, tt.wantSource)
			}
			if tt.wantFound && rc.Reviewed.Digest != review {
				t.Errorf("reviewed digest %q, want %q", rc.Reviewed.Digest, review)
			}
			if !tt.merged {
				for _, r := range requests(h.srv) {
					if strings.HasPrefix(r, "POST") || strings.HasPrefix(r, "PATCH") {
						t.Errorf("a direct push wrote to GitHub: %v", requests(h.srv))
					}
				}
				return
			}
			_, secs, _ := github.Parse(h.comment())
			var deploy *github.Section
			for i, s := range secs {
				if s.Stack == "prod/deploy" {
					deploy = &secs[i]
				}
			}
			if deploy == nil || !strings.Contains(deploy.Body, "`prod` — up succeeded") || !strings.Contains(deploy.Body, "**Reviewed:**") {
				t.Fatalf("no deploy section on the merged pull request:\n%s", h.comment())
			}
			if !strings.Contains(h.summary(), "**Reviewed:**") {
				t.Errorf("summary lacks the review line:\n%s", h.summary())
			}
		})
	}
}
