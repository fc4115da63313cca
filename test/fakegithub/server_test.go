package fakegithub_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/test/fakegithub"
)

type result struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, s *fakegithub.Server, method, path, auth, body string) result {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+strings.TrimPrefix(path, "/"), rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}

const bearer = "Bearer " + fakegithub.DefaultToken

func TestAuth(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.WithToken("t1", "alice"), fakegithub.WithToken("t2", "bob"))
	s.AddIssue("o", "r", 1)
	tests := []struct {
		name, auth string
		want       int
		login      string
	}{
		{"missing", "", 401, ""},
		{"wrong token", "Bearer nope", 401, ""},
		{"default token replaced", bearer, 401, ""},
		{"bearer", "Bearer t1", 200, "alice"},
		{"token scheme", "token t2", 200, "bob"},
		{"basic scheme", "Basic t1", 401, ""},
	}
	for _, tt := range tests {
		r := do(t, s, "GET", "repos/o/r/issues/1/comments", tt.auth, "")
		if r.status != tt.want {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, r.status, tt.want, r.body)
		}
		if r.header.Get("X-RateLimit-Remaining") == "" {
			t.Errorf("%s: no X-RateLimit-Remaining", tt.name)
		}
		if tt.want == 401 && !strings.Contains(r.body, `"documentation_url"`) {
			t.Errorf("%s: body %s is not GitHub's error JSON", tt.name, r.body)
		}
	}
	if u := s.Unexpected(); len(u) != 0 {
		t.Errorf("unexpected calls: %+v", u)
	}
}

func TestCommentPaginationLinks(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t)
	for i := range 95 {
		s.SeedComment("o", "r", 7, "someone", fmt.Sprintf("c%d", i))
	}
	base := s.URL() + "repos/o/r/issues/7/comments"
	tests := []struct {
		query     string
		wantCount int
		wantFirst string
		wantLink  string
	}{
		{"", 30, "c0", fmt.Sprintf(`<%s?page=2>; rel="next", <%s?page=4>; rel="last"`, base, base)},
		{"?page=2", 30, "c30", fmt.Sprintf(`<%[1]s?page=1>; rel="prev", <%[1]s?page=3>; rel="next", <%[1]s?page=4>; rel="last", <%[1]s?page=1>; rel="first"`, base)},
		{"?page=4", 5, "c90", fmt.Sprintf(`<%[1]s?page=3>; rel="prev", <%[1]s?page=1>; rel="first"`, base)},
		{"?per_page=100", 95, "c0", ""},
		{"?per_page=500", 95, "c0", ""}, // capped at 100
		{"?per_page=50&page=2", 45, "c50", fmt.Sprintf(`<%[1]s?per_page=50&page=1>; rel="prev", <%[1]s?per_page=50&page=1>; rel="first"`, base)},
		{"?page=0", 30, "c0", fmt.Sprintf(`<%s?page=2>; rel="next", <%s?page=4>; rel="last"`, base, base)},
		{"?per_page=junk", 30, "c0", fmt.Sprintf(`<%s?per_page=junk&page=2>; rel="next", <%s?per_page=junk&page=4>; rel="last"`, base, base)},
		{"?page=9", 0, "", fmt.Sprintf(`<%[1]s?page=8>; rel="prev", <%[1]s?page=1>; rel="first"`, base)},
	}
	for _, tt := range tests {
		r := do(t, s, "GET", "repos/o/r/issues/7/comments"+tt.query, bearer, "")
		if r.status != 200 {
			t.Fatalf("%s: status %d", tt.query, r.status)
		}
		var items []struct {
			ID   int64  `json:"id"`
			Body string `json:"body"`
			User struct {
				Login string `json:"login"`
				Type  string `json:"type"`
			} `json:"user"`
			CreatedAt string `json:"created_at"`
			HTMLURL   string `json:"html_url"`
		}
		if err := json.Unmarshal([]byte(r.body), &items); err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		if len(items) != tt.wantCount {
			t.Errorf("%s: %d items, want %d", tt.query, len(items), tt.wantCount)
		}
		if len(items) > 0 && items[0].Body != tt.wantFirst {
			t.Errorf("%s: first %q, want %q", tt.query, items[0].Body, tt.wantFirst)
		}
		if len(items) > 0 && (items[0].User.Login != "someone" || items[0].User.Type != "User" || items[0].CreatedAt == "" || items[0].HTMLURL == "") {
			t.Errorf("%s: incomplete comment %+v", tt.query, items[0])
		}
		if got := r.header.Get("Link"); got != tt.wantLink {
			t.Errorf("%s: Link\n got %s\nwant %s", tt.query, got, tt.wantLink)
		}
	}
}

