package action_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

const driftSecret = "hunter2-drift-token"

// driftResult is prod's drift check finding an update; its warning holds a
// secret, which must never reach GitHub.
func driftResult(name string) *result.Result {
	return &result.Result{Project: "app", Stack: "prod", Status: result.Succeeded,
		Counts: map[result.Op]int{result.OpUpdate: 1, result.OpSame: 4},
		Steps: []result.Step{{Op: result.OpUpdate, Type: "kubernetes:core/v1:Namespace", Name: name,
			URN: "urn:pulumi:prod::app::kubernetes:core/v1:Namespace::" + name}},
		Diagnostics: []result.Diagnostic{{Severity: "warning", Message: "refreshed with token " + driftSecret}}}
}

func cleanResult() *result.Result {
	return &result.Result{Project: "app", Stack: "prod", Status: result.Succeeded, Counts: map[result.Op]int{result.OpSame: 5}}
}

func driftHarness(t *testing.T, prod ...*result.Result) *harness {
	t.Helper()
	h := newHarness(t, "dev", "prod")
	h.event("schedule", readTestdata(t, "schedule.json"))
	h.fake.secrets["prod"] = []string{driftSecret}
	h.fake.results["prod"] = prod
	return h
}

func (h *harness) issues() []fakegithub.Issue { return h.srv.Issues(owner, repo) }

func (h *harness) drifted() []string {
	h.t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(h.outputs()["drifted-stacks"]), &out); err != nil {
		h.t.Fatalf("drifted-stacks %q: %v", h.outputs()["drifted-stacks"], err)
	}
	return out
}

// Drift → one issue; the next drift run → the same issue updated; clean
// → closed with a comment. The clean dev stack never gets one.
func TestDriftIssueLifecycle(t *testing.T) {
	t.Parallel()
	h := driftHarness(t, driftResult("apps"), driftResult("web"), cleanResult())

	if err := h.run(); err != nil {
		t.Fatalf("drift must not fail the run: %v", err)
	}
	is := h.issues()
	if len(is) != 1 || is[0].Title != "Drift in stack prod" || is[0].State != "open" || strings.Join(is[0].Labels, ",") != "konductor,drift" {
		t.Fatalf("issues after the first drift run: %+v", is)
	}
	contains(t, "issue body", is[0].Body, "<!-- konductor:drift stack=prod ", "update `kubernetes:core/v1:Namespace` **apps**",
		"[workflow run](https://github.com/acme/platform/actions/runs/4242)", "**First seen:**")
	if strings.Contains(is[0].Body, driftSecret) {
		t.Errorf("the secret reached the issue:\n%s", is[0].Body)
	}
	if got := h.drifted(); len(got) != 1 || got[0] != "prod" {
		t.Errorf("drifted-stacks = %v", got)
	}
	contains(t, "summary", h.summary(), "### Drift issues", "`prod`: [#", ") opened")
	contains(t, "log", h.stdout.String(), "drift issue of prod opened: https://github.com/acme/platform/issues/")
	number := is[0].Number

	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	is = h.issues()
	if len(is) != 1 || is[0].Number != number || is[0].State != "open" {
		t.Fatalf("issues after the second drift run: %+v", is)
	}
	contains(t, "updated issue body", is[0].Body, "**web**")
	if strings.Contains(is[0].Body, "**apps**") {
		t.Errorf("the first run's report stayed:\n%s", is[0].Body)
	}
	contains(t, "summary", h.summary(), ") updated")

	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	is = h.issues()
	if len(is) != 1 || is[0].State != "closed" || is[0].StateReason != "completed" {
		t.Fatalf("issues after the clean run: %+v", is)
	}
	cs := h.srv.Comments(owner, repo, number)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, "matching its configuration again") {
		t.Errorf("closing comments: %+v", cs)
	}
	if got := h.drifted(); len(got) != 0 {
		t.Errorf("drifted-stacks after the clean run = %v", got)
	}
	contains(t, "summary", h.summary(), ") closed: the stack matches its configuration again")
	if s := h.summary(); strings.Contains(s, "`dev`: [#") {
		t.Errorf("dev got an issue:\n%s", s)
	}
}

// A stack whose drift check failed keeps its issue as it is: neither
// updated nor closed.
func TestDriftIssueUntouchedOnFailure(t *testing.T) {
	t.Parallel()
	failed := &result.Result{Project: "app", Stack: "prod", Status: result.Failed, Error: "refresh failed: connection refused",
		Counts: map[result.Op]int{result.OpUpdate: 1}}
	h := driftHarness(t, driftResult("apps"), failed)
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	before := h.issues()
	if err := h.run(); err == nil {
		t.Fatal("a failed stack must fail the run")
	}
	after := h.issues()
	if len(after) != 1 || after[0].State != "open" || after[0].Body != before[0].Body || !after[0].UpdatedAt.Equal(before[0].UpdatedAt) {
		t.Errorf("the issue changed on a failed check:\nbefore %+v\nafter  %+v", before, after)
	}
	if cs := h.srv.Comments(owner, repo, after[0].Number); len(cs) != 0 {
		t.Errorf("comments: %+v", cs)
	}
	if got := h.drifted(); len(got) != 0 {
		t.Errorf("drifted-stacks = %v: a failed check proves no drift", got)
	}
	contains(t, "summary", h.summary(), "`prod`: the drift check did not complete (failed); its issue, if any, is left as it is")
}

// Without issues: write the run reports the drift as before, says which
// permission is missing (a warning annotation and the summary), and
// exits as the drift check would.
func TestDriftIssueWithoutPermission(t *testing.T) {
	t.Parallel()
	h := driftHarness(t, driftResult("apps"))
	h.srv.SetPermission(fakegithub.DefaultToken, "issues", fakegithub.PermissionRead)
	if err := h.run(); err != nil {
		t.Fatalf("a missing permission must not fail the drift check: %v", err)
	}
	if is := h.issues(); len(is) != 0 {
		t.Errorf("issues: %+v", is)
	}
	if got := h.drifted(); len(got) != 1 || got[0] != "prod" {
		t.Errorf("drifted-stacks = %v", got)
	}
	contains(t, "log", h.stdout.String(), "::warning title=Drift issues not written::", "add `issues: write` to the job's `permissions:`",
		"::warning title=Drift in prod::")
	contains(t, "summary", h.summary(), "> [!WARNING]", "add `issues: write` to the job's `permissions:`", "`prod`: drifted; no issue opened or updated",
		"update `kubernetes:core/v1:Namespace` **apps**")
}

// A repository with issues turned off: the drift check reports as before
// and says why no issue was opened.
func TestDriftIssueIssuesDisabled(t *testing.T) {
	t.Parallel()
	h := driftHarness(t, driftResult("apps"))
	h.srv.DisableIssues(owner, repo)
	if err := h.run(); err != nil {
		t.Fatalf("issues turned off must not fail the drift check: %v", err)
	}
	if got := h.drifted(); len(got) != 1 || got[0] != "prod" {
		t.Errorf("drifted-stacks = %v", got)
	}
	contains(t, "log", h.stdout.String(), "::warning title=Drift issues not written::the repository's issues are turned off")
	contains(t, "summary", h.summary(), "The repository's issues are turned off", "`prod`: drifted; no issue opened or updated")
}

func contains(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}
