package action_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/test/fakegithub"
	"github.com/containercraft/konductor-action/test/testenv"
)

// TestPolicyOverrideLoop runs a policy override on the real CLI with the
// fake GitHub: the example stack in render mode with the cert-manager
// webhook on the host network (a mandatory violation) is blocked; an
// approving writer's override line lets the pull request through, listed
// with who and why; the merge deploys with the override recorded in the
// pull request's deploy section and the summary.
func TestPolicyOverrideLoop(t *testing.T) {
	t.Parallel()
	const merge = "4444444444444444444444444444444444444444"
	ws := t.TempDir()
	example := filepath.Join("..", "..", "examples", "platform")
	for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml"} {
		b, err := os.ReadFile(filepath.Join(example, f))
		if err != nil {
			t.Fatal(err)
		}
		testenv.Write(t, filepath.Join(ws, f), string(b))
	}
	if err := os.CopyFS(filepath.Join(ws, ".konductor", "charts", "cert-manager"), os.DirFS(testenv.CertManagerChart(t))); err != nil {
		t.Fatal(err)
	}
	edit(t, filepath.Join(ws, "Pulumi.dev.yaml"), "    chart_path: .konductor/charts/cert-manager\n",
		"    chart_path: .konductor/charts/cert-manager\n    values:\n      webhook:\n        hostNetwork: true\n")
	testenv.Write(t, filepath.Join(ws, "konductor.yaml"), "stacks:\n  dev: {branch: main}\n")
	w := newWorldIn(t, ws)
	w.changed("Pulumi.dev.yaml")
	const rule = "konductor-baseline/k8s-no-host-namespaces"

	// Blocked.
	r := w.step("pull_request", prPayload(t, "opened", shaA, "acme/platform"), map[string]string{"GITHUB_SHA": shaA})
	if r.code != 1 {
		t.Fatalf("preview: exit %d, want 1 (blocked): %s", r.code, r)
	}
	contains(t, "blocked section", w.comment(), "🛑 mandatory `"+rule+"`")

	// A reader's approval does not count; a writer's does.
	w.srv.SetCollaborator(owner, repo, "rita", fakegithub.RoleRead)
	w.srv.SetCollaborator(owner, repo, "alice", fakegithub.RoleWrite)
	w.srv.AddReview(owner, repo, prNum, fakegithub.Review{User: "rita", State: fakegithub.ReviewApproved,
		Body: "konductor override " + rule + " : please"})
	w.srv.AddReview(owner, repo, prNum, fakegithub.Review{User: "alice", State: fakegithub.ReviewApproved,
		Body: "Approved.\n\nkonductor override " + rule + " dev : the webhook must reach the API server from the host network on this platform"})
	r = w.step("pull_request_review", prPayload(t, "submitted", shaA, "acme/platform"), map[string]string{"GITHUB_SHA": shaA})
	if r.code != 0 {
		t.Fatalf("after the override: exit %d, want 0: %s", r.code, r)
	}
	body := w.comment()
	contains(t, "overridden section", body, "overridden by @alice**: the webhook must reach the API server",
		"@rita has read permission")
	if strings.Contains(body, "🛑 mandatory") {
		t.Errorf("still blocked:\n%s", body)
	}
	if out := r.outputMap(t); out["overridden-violations"] == "0" || out["mandatory-violations"] != "0" {
		t.Errorf("outputs %v", out)
	}

	// Merged: the deploy runs the overridden rule as advisory, this once.
	w.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo,
		HeadRef: "changes", HeadSHA: shaA, Merged: true, MergeCommitSHA: merge})
	r = w.step("push", pushPayload(t, merge), map[string]string{"GITHUB_SHA": merge, "GITHUB_REF": "refs/heads/main"})
	if r.code != 0 {
		t.Fatalf("merge deploy: exit %d: %s", r.code, r)
	}
	contains(t, "deploy summary", r.summary, "`dev` — up succeeded", "overridden by @alice", "**Reviewed:**")
	contains(t, "deploy section", w.comment(), "<!-- konductor:section:dev/deploy:begin", "overridden by @alice")
}