func TestCommentLifecycle(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t)
	s.AddPullRequest(fakegithub.PullRequest{Owner: "o", Repo: "r", Number: 3, HeadRepo: "o/r", HeadRef: "f", HeadSHA: "abc"})

	r := do(t, s, "POST", "repos/o/r/issues/3/comments", bearer, `{"body":"hello"}`)
	if r.status != 201 || r.header.Get("Location") == "" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var c struct {
		ID        int64  `json:"id"`
		Body      string `json:"body"`
		HTMLURL   string `json:"html_url"`
		CreatedAt string `json:"created_at"`
		UpdatedAt string `json:"updated_at"`
		User      struct{ Login, Type string }
	}
	_ = json.Unmarshal([]byte(r.body), &c)
	if c.Body != "hello" || c.User.Login != fakegithub.DefaultLogin || c.User.Type != "Bot" || c.CreatedAt == "" || c.UpdatedAt == "" {
		t.Errorf("created %+v", c)
	}
	if want := fmt.Sprintf("https://github.com/o/r/pull/3#issuecomment-%d", c.ID); c.HTMLURL != want {
		t.Errorf("html_url %q, want %q", c.HTMLURL, want)
	}
	path := fmt.Sprintf("repos/o/r/issues/comments/%d", c.ID)

	steps := []struct {
		name, method, path, body string
		want                     int
		wantIn                   string
	}{
		{"get", "GET", path, "", 200, `"body":"hello"`},
		{"patch", "PATCH", path, `{"body":"bye"}`, 200, `"body":"bye"`},
		{"patch other repo", "PATCH", fmt.Sprintf("repos/o/x/issues/comments/%d", c.ID), `{"body":"x"}`, 404, "Not Found"},
		{"patch bad json", "PATCH", path, `{`, 400, "Problems parsing JSON"},
		{"patch no body", "PATCH", path, `{}`, 422, "wasn't supplied"},
		{"patch 65536 two-byte runes", "PATCH", path, `{"body":"` + strings.Repeat("é", 65536) + `"}`, 200, ""},
		{"patch 65537 runes", "PATCH", path, `{"body":"` + strings.Repeat("a", 65537) + `"}`, 422, "Body is too long (maximum is 65536 characters)"},
		{"post 65537 runes", "POST", "repos/o/r/issues/3/comments", `{"body":"` + strings.Repeat("a", 65537) + `"}`, 422, `"resource":"IssueComment"`},
		{"post to missing issue", "POST", "repos/o/r/issues/4/comments", `{"body":"x"}`, 404, "Not Found"},
		{"list missing issue", "GET", "repos/o/r/issues/4/comments", "", 404, "Not Found"},
		{"delete", "DELETE", path, "", 204, ""},
		{"patch deleted", "PATCH", path, `{"body":"again"}`, 404, "Not Found"},
		{"get deleted", "GET", path, "", 404, "Not Found"},
		{"delete deleted", "DELETE", path, "", 404, "Not Found"},
	}
	for _, st := range steps {
		r := do(t, s, st.method, st.path, bearer, st.body)
		if r.status != st.want || !strings.Contains(r.body, st.wantIn) {
			t.Errorf("%s: %d %.200s, want %d containing %q", st.name, r.status, r.body, st.want, st.wantIn)
		}
	}
	if n := len(s.Comments("o", "r", 3)); n != 0 {
		t.Errorf("%d comments left", n)
	}
	if u := s.Unexpected(); len(u) != 0 {
		t.Errorf("unexpected: %+v", u)
	}
}

