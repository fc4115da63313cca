package action_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/test/fakegithub"
	"github.com/containercraft/konductor-action/test/testenv"
)

// pushPayload is push.main.json pushing sha.
func pushPayload(t *testing.T, sha string) []byte {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(fixture(t, "push.main.json"), &p); err != nil {
		t.Fatal(err)
	}
	p["after"] = sha
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeployWhatWasReviewed runs the review loop on the real CLI with the
// fake GitHub, on a protected stack: a pull request's preview, its merge
// deployed under the preview's plan and reported on the pull request; a
// later pull request whose base moved before it merged, stopped with the
// state untouched and the unreviewed change named; then, with the stack no
// longer protected, a direct push deployed and said to be unreviewed.
func TestDeployWhatWasReviewed(t *testing.T) {
	t.Parallel()
	const (
		merge1 = "1111111111111111111111111111111111111111"
		merge2 = "2222222222222222222222222222222222222222"
		direct = "3333333333333333333333333333333333333333"
	)
	w := newWorld(t, map[string]string{"dev": stackConfig("rendered/dev", "platform")})
	testenv.Write(t, filepath.Join(w.workspace, "konductor.yaml"), "stacks:\n  dev: {branch: main, protected: true}\n")
	push := func(sha string) run {
		t.Helper()
		start := time.Now()
		r := w.step("push", pushPayload(t, sha), map[string]string{"GITHUB_SHA": sha, "GITHUB_REF": "refs/heads/main"})
		t.Logf("push %.7s: exit %d in %s", sha, r.code, time.Since(start).Round(time.Millisecond))
		return r
	}

	// The pull request is previewed at its head, then merged.
	w.changed("Pulumi.dev.yaml")
	if r := w.step("pull_request", prPayload(t, "opened", shaA, "acme/platform"), map[string]string{"GITHUB_SHA": shaA}); r.code != 0 {
		t.Fatalf("preview: %s", r)
	}
	contains(t, "preview section", w.comment(), "review=")
	w.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo,
		HeadRef: "changes", HeadSHA: shaA, Merged: true, MergeCommitSHA: merge1})
	r := push(merge1)
	if r.code != 0 {
		t.Fatalf("merge deploy: %s", r)
	}
	contains(t, "merge deploy summary", r.summary, "`dev` — up succeeded", "**Reviewed:** the same changes as pull request #2, preview of ec26c3e",
		"kept to the plan of the preview that matched the review")
	contains(t, "merged pull request's comment", w.comment(), "<!-- konductor:section:dev/deploy:begin", "`dev` — up succeeded", "**Reviewed:**")

	// The same pull request is reviewed again with a new label; before it
	// merges, another change to the stack lands on main (the base moved).
	testenv.Write(t, filepath.Join(w.workspace, "Pulumi.dev.yaml"), stackConfig("rendered/dev", "infra"))
	w.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo, HeadRef: "changes", HeadSHA: shaB})
	if r := w.step("pull_request", prPayload(t, "synchronize", shaB, "acme/platform"), map[string]string{"GITHUB_SHA": shaB}); r.code != 0 {
		t.Fatalf("second preview: %s", r)
	}
	testenv.Write(t, filepath.Join(w.workspace, "Pulumi.dev.yaml"), stackConfig("rendered/dev", "infra")+
		"      - name: extra\n        labels:\n          team: someone-else\n")
	w.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo,
		HeadRef: "changes", HeadSHA: shaB, Merged: true, MergeCommitSHA: merge2})
	stateFile := filepath.Join(w.state, ".pulumi", "stacks", "app", "dev.json")
	before, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	r = push(merge2)
	if r.code != 1 {
		t.Fatalf("base moved: exit %d, want 1: %s", r.code, r)
	}
	contains(t, "stopped deploy summary", r.summary, "`dev` — up stopped: not what was reviewed", "Nothing was changed",
		"create `extra`: not in the review")
	if after, _ := os.ReadFile(stateFile); !bytes.Equal(before, after) {
		t.Error("the state changed though the deploy stopped")
	}
	if out := r.outputMap(t); !strings.Contains(out["result"], `"status":"unreviewed"`) {
		t.Errorf("result output %s, want dev unreviewed", out["result"])
	}
	contains(t, "merged pull request's comment", w.comment(), "up stopped: not what was reviewed")

	// A direct push to a stack that does not require a review deploys.
	testenv.Write(t, filepath.Join(w.workspace, "konductor.yaml"), "stacks:\n  dev: {branch: main}\n")
	r = push(direct)
	if r.code != 0 {
		t.Fatalf("direct push: %s", r)
	}
	contains(t, "direct push summary", r.summary, "`dev` — up succeeded",
		"**Not reviewed:** no merged pull request has commit 3333333 (a direct push); deployed anyway (`on_unreviewed: deploy`)")
}
