package github_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

const runURL = "https://github.com/o/r/actions/runs/7"

func drift(stack, report string) github.Drift {
	return github.Drift{Stack: stack, Report: report, RunURL: runURL}
}

// openIssues returns the repository's open issues (pull requests left out).
func openIssues(srv *fakegithub.Server) []fakegithub.Issue {
	var out []fakegithub.Issue
	for _, is := range srv.Issues(owner, repo) {
		if is.State == "open" {
			out = append(out, is)
		}
	}
	return out
}

// A drifted stack gets one issue (labels created first, marker, title,
// report, first and last seen); the next drift run updates that issue and
// keeps when the drift was first seen; a clean run closes it with a
// comment.
func TestDriftIssueLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	first := e.clock.Now().UTC()

	got, err := e.gh.ReportDrift(ctx, owner, repo, drift("prod", "### `prod` — preview has changes\n\n✏️ update **apps**\n"))
	if err != nil {
		t.Fatal(err)
	}
	issues := e.srv.Issues(owner, repo)
	if len(issues) != 1 || !got.Created || got.Number != issues[0].Number {
		t.Fatalf("issues %+v, result %+v: want one created", issues, got)
	}
	is := issues[0]
	if is.Title != "Drift in stack prod" || is.Login != fakegithub.DefaultLogin || strings.Join(is.Labels, ",") != "konductor,drift" {
		t.Errorf("issue %+v", is)
	}
	for _, want := range []string{"<!-- konductor:drift stack=prod first-seen=", "✏️ update **apps**", "[workflow run](" + runURL + ")",
		"**First seen:** " + first.Format("2006-01-02 15:04 UTC")} {
		if !strings.Contains(is.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, is.Body)
		}
	}
	if ls := e.srv.Labels(owner, repo); len(ls) != 2 || ls[0].Description == "" {
		t.Errorf("labels = %+v", ls)
	}
	// A first drift asks nothing it need not: one list, the labels, the create.
	if got := requests(e.srv); strings.Join(got, ", ") != "GET repository issues, GET label, POST label, GET label, POST label, POST issue" {
		t.Errorf("requests = %v", got)
	}

	// The next night: still drifted, another change.
	_ = e.clock.Sleep(ctx, 24*time.Hour)
	again, err := e.gh.ReportDrift(ctx, owner, repo, github.Drift{Stack: "prod", Report: "🔁 replace **db**\n", RunURL: "https://github.com/o/r/actions/runs/8"})
	if err != nil {
		t.Fatal(err)
	}
	issues = e.srv.Issues(owner, repo)
	if len(issues) != 1 || again.Created || !again.Updated || again.Number != is.Number || !again.FirstSeen.Equal(first.Truncate(time.Second)) {
		t.Fatalf("issues %+v, result %+v: want the same issue updated", issues, again)
	}
	body := issues[0].Body
	for _, want := range []string{"replace **db**", "**First seen:** " + first.Format("2006-01-02 15:04 UTC") + " ([workflow run](" + runURL + "))",
		"**Last seen:** " + e.clock.Now().UTC().Format("2006-01-02 15:04 UTC") + " ([workflow run](https://github.com/o/r/actions/runs/8))"} {
		if !strings.Contains(body, want) {
			t.Errorf("updated body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "update **apps**") {
		t.Errorf("the old report stayed:\n%s", body)
	}

	// Clean again.
	closed, err := e.gh.ResolveDrift(ctx, owner, repo, "prod", "https://github.com/o/r/actions/runs/9")
	if err != nil {
		t.Fatal(err)
	}
	issues = e.srv.Issues(owner, repo)
	if closed == nil || !closed.Closed || closed.Number != is.Number || issues[0].State != "closed" || issues[0].StateReason != "completed" {
		t.Fatalf("issues %+v, result %+v: want it closed as completed", issues, closed)
	}
	cs := e.srv.Comments(owner, repo, is.Number)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, "found stack `prod` matching its configuration again") ||
		!strings.Contains(cs[0].Body, "runs/9") {
		t.Errorf("closing comments = %+v", cs)
	}

	// Clean again: nothing open, nothing to do.
	before := len(e.srv.Requests())
	if res, err := e.gh.ResolveDrift(ctx, owner, repo, "prod", ""); err != nil || res != nil {
		t.Errorf("ResolveDrift with nothing open = %+v, %v", res, err)
	}
	if n := len(e.srv.Requests()) - before; n != 1 {
		t.Errorf("%d requests to find nothing, want 1 list", n)
	}
	// Drifted once more: a new issue, the closed one keeps its history.
	if res, err := e.gh.ReportDrift(ctx, owner, repo, drift("prod", "x\n")); err != nil || !res.Created || res.Number == is.Number {
		t.Errorf("drift after a close = %+v, %v; want a new issue", res, err)
	}
}