func TestUnexpectedRoutes(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t)
	s.AddIssue("o", "r", 1)
	for _, c := range []struct{ method, path string }{
		{"GET", "users/octocat"},
		{"PUT", "repos/o/r/issues/1/comments"},
		{"POST", "repos/o/r/pulls/1/files"},
		{"DELETE", "repos/o/r/issues/1"},
	} {
		if r := do(t, s, c.method, c.path, bearer, ""); r.status != 404 {
			t.Errorf("%s %s: %d", c.method, c.path, r.status)
		}
	}
	if n := len(s.Unexpected()); n != 4 {
		t.Errorf("%d unexpected calls recorded, want 4", n)
	}
}

func TestPullRequestAndFiles(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.WithEnterprise())
	if !strings.HasSuffix(s.URL(), "/api/v3/") {
		t.Fatalf("URL %s", s.URL())
	}
	s.AddPullRequest(fakegithub.PullRequest{Owner: "o", Repo: "r", Number: 9, HeadRepo: "fork/r", HeadRef: "feat", HeadSHA: "h1", BaseSHA: "b1"})
	var files []fakegithub.File
	for i := range 3005 {
		files = append(files, fakegithub.File{Filename: fmt.Sprintf("f%04d", i), Additions: 1})
	}
	s.SetPullRequestFiles("o", "r", 9, files)

	r := do(t, s, "GET", "repos/o/r/pulls/9", bearer, "")
	var pr struct {
		ChangedFiles int `json:"changed_files"`
		Head, Base   struct {
			Ref, SHA string
			Repo     struct {
				FullName string `json:"full_name"`
				Fork     bool
			}
		}
	}
	_ = json.Unmarshal([]byte(r.body), &pr)
	if r.status != 200 || pr.Head.Repo.FullName != "fork/r" || !pr.Head.Repo.Fork || pr.Base.Repo.FullName != "o/r" ||
		pr.Head.SHA != "h1" || pr.Head.Ref != "feat" || pr.Base.Ref != "main" || pr.ChangedFiles != 3005 {
		t.Errorf("pull: %d %+v", r.status, pr)
	}

	r = do(t, s, "GET", "repos/o/r/pulls/9/files?per_page=100&page=30", bearer, "")
	if r.status != 200 || strings.Count(r.body, `"filename"`) != 100 || strings.Contains(r.header.Get("Link"), `rel="next"`) {
		t.Errorf("last page: %d, %d files, Link %s", r.status, strings.Count(r.body, `"filename"`), r.header.Get("Link"))
	}
	if !strings.Contains(r.header.Get("Link"), "/api/v3/repos/o/r/pulls/9/files") {
		t.Errorf("Link lacks the enterprise prefix: %s", r.header.Get("Link"))
	}
	r = do(t, s, "GET", "repos/o/r/pulls/9/files?per_page=100&page=31", bearer, "")
	if r.body != "[]\n" {
		t.Errorf("past the 3000 cap: %s", r.body)
	}
	// Without the prefix nothing is served.
	req, _ := http.NewRequest("GET", strings.TrimSuffix(s.URL(), "api/v3/")+"repos/o/r/pulls/9", nil)
	req.Header.Set("Authorization", bearer)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || len(s.Unexpected()) != 1 {
		t.Errorf("unprefixed: %d, unexpected %d", resp.StatusCode, len(s.Unexpected()))
	}
}

