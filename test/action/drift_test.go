package action_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/containercraft/konductor-action/test/fakegithub"
	"github.com/containercraft/konductor-action/test/kubecluster"
	"github.com/containercraft/konductor-action/test/testenv"
)

// TestDriftIssueOnCluster is the drift check end to end: stack prod is
// deployed to a real local API server; someone removes a label of its
// namespace by hand; the scheduled drift check (the real CLI's preview
// with refresh) opens one issue; the next check updates that issue; the
// label is put back by hand and the next check closes the issue with a
// comment. Every run uses the deploy's commit, so konductor's git
// metadata labels are no drift.
func TestDriftIssueOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	t.Parallel()
	c := kubecluster.Start(t)
	cs := c.Client(t)
	w := newWorld(t, map[string]string{"prod": fmt.Sprintf(`config:
  app:kubernetes:
    enabled: true
    kubeconfig: %s
    context: %s
    namespaces:
      - name: apps
        labels:
          team: platform
`, c.Kubeconfig, kubecluster.ContextName)})
	testenv.Write(t, filepath.Join(w.workspace, "konductor.yaml"), "stacks:\n  prod:\n    branch: main\n")
	env := map[string]string{"GITHUB_SHA": pushSHA, "GITHUB_REF": "refs/heads/main"}

	if r := w.step("push", fixture(t, "push.main.json"), env); r.code != 0 {
		t.Fatalf("deploy: %s", r)
	}
	setTeam(t, cs, "") // by hand, outside konductor

	// 1. Drifted: one issue.
	r := w.step("schedule", fixture(t, "schedule.json"), env)
	if r.code != 0 {
		t.Fatalf("first drift check: %s", r)
	}
	issues := w.srv.Issues(owner, repo)
	if len(issues) != 1 || issues[0].State != "open" || issues[0].Title != "Drift in stack prod" {
		t.Fatalf("issues after the first drift check: %+v\n%s", issues, r)
	}
	first := issues[0]
	contains(t, "issue", first.Body, "<!-- konductor:drift stack=prod ", "update `kubernetes:core/v1:Namespace` **apps**",
		"[workflow run](https://github.com/acme/platform/actions/runs/7)")
	if out := r.outputMap(t); out["drifted-stacks"] != `["prod"]` || out["has-changes"] != "true" {
		t.Errorf("outputs = %v", out)
	}
	contains(t, "summary", r.summary, "### Drift issues", fmt.Sprintf("`prod`: [#%d]", first.Number), "opened")

	// 2. Still drifted on the next night: the same issue, updated.
	w.base["GITHUB_RUN_ID"] = "8"
	r = w.step("schedule", fixture(t, "schedule.json"), env)
	if r.code != 0 {
		t.Fatalf("second drift check: %s", r)
	}
	issues = w.srv.Issues(owner, repo)
	if len(issues) != 1 || issues[0].Number != first.Number || issues[0].State != "open" {
		t.Fatalf("issues after the second drift check: %+v", issues)
	}
	contains(t, "updated issue", issues[0].Body, "**Last seen:**", "actions/runs/8", "update `kubernetes:core/v1:Namespace` **apps**")
	contains(t, "summary", r.summary, "updated")

	// 3. The label is back: clean, the issue closed with a comment.
	setTeam(t, cs, "platform")
	w.base["GITHUB_RUN_ID"] = "9"
	r = w.step("schedule", fixture(t, "schedule.json"), env)
	if r.code != 0 {
		t.Fatalf("clean drift check: %s", r)
	}
	issues = w.srv.Issues(owner, repo)
	if len(issues) != 1 || issues[0].State != "closed" {
		t.Fatalf("issues after the clean check: %+v\n%s", issues, r)
	}
	cs2 := w.srv.Comments(owner, repo, first.Number)
	if len(cs2) != 1 || !strings.Contains(cs2[0].Body, "matching its configuration again") || !strings.Contains(cs2[0].Body, "runs/9") {
		t.Errorf("closing comment: %+v", cs2)
	}
	if out := r.outputMap(t); out["drifted-stacks"] != "[]" {
		t.Errorf("outputs = %v", out)
	}
	for _, req := range w.srv.Requests() {
		if req.Login != fakegithub.DefaultLogin {
			t.Errorf("a request as %q", req.Login)
		}
	}
}

// setTeam sets the apps namespace's team label by hand ("" removes it),
// as someone with kubectl would.
func setTeam(t *testing.T, cs kubernetes.Interface, team string) {
	t.Helper()
	ctx := t.Context()
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "apps", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if team == "" {
		delete(ns.Labels, "team")
	} else {
		ns.Labels["team"] = team
	}
	if _, err := cs.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
}