// The stack's issue is found past the first pages of issues, among other
// stacks' issues, pull requests and issues without the labels.
func TestDriftIssueFoundAcrossPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	mine, err := e.gh.ReportDrift(ctx, owner, repo, drift("prod", "old\n"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 230 {
		stack := fmt.Sprintf("s%d", i)
		if _, err := e.gh.ReportDrift(ctx, owner, repo, drift(stack, "r\n")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		e.srv.SeedIssue(fakegithub.Issue{Owner: owner, Repo: repo, Title: fmt.Sprintf("bug %d", i), Login: "alice", Body: "unrelated"})
	}
	before := len(e.srv.Requests())
	got, err := e.gh.ReportDrift(ctx, owner, repo, drift("prod", "new\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != mine.Number || !got.Updated || len(openIssues(e.srv)) != 251 {
		t.Fatalf("result %+v (first %d), %d open issues", got, mine.Number, len(openIssues(e.srv)))
	}
	lists := 0
	for _, r := range e.srv.Requests()[before:] {
		if r.Route == "GET repository issues" {
			lists++
			if r.Query.Get("labels") != "konductor,drift" || r.Query.Get("state") != "open" {
				t.Errorf("listed with %v", r.Query)
			}
		}
	}
	if lists != 3 {
		t.Errorf("%d pages listed, want 3 (231 labelled issues, 100 a page)", lists)
	}
}

// An issue someone else wrote with the marker and the labels is never
// updated, commented on or closed; konductor opens its own beside it.
func TestDriftIssueOfAnotherAuthorUntouched(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	addAccounts(e.srv)
	ctx := context.Background()
	forged := e.srv.SeedIssue(fakegithub.Issue{Owner: owner, Repo: repo, Title: "Drift in stack prod", Login: mallory,
		Labels: []string{"konductor", "drift"}, Body: "<!-- konductor:drift stack=prod first-seen=2020-01-01T00:00:00Z -->\nclick here"})

	got, err := e.gh.ReportDrift(ctx, owner, repo, drift("prod", "report\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created || got.Number == forged.Number {
		t.Fatalf("result %+v: want a new issue beside the forged #%d", got, forged.Number)
	}
	if _, err := e.gh.ReportDrift(ctx, owner, repo, drift("prod", "report 2\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.gh.ResolveDrift(ctx, owner, repo, "prod", runURL); err != nil {
		t.Fatal(err)
	}
	for _, is := range e.srv.Issues(owner, repo) {
		if is.Number == forged.Number && (is.State != "open" || is.Body != forged.Body || !is.UpdatedAt.Equal(forged.UpdatedAt)) {
			t.Errorf("the forged issue was touched: %+v", is)
		}
		if is.Number == got.Number && is.State != "closed" {
			t.Errorf("our issue: %+v", is)
		}
	}
	if cs := e.srv.Comments(owner, repo, forged.Number); len(cs) != 0 {
		t.Errorf("commented on the forged issue: %+v", cs)
	}
	for _, r := range e.srv.Requests() {
		if r.Method != "GET" && strings.HasSuffix(r.Path, fmt.Sprintf("/issues/%d", forged.Number)) {
			t.Errorf("wrote the forged issue: %s %s", r.Method, r.Path)
		}
	}
}

// A run whose account was unknown (GitHub would not say) learns it from
// the issue it creates; an older issue of that account is kept and the
// new one closed as its duplicate.
func TestDriftIssueAccountLearntFromCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	old, err := e.gh.ReportDrift(ctx, owner, repo, drift("prod", "report\n"))
	if err != nil {
		t.Fatal(err)
	}
	// A second client that cannot ask GitHub who it is.
	e.srv.InjectFault(fakegithub.Fault{Status: 502, Times: 100, Match: func(r fakegithub.Request) bool {
		return r.Path == "/graphql" || r.Path == "/user"
	}})
	c := newClient(t, e.srv, e.clock, github.WithMaxAttempts(1))
	got, err := c.ReportDrift(ctx, owner, repo, drift("prod", "report 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != old.Number || !got.Updated || len(got.Duplicates) != 1 {
		t.Fatalf("result %+v: want #%d updated and the created one closed", got, old.Number)
	}
	if open := openIssues(e.srv); len(open) != 1 || open[0].Number != old.Number || !strings.Contains(open[0].Body, "report 2") {
		t.Errorf("open issues = %+v", open)
	}
}

// Without issues: write, GitHub's 403 becomes an error that says which
// permission the job needs.
func TestDriftIssueWithoutPermission(t *testing.T) {
	t.Parallel()
	for _, level := range []string{fakegithub.PermissionRead, fakegithub.PermissionNone} {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			ctx := context.Background()
			open, err := e.gh.ReportDrift(ctx, owner, repo, drift("prod", "r\n"))
			if err != nil {
				t.Fatal(err)
			}
			e.srv.SetPermission(fakegithub.DefaultToken, "issues", level)
			for name, call := range map[string]func() error{
				"report":  func() error { _, err := e.gh.ReportDrift(ctx, owner, repo, drift("prod", "r2\n")); return err },
				"resolve": func() error { _, err := e.gh.ResolveDrift(ctx, owner, repo, "prod", runURL); return err },
				"open":    func() error { _, err := e.gh.ReportDrift(ctx, owner, repo, drift("dev", "r\n")); return err },
			} {
				err := call()
				if !errors.Is(err, github.ErrIssuesPermission) || !strings.Contains(err.Error(), "issues: write") ||
					!strings.Contains(err.Error(), fakegithub.NoPermissionMessage) {
					t.Errorf("%s: err = %v, want ErrIssuesPermission naming issues: write", name, err)
				}
			}
			if is := e.srv.Issues(owner, repo); len(is) != 1 || is[0].State != "open" || is[0].Number != open.Number {
				t.Errorf("issues = %+v", is)
			}
		})
	}
}

// An issue body stays within GitHub's limit whatever the report's size.
func TestDriftIssueBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	report := "```\n" + strings.Repeat("a line of the diff\n", 5000) + "```\n"
	if _, err := e.gh.ReportDrift(context.Background(), owner, repo, drift("prod", report)); err != nil {
		t.Fatal(err)
	}
	body := e.srv.Issues(owner, repo)[0].Body
	if n := len([]rune(body)); n > github.MaxIssueBody || n < github.MaxIssueBody-1000 {
		t.Errorf("body is %d characters", n)
	}
	if strings.Count(body, "```")%2 != 0 || !strings.Contains(body, "left out") {
		t.Errorf("cut body ends:\n%s", body[len(body)-300:])
	}
}

func requests(srv *fakegithub.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		if r.Route != "GET pull request" {
			out = append(out, r.Method+" "+strings.TrimPrefix(r.Route, r.Method+" "))
		}
	}
	return out
}

// A repository with issues turned off answers 410: ErrIssuesDisabled.
func TestDriftIssueIssuesDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.srv.DisableIssues(owner, repo)
	_, err := e.gh.ReportDrift(context.Background(), owner, repo, drift("prod", "r\n"))
	if !errors.Is(err, github.ErrIssuesDisabled) {
		t.Errorf("err = %v, want ErrIssuesDisabled", err)
	}
}