func TestFaultsAndRateLimits(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := fakegithub.New(t, fakegithub.WithClock(clock))
	s.AddIssue("o", "r", 1)
	get := func() result { return do(t, s, "GET", "repos/o/r/issues/1/comments", bearer, "") }

	s.InjectServerErrors(2, 502)
	s.InjectSecondaryRateLimit(time.Second)
	s.InjectTooManyRequests(0)
	for i, want := range []int{502, 502, 403, 429, 200} {
		r := get()
		if r.status != want {
			t.Fatalf("request %d: %d, want %d", i, r.status, want)
		}
		switch want {
		case 403:
			if r.header.Get("Retry-After") != "1" || !strings.Contains(r.body, "secondary rate limit") {
				t.Errorf("secondary: %v %s", r.header, r.body)
			}
		case 429:
			if r.header.Get("Retry-After") != "" {
				t.Errorf("429 without retryAfter has Retry-After")
			}
		}
	}

	reset := now.Add(90 * time.Second)
	s.ExhaustRateLimit(reset)
	r := get()
	if r.status != 403 || r.header.Get("X-RateLimit-Remaining") != "0" || r.header.Get("X-RateLimit-Reset") != fmt.Sprint(reset.Unix()) ||
		!strings.Contains(r.body, "API rate limit exceeded") {
		t.Errorf("exhausted: %d %v %s", r.status, r.header, r.body)
	}
	mu.Lock()
	now = reset
	mu.Unlock()
	if r := get(); r.status != 200 || r.header.Get("X-RateLimit-Remaining") == "0" {
		t.Errorf("after reset: %d remaining %s", r.status, r.header.Get("X-RateLimit-Remaining"))
	}

	// A fault can target some requests only; the hook sees every request.
	var seen []string
	s.SetHook(func(r fakegithub.Request) { seen = append(seen, r.Method) })
	s.InjectFault(fakegithub.Fault{Status: 500, Match: func(r fakegithub.Request) bool { return r.Method == "POST" }})
	if r := get(); r.status != 200 {
		t.Errorf("GET hit the POST fault: %d", r.status)
	}
	if r := do(t, s, "POST", "repos/o/r/issues/1/comments", bearer, `{"body":"x"}`); r.status != 500 {
		t.Errorf("POST: %d", r.status)
	}
	if strings.Join(seen, ",") != "GET,POST" {
		t.Errorf("hook saw %v", seen)
	}
	log := s.Requests()
	if last := log[len(log)-1]; !last.Injected || last.Status != 500 || last.Body != `{"body":"x"}` {
		t.Errorf("last logged %+v", last)
	}
}

