package fakegithub_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/test/fakegithub"
)

func TestIssues(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.WithToken(fakegithub.DefaultToken, fakegithub.DefaultLogin), fakegithub.WithToken("alice-pat", "alice"))
	s.AddPullRequest(fakegithub.PullRequest{Owner: "o", Repo: "r", Number: 1, HeadRepo: "o/r", Title: "a change"})

	// Labels must exist before an issue carries them.
	if r := do(t, s, "POST", "repos/o/r/issues", bearer, `{"title":"t","labels":["drift"]}`); r.status != 422 {
		t.Errorf("unknown label: %d %s", r.status, r.body)
	}
	if r := do(t, s, "POST", "repos/o/r/labels", bearer, `{"name":"drift","color":"d93f0b"}`); r.status != 201 {
		t.Fatalf("create label: %d %s", r.status, r.body)
	}
	if r := do(t, s, "POST", "repos/o/r/labels", bearer, `{"name":"Drift"}`); r.status != 422 || !strings.Contains(r.body, "already_exists") {
		t.Errorf("label again: %d %s", r.status, r.body)
	}
	if r := do(t, s, "GET", "repos/o/r/labels/drift", bearer, ""); r.status != 200 {
		t.Errorf("get label: %d", r.status)
	}
	if r := do(t, s, "POST", "repos/o/r/issues", bearer, `{"body":"no title"}`); r.status != 422 {
		t.Errorf("no title: %d", r.status)
	}
	r := do(t, s, "POST", "repos/o/r/issues", bearer, `{"title":"Drift","body":"b","labels":["drift"]}`)
	var created struct {
		Number int `json:"number"`
		User   struct {
			Login string `json:"login"`
		} `json:"user"`
	}
	if r.status != 201 || json.Unmarshal([]byte(r.body), &created) != nil || created.Number != 2 || created.User.Login != fakegithub.DefaultLogin {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	for i := range 40 {
		do(t, s, "POST", "repos/o/r/issues", "Bearer alice-pat", fmt.Sprintf(`{"title":"bug %d"}`, i))
	}

	list := func(query string) (numbers []int, link string) {
		t.Helper()
		r := do(t, s, "GET", "repos/o/r/issues?"+query, bearer, "")
		var items []struct {
			Number      int             `json:"number"`
			PullRequest json.RawMessage `json:"pull_request"`
		}
		if r.status != 200 || json.Unmarshal([]byte(r.body), &items) != nil {
			t.Fatalf("list %s: %d %s", query, r.status, r.body)
		}
		for _, it := range items {
			if (it.Number == 1) != (len(it.PullRequest) > 0) {
				t.Errorf("#%d: pull_request %s", it.Number, it.PullRequest)
			}
			numbers = append(numbers, it.Number)
		}
		return numbers, r.header.Get("Link")
	}
	if n, _ := list("labels=drift"); fmt.Sprint(n) != "[2]" {
		t.Errorf("labels=drift: %v", n)
	}
	if n, _ := list("labels=drift,konductor"); len(n) != 0 {
		t.Errorf("every label is required: %v", n)
	}
	if n, _ := list("creator=github-actions%5Bbot%5D"); fmt.Sprint(n) != "[2]" {
		t.Errorf("creator: %v", n)
	}
	if n, link := list("per_page=30&direction=asc"); len(n) != 30 || n[0] != 1 || !strings.Contains(link, `rel="next"`) {
		t.Errorf("page 1 (pull request included): %v %s", n, link)
	}
	if n, _ := list("per_page=30&page=2"); len(n) != 12 || n[11] != 1 {
		t.Errorf("page 2, newest first: %v", n)
	}

	// Close with a reason; closed issues leave the default listing.
	if r := do(t, s, "PATCH", "repos/o/r/issues/2", bearer, `{"state":"done"}`); r.status != 422 {
		t.Errorf("bad state: %d", r.status)
	}
	if r := do(t, s, "PATCH", "repos/o/r/issues/2", bearer, `{"state":"closed","state_reason":"not_planned"}`); r.status != 200 ||
		!strings.Contains(r.body, `"state_reason":"not_planned"`) || !strings.Contains(r.body, `"closed_at":"`) {
		t.Errorf("close: %d %s", r.status, r.body)
	}
	if n, _ := list("labels=drift"); len(n) != 0 {
		t.Errorf("closed issue listed as open: %v", n)
	}
	if n, _ := list("labels=drift&state=closed"); fmt.Sprint(n) != "[2]" {
		t.Errorf("state=closed: %v", n)
	}
	if r := do(t, s, "GET", "repos/o/r/issues/999", bearer, ""); r.status != 404 {
		t.Errorf("unknown issue: %d", r.status)
	}
	if u := s.Unexpected(); len(u) != 0 {
		t.Errorf("unexpected: %+v", u)
	}
}

// A token without issues: write gets GitHub's 403 on every issue write
// (comments on an issue included, not on a pull request); without issues:
// read, on reads too.
func TestIssuesPermission(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t)
	s.AddPullRequest(fakegithub.PullRequest{Owner: "o", Repo: "r", Number: 1, HeadRepo: "o/r"})
	is := s.SeedIssue(fakegithub.Issue{Owner: "o", Repo: "r", Title: "t", Login: "alice", Labels: []string{"drift"}})
	s.SetPermission(fakegithub.DefaultToken, "issues", fakegithub.PermissionRead)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "repos/o/r/issues", `{"title":"t"}`},
		{"PATCH", fmt.Sprintf("repos/o/r/issues/%d", is.Number), `{"state":"closed"}`},
		{"POST", fmt.Sprintf("repos/o/r/issues/%d/comments", is.Number), `{"body":"b"}`},
		{"POST", "repos/o/r/labels", `{"name":"konductor"}`},
	} {
		r := do(t, s, c.method, c.path, bearer, c.body)
		if r.status != 403 || !strings.Contains(r.body, fakegithub.NoPermissionMessage) || r.header.Get("X-Accepted-GitHub-Permissions") != "issues=write" {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if r := do(t, s, "GET", "repos/o/r/issues", bearer, ""); r.status != 200 {
		t.Errorf("read with issues: read: %d", r.status)
	}
	if r := do(t, s, "POST", "repos/o/r/issues/1/comments", bearer, `{"body":"b"}`); r.status != 201 {
		t.Errorf("a pull request comment: %d", r.status)
	}
	s.SetPermission(fakegithub.DefaultToken, "issues", fakegithub.PermissionNone)
	if r := do(t, s, "GET", "repos/o/r/issues", bearer, ""); r.status != 403 {
		t.Errorf("read with issues: none: %d", r.status)
	}
	if got := s.Issues("o", "r"); len(got) != 1 || got[0].State != "open" {
		t.Errorf("issues = %+v", got)
	}
}