func TestRateLimitWindow(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := fakegithub.New(t, fakegithub.WithClock(clock), fakegithub.WithRateLimit(2))
	s.AddIssue("o", "r", 1)
	reset := fmt.Sprint(now.Add(time.Hour).Unix())
	for i, want := range []struct {
		status    int
		remaining string
	}{{200, "1"}, {200, "0"}, {403, "0"}} {
		r := do(t, s, "GET", "repos/o/r/issues/1/comments", bearer, "")
		if r.status != want.status || r.header.Get("X-RateLimit-Remaining") != want.remaining ||
			r.header.Get("X-RateLimit-Reset") != reset || r.header.Get("X-RateLimit-Limit") != "2" {
			t.Errorf("request %d: %d remaining %s reset %s", i, r.status, r.header.Get("X-RateLimit-Remaining"), r.header.Get("X-RateLimit-Reset"))
		}
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if r := do(t, s, "GET", "repos/o/r/issues/1/comments", bearer, ""); r.status != 200 || r.header.Get("X-RateLimit-Remaining") != "1" {
		t.Errorf("new window: %d remaining %s", r.status, r.header.Get("X-RateLimit-Remaining"))
	}
}

// Who a token is, as GitHub tells it: GET /user answers a person's token and
// refuses an installation token (GITHUB_TOKEN, a GitHub App's); GraphQL's
// viewer answers both. A comment's author is the token's account.
func TestTokenIdentity(t *testing.T) {
	t.Parallel()
	for _, enterprise := range []bool{false, true} {
		var opts []fakegithub.Option
		if enterprise {
			opts = append(opts, fakegithub.WithEnterprise())
		}
		s := fakegithub.New(t, opts...)
		s.AddToken("pat", "alice")
		s.AddToken("ghs", "my-app[bot]")
		s.AddIssue("o", "r", 1)
		tests := []struct {
			token, login, userType string
			userStatus             int
		}{
			{fakegithub.DefaultToken, fakegithub.DefaultLogin, "Bot", 403},
			{"ghs", "my-app[bot]", "Bot", 403},
			{"pat", "alice", "User", 200},
		}
		for _, tt := range tests {
			name := fmt.Sprintf("%s (enterprise=%v)", tt.login, enterprise)
			auth := "Bearer " + tt.token
			r := do(t, s, "GET", "user", auth, "")
			if r.status != tt.userStatus {
				t.Errorf("%s: GET /user %d %s", name, r.status, r.body)
			}
			var u struct{ Login, Type, Message string }
			_ = json.Unmarshal([]byte(r.body), &u)
			if r.status == 200 && (u.Login != tt.login || u.Type != tt.userType) {
				t.Errorf("%s: GET /user %+v", name, u)
			}
			if r.status == 403 && u.Message != "Resource not accessible by integration" {
				t.Errorf("%s: GET /user 403 says %q", name, u.Message)
			}

			req, _ := http.NewRequest("POST", s.GraphQLURL(), strings.NewReader(`{"query":"query Me {\n  viewer { login }\n}"}`))
			req.Header.Set("Authorization", auth)
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var g struct {
				Data struct{ Viewer struct{ Login string } }
			}
			_ = json.NewDecoder(resp.Body).Decode(&g)
			resp.Body.Close()
			if resp.StatusCode != 200 || g.Data.Viewer.Login != tt.login {
				t.Errorf("%s: GraphQL viewer %d %q", name, resp.StatusCode, g.Data.Viewer.Login)
			}

			r = do(t, s, "POST", "repos/o/r/issues/1/comments", auth, `{"body":"hi"}`)
			var c struct{ User struct{ Login, Type string } }
			_ = json.Unmarshal([]byte(r.body), &c)
			if r.status != 201 || c.User.Login != tt.login || c.User.Type != tt.userType {
				t.Errorf("%s: comment by %+v (%d)", name, c.User, r.status)
			}
		}
		// GHES serves GraphQL at /api/graphql, beside /api/v3.
		wantURL := s.URL() + "graphql"
		if enterprise {
			wantURL = strings.TrimSuffix(s.URL(), "v3/") + "graphql"
		}
		if s.GraphQLURL() != wantURL {
			t.Errorf("GraphQL URL %s, want %s", s.GraphQLURL(), wantURL)
		}
		if u := s.Unexpected(); len(u) != 0 {
			t.Errorf("unexpected: %+v", u)
		}
		// Any other GraphQL query is not something the fake knows.
		req, _ := http.NewRequest("POST", s.GraphQLURL(), strings.NewReader(`{"query":"{ viewer { login email } }"}`))
		req.Header.Set("Authorization", bearer)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"errors"`) || len(s.Unexpected()) != 1 {
			t.Errorf("other query: %s; %d unexpected", b, len(s.Unexpected()))
		}
	}
}

// AddToken adds an account next to the ones accepted so far.
func TestAddTokenKeepsDefault(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t)
	s.AddIssue("o", "r", 1)
	s.AddToken("pat", "alice")
	for _, auth := range []string{bearer, "token pat"} {
		if r := do(t, s, "GET", "repos/o/r/issues/1/comments", auth, ""); r.status != 200 {
			t.Errorf("%s: %d", auth, r.status)
		}
	}
	if !fakegithub.IsBot(fakegithub.DefaultLogin) || fakegithub.IsBot("alice") {
		t.Error("IsBot")
	}
}

// A pull request serves its author; its reviews are listed oldest first,
// 30 a page unless asked for up to 100, with Link pagination; a
// dismissed review keeps its place with the state DISMISSED.
func TestReviews(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t)
	s.AddPullRequest(fakegithub.PullRequest{Owner: "o", Repo: "r", Number: 2, HeadRepo: "o/r", HeadSHA: "head1", Author: "bob"})
	s.SetCollaborator("o", "r", "alice", fakegithub.RoleWrite)

	var pr struct{ User struct{ Login, Type string } }
	if r := do(t, s, "GET", "repos/o/r/pulls/2", bearer, ""); r.status != 200 || json.Unmarshal([]byte(r.body), &pr) != nil || pr.User.Login != "bob" || pr.User.Type != "User" {
		t.Errorf("pull request author: %d %s", r.status, r.body)
	}

	first := s.AddReview("o", "r", 2, fakegithub.Review{User: "alice", State: fakegithub.ReviewApproved, Body: "lgtm"})
	if first.ID == 0 || first.CommitID != "head1" || first.SubmittedAt.IsZero() {
		t.Errorf("defaults not filled in: %+v", first)
	}
	for i := range 104 {
		s.AddReview("o", "r", 2, fakegithub.Review{User: fmt.Sprintf("user%d", i), State: fakegithub.ReviewCommented, CommitID: "old", Body: fmt.Sprint(i)})
	}
	type review struct {
		ID                int64
		User              struct{ Login string }
		Body, State       string
		CommitID          string `json:"commit_id"`
		SubmittedAt       string `json:"submitted_at"`
		HTMLURL           string `json:"html_url"`
		AuthorAssociation string `json:"author_association"`
	}
	list := func(query string) ([]review, string) {
		t.Helper()
		r := do(t, s, "GET", "repos/o/r/pulls/2/reviews"+query, bearer, "")
		var items []review
		if r.status != 200 || json.Unmarshal([]byte(r.body), &items) != nil {
			t.Fatalf("list %s: %d %s", query, r.status, r.body)
		}
		return items, r.header.Get("Link")
	}
	items, link := list("")
	if len(items) != 30 || !strings.Contains(link, `rel="next"`) {
		t.Errorf("default page: %d reviews, Link %s", len(items), link)
	}
	a := items[0]
	if a.ID != first.ID || a.User.Login != "alice" || a.State != "APPROVED" || a.CommitID != "head1" || a.Body != "lgtm" ||
		a.SubmittedAt == "" || !strings.HasSuffix(a.HTMLURL, fmt.Sprintf("/o/r/pull/2#pullrequestreview-%d", a.ID)) || a.AuthorAssociation != "COLLABORATOR" {
		t.Errorf("first review: %+v", a)
	}
	if items, link = list("?per_page=100&page=2"); len(items) != 5 || items[4].Body != "103" || strings.Contains(link, `rel="next"`) {
		t.Errorf("last page: %d reviews, Link %s", len(items), link)
	}

	if !s.DismissReview(first.ID) {
		t.Fatal("dismiss an approval")
	}
	if items, _ = list(""); items[0].State != "DISMISSED" || items[0].ID != first.ID {
		t.Errorf("dismissed: %+v", items[0])
	}
	if s.DismissReview(items[1].ID) || s.DismissReview(1) {
		t.Error("a commented review or an unknown one was dismissed")
	}

	if r := do(t, s, "GET", "repos/o/r/pulls/3/reviews", bearer, ""); r.status != 404 {
		t.Errorf("unknown pull request: %d", r.status)
	}
	if r := do(t, s, "POST", "repos/o/r/pulls/2/reviews", bearer, `{"event":"APPROVE"}`); r.status != 404 || len(s.Unexpected()) != 1 {
		t.Errorf("creating a review is not served: %d, %d unexpected", r.status, len(s.Unexpected()))
	}

	// GitHub refuses an author's approval of their own pull request.
	defer func() {
		if recover() == nil {
			t.Error("the author approved their own pull request")
		}
	}()
	s.AddReview("o", "r", 2, fakegithub.Review{User: "Bob", State: fakegithub.ReviewApproved})
}

// The permission API answers with the role and the legacy permission
// (maintain reads as write, triage as read) for a collaborator, 404 for
// anyone else; a person's token below write may not ask.
func TestCollaboratorPermission(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.WithToken(fakegithub.DefaultToken, fakegithub.DefaultLogin), fakegithub.WithToken("reader-pat", "rita"))
	s.SetCollaborator("o", "r", "rita", fakegithub.RoleRead)
	for role, perm := range map[string]string{"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"} {
		login := "user-" + role
		s.SetCollaborator("O", "R", login, role)
		r := do(t, s, "GET", "repos/o/r/collaborators/"+login+"/permission", bearer, "")
		var got struct {
			Permission string
			RoleName   string `json:"role_name"`
			User       struct {
				Login       string
				RoleName    string `json:"role_name"`
				Permissions map[string]bool
			}
		}
		if r.status != 200 || json.Unmarshal([]byte(r.body), &got) != nil || got.Permission != perm || got.RoleName != role ||
			got.User.Login != login || got.User.RoleName != role || got.User.Permissions["push"] != (perm != "read") {
			t.Errorf("%s: %d %s", role, r.status, r.body)
		}
	}
	s.SetCollaborator("o", "r", "user-write", "")
	for _, user := range []string{"user-write", "stranger", "github-actions%5Bbot%5D"} {
		if r := do(t, s, "GET", "repos/o/r/collaborators/"+user+"/permission", bearer, ""); r.status != 404 || !strings.Contains(r.body, `"Not Found"`) {
			t.Errorf("%s: %d %s", user, r.status, r.body)
		}
	}
	if r := do(t, s, "GET", "repos/o/r/collaborators/user-admin/permission", "Bearer reader-pat", ""); r.status != 403 || !strings.Contains(r.body, "push access") {
		t.Errorf("a reader's token: %d %s", r.status, r.body)
	}
	if len(s.Unexpected()) != 0 {
		t.Errorf("unexpected: %+v", s.Unexpected())
	}
}

// Team membership: active or pending for a member, 404 for anyone else;
// GITHUB_TOKEN and a token without members read get 403.
func TestTeamMembership(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t)
	s.AddToken("app-token", "konductor[bot]")
	s.AddToken("no-org-pat", "alice")
	s.SetPermission("no-org-pat", "members", fakegithub.PermissionNone)
	s.AddTeamMember("acme", "sre", "Carol", "active")
	s.AddTeamMember("acme", "sre", "dave", "pending")
	get := func(auth, path string) (int, string, string) {
		t.Helper()
		r := do(t, s, "GET", path, auth, "")
		var m struct{ State, Role, Message string }
		_ = json.Unmarshal([]byte(r.body), &m)
		return r.status, m.State, m.Message
	}
	for _, c := range []struct {
		auth, path string
		status     int
		state      string
	}{
		{"Bearer app-token", "orgs/acme/teams/sre/memberships/carol", 200, "active"},
		{"Bearer app-token", "orgs/ACME/teams/sre/memberships/dave", 200, "pending"},
		{"Bearer app-token", "orgs/acme/teams/sre/memberships/erin", 404, ""},
		{"Bearer app-token", "orgs/acme/teams/dba/memberships/carol", 404, ""},
		{bearer, "orgs/acme/teams/sre/memberships/carol", 403, ""},
		{"Bearer no-org-pat", "orgs/acme/teams/sre/memberships/carol", 403, ""},
	} {
		if status, state, msg := get(c.auth, c.path); status != c.status || state != c.state || (status == 403) != strings.Contains(msg, "not accessible") {
			t.Errorf("%s as %s: %d %q %q", c.path, c.auth, status, state, msg)
		}
	}
	if len(s.Unexpected()) != 0 {
		t.Errorf("unexpected: %+v", s.Unexpected())
	}
}
