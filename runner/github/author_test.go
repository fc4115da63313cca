package github_test

// Over 400 lines on purpose: one scenario per way of learning the
// token's account, each a whole conversation with the fake.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/test/fakeclock"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

// Accounts of the ownership tests, each with its token on the fake.
const (
	malloryToken = "mallory-pat" // a person who forges konductor's comment
	mallory      = "mallory"
	appToken     = "ghs-konductor-app" // a GitHub App's installation token
	appLogin     = "konductor-app[bot]"
	patToken     = "deployer-pat" // a machine user's personal access token
	patLogin     = "deployer"
)

func addAccounts(srv *fakegithub.Server) {
	srv.AddToken(malloryToken, mallory)
	srv.AddToken(appToken, appLogin)
	srv.AddToken(patToken, patLogin)
}

// reader is go-github as any reader of the pull request sees it: what the
// tests assert on.
func reader(t *testing.T, srv *fakegithub.Server, token string) *gh.Client {
	t.Helper()
	c := gh.NewClient(srv.Client()).WithAuthToken(token)
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = u
	return c
}

// listed returns every comment of the pull request, every page, via the API.
func listed(t *testing.T, c *gh.Client) []*gh.IssueComment {
	t.Helper()
	var all []*gh.IssueComment
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		page, resp, err := c.Issues.ListComments(context.Background(), owner, repo, prNum, opts)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			return all
		}
		opts.Page = resp.NextPage
	}
}

// postAs comments as the token's account through the API.
func postAs(t *testing.T, srv *fakegithub.Server, token, body string) *gh.IssueComment {
	t.Helper()
	c, _, err := reader(t, srv, token).Issues.CreateComment(context.Background(), owner, repo, prNum, &gh.IssueComment{Body: gh.String(body)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// logs collects a client's log lines.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logs) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// run is one workflow run: a new client (it remembers nothing of earlier
// runs) for token writing one section.
func run(t *testing.T, e *env, token string, section github.Section, opts ...github.Option) (*github.Comment, *logs) {
	t.Helper()
	l := &logs{}
	base := []github.Option{
		github.WithClock(e.clock),
		github.WithLogger(l.logger()),
		github.WithJitter(func() float64 { return 0.5 }),
		github.WithBaseTransport(e.srv.Client().Transport),
	}
	c, err := github.New(token, e.srv.URL(), append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.UpsertSection(context.Background(), owner, repo, prNum, section)
	if err != nil {
		t.Fatalf("%s: %v\nlog:\n%s", section.Stack, err, l)
	}
	return got, l
}

// writesTo lists the PATCHes and DELETEs of comment id.
func writesTo(srv *fakegithub.Server, id int64) []string {
	var out []string
	for _, r := range srv.Requests() {
		if r.Method != "GET" && strings.HasSuffix(r.Path, fmt.Sprintf("/issues/comments/%d", id)) {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

func sticky(stack, body string) string {
	return github.Compose(header, []github.Section{{Stack: stack, Body: body}}, 0)
}

// The issue's case: a person posts a comment with konductor's marker before
// konductor's first run. konductor must write its own comment, and keep
// writing to it, and never touch the person's.
func TestUpsertLeavesForgedCommentAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	addAccounts(e.srv)
	forgedBody := sticky("dev", "Approved by konductor. [Details](https://evil.example/)")
	forged := postAs(t, e.srv, malloryToken, forgedBody)

	first, _ := run(t, e, fakegithub.DefaultToken, github.Section{Stack: "dev", Body: "dev v1"})
	if !first.Created || first.ID == forged.GetID() {
		t.Fatalf("first run wrote comment %d (created=%v); want a new comment, not mallory's %d", first.ID, first.Created, forged.GetID())
	}
	second, l := run(t, e, fakegithub.DefaultToken, github.Section{Stack: "dev", Body: "dev v2"})
	if second.ID != first.ID || !second.Updated || second.Created {
		t.Fatalf("second run wrote comment %d (created=%v updated=%v), want konductor's %d updated", second.ID, second.Created, second.Updated, first.ID)
	}

	cs := listed(t, reader(t, e.srv, malloryToken))
	if len(cs) != 2 {
		t.Fatalf("%d comments, want mallory's and konductor's", len(cs))
	}
	if cs[0].GetID() != forged.GetID() || cs[0].GetBody() != forgedBody || cs[0].GetUser().GetLogin() != mallory {
		t.Errorf("mallory's comment changed: %d by %s:\n%s", cs[0].GetID(), cs[0].GetUser().GetLogin(), cs[0].GetBody())
	}
	k := cs[1]
	if k.GetID() != first.ID || k.GetUser().GetLogin() != fakegithub.DefaultLogin || k.GetUser().GetType() != "Bot" {
		t.Errorf("konductor's comment is %d by %s (%s), want %d by %s", k.GetID(), k.GetUser().GetLogin(), k.GetUser().GetType(), first.ID, fakegithub.DefaultLogin)
	}
	if secs := sectionsOf(t, k.GetBody()); secs["dev"].Body != "dev v2" || strings.Contains(k.GetBody(), "evil.example") {
		t.Errorf("konductor's comment:\n%s", k.GetBody())
	}
	if w := writesTo(e.srv, forged.GetID()); len(w) != 0 {
		t.Errorf("wrote to mallory's comment: %v", w)
	}
	if s := l.String(); !strings.Contains(s, "leaving alone") || !strings.Contains(s, fmt.Sprint(forged.GetID())) || !strings.Contains(s, "author="+mallory) {
		t.Errorf("no log line about the ignored comment:\n%s", s)
	}
}

// Whatever kind of token konductor runs with, it adopts only the comments
// of that token's account, learning the account from GitHub: the first run
// from the comment it creates, the next from GraphQL's viewer.
func TestUpsertAdoptsOnlyTheTokensAccount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, token, login, userType string
	}{
		{"GITHUB_TOKEN", fakegithub.DefaultToken, fakegithub.DefaultLogin, "Bot"},
		{"GitHub App installation token", appToken, appLogin, "Bot"},
		{"personal access token", patToken, patLogin, "User"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			addAccounts(e.srv)
			// Every other account, bots included, has a marked comment
			// before konductor's first run.
			others := map[int64]string{}
			for _, token := range []string{malloryToken, fakegithub.DefaultToken, appToken, patToken} {
				if token == tt.token {
					continue
				}
				body := sticky("prod", "written with "+token)
				others[postAs(t, e.srv, token, body).GetID()] = body
			}

			first, _ := run(t, e, tt.token, github.Section{Stack: "dev", Body: "dev v1"})
			if !first.Created {
				t.Fatalf("first run adopted comment %d", first.ID)
			}
			graphql := count(e.srv, "POST", "POST graphql")
			second, _ := run(t, e, tt.token, github.Section{Stack: "qa", Body: "qa v1"})
			if second.ID != first.ID || !second.Updated {
				t.Fatalf("second run wrote %d (created=%v), want %d updated", second.ID, second.Created, first.ID)
			}
			if n := count(e.srv, "POST", "POST graphql") - graphql; n != 1 {
				t.Errorf("second run asked GraphQL %d times, want once", n)
			}

			cs := listed(t, reader(t, e.srv, tt.token))
			if len(cs) != len(others)+1 {
				t.Fatalf("%d comments, want %d", len(cs), len(others)+1)
			}
			for _, c := range cs {
				if c.GetID() == first.ID {
					if c.GetUser().GetLogin() != tt.login || c.GetUser().GetType() != tt.userType {
						t.Errorf("konductor's comment by %s (%s), want %s (%s)", c.GetUser().GetLogin(), c.GetUser().GetType(), tt.login, tt.userType)
					}
					secs := sectionsOf(t, c.GetBody())
					if len(secs) != 2 || secs["dev"].Body != "dev v1" || secs["qa"].Body != "qa v1" {
						t.Errorf("konductor's comment:\n%s", c.GetBody())
					}
					continue
				}
				if want, ok := others[c.GetID()]; !ok || c.GetBody() != want {
					t.Errorf("comment %d of %s changed or unknown:\n%s", c.GetID(), c.GetUser().GetLogin(), c.GetBody())
				}
				if w := writesTo(e.srv, c.GetID()); len(w) != 0 {
					t.Errorf("wrote to %s's comment: %v", c.GetUser().GetLogin(), w)
				}
			}
		})
	}
}

// Forged comments on every page do not hide konductor's own, wherever it is,
// and the oldest of its own is the one written.
func TestUpsertOwnCommentAmongForgedOnEveryPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	addAccounts(e.srv)
	var forged, ours []fakegithub.Comment
	for i := range 260 {
		switch i {
		case 0, 99, 100, 199, 259: // first, page ends and starts, last
			forged = append(forged, e.srv.SeedComment(owner, repo, prNum, mallory, sticky("dev", fmt.Sprint("forged ", i))))
		case 150, 230:
			ours = append(ours, e.srv.SeedComment(owner, repo, prNum, fakegithub.DefaultLogin, sticky("prod", fmt.Sprint("ours ", i))))
		default:
			e.srv.SeedComment(owner, repo, prNum, mallory, fmt.Sprint("chatter ", i))
		}
	}
	lists := count(e.srv, "GET", "GET issue comments")
	c, l := run(t, e, fakegithub.DefaultToken, github.Section{Stack: "dev", Body: "dev body"})
	if c.ID != ours[0].ID || c.Created {
		t.Fatalf("wrote %d (created=%v), want the oldest of ours, %d", c.ID, c.Created, ours[0].ID)
	}
	if n := count(e.srv, "GET", "GET issue comments") - lists; n != 3 {
		t.Errorf("%d list requests, want the 3 pages once", n)
	}
	for _, f := range forged {
		if got, ok := e.srv.Comment(f.ID); !ok || got.Body != f.Body {
			t.Errorf("forged comment %d changed or deleted", f.ID)
		}
		if !strings.Contains(l.String(), fmt.Sprintf("comment=%d", f.ID)) {
			t.Errorf("no log line about forged comment %d", f.ID)
		}
	}
	if _, ok := e.srv.Comment(ours[1].ID); ok {
		t.Error("the newer comment of ours, a duplicate, was kept")
	}
	if n := len(e.srv.Comments(owner, repo, prNum)); n != 259 {
		t.Errorf("%d comments, want 259 (the duplicate of ours removed, nothing else)", n)
	}
}

// When GitHub cannot say who the token is, konductor does not guess: it
// creates its comment, takes the author from GitHub's answer, removes that
// comment again when the author has an older one and writes there.
func TestUpsertUnknownAccountLearnsFromItsComment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	addAccounts(e.srv)
	forgedBody := sticky("dev", "forged")
	forged := postAs(t, e.srv, malloryToken, forgedBody)
	first, _ := run(t, e, fakegithub.DefaultToken, github.Section{Stack: "dev", Body: "dev v1"})

	// GraphQL fails; GET /user answers 403 to the installation token.
	e.srv.InjectFault(fakegithub.Fault{
		Status: 200, Body: `{"errors":[{"message":"Something went wrong while executing your query."}]}`,
		Match: func(r fakegithub.Request) bool { return strings.HasSuffix(r.Path, "/graphql") },
	})
	before := len(e.srv.Requests())
	l := &logs{}
	c, err := github.New(fakegithub.DefaultToken, e.srv.URL(), github.WithClock(e.clock), github.WithLogger(l.logger()),
		github.WithJitter(func() float64 { return 0.5 }), github.WithBaseTransport(e.srv.Client().Transport))
	if err != nil {
		t.Fatal(err)
	}
	// Two stacks of one run: the second knows the account already.
	for _, s := range []github.Section{{Stack: "dev", Body: "dev v2"}, {Stack: "prod", Body: "prod v1"}} {
		got, err := c.UpsertSection(context.Background(), owner, repo, prNum, s)
		if err != nil {
			t.Fatalf("%s: %v\n%s", s.Stack, err, l)
		}
		if got.ID != first.ID || !got.Updated {
			t.Fatalf("%s: wrote %d (created=%v), want %d updated", s.Stack, got.ID, got.Created, first.ID)
		}
	}

	cs := listed(t, reader(t, e.srv, malloryToken))
	if len(cs) != 2 || cs[0].GetID() != forged.GetID() || cs[0].GetBody() != forgedBody || cs[1].GetID() != first.ID {
		t.Fatalf("comments %v, want mallory's %d untouched and konductor's %d", ids(cs), forged.GetID(), first.ID)
	}
	if secs := sectionsOf(t, cs[1].GetBody()); secs["dev"].Body != "dev v2" || secs["prod"].Body != "prod v1" {
		t.Errorf("konductor's comment:\n%s", cs[1].GetBody())
	}
	var posts, deletes, asks []string
	for _, r := range e.srv.Requests()[before:] {
		switch {
		case r.Route == "POST issue comment":
			posts = append(posts, r.Path)
		case r.Route == "DELETE issue comment":
			deletes = append(deletes, r.Path)
		case strings.HasSuffix(r.Path, "/graphql") || strings.HasSuffix(r.Path, "/user"):
			asks = append(asks, fmt.Sprint(r.Method, " ", r.Path, " ", r.Status))
		}
	}
	if len(posts) != 1 || len(deletes) != 1 {
		t.Errorf("%d comments created and %d deleted, want the one created to learn the account, deleted", len(posts), len(deletes))
	}
	if len(asks) != 2 {
		t.Errorf("asked who the token is: %v; want GraphQL then GET /user, once", asks)
	}
	if w := writesTo(e.srv, forged.GetID()); len(w) != 0 {
		t.Errorf("wrote to mallory's comment: %v", w)
	}
	if !strings.Contains(l.String(), "cannot tell which account") {
		t.Errorf("no warning about the unknown account:\n%s", l)
	}
}

func ids(cs []*gh.IssueComment) []int64 {
	var out []int64
	for _, c := range cs {
		out = append(out, c.GetID())
	}
	return out
}

// WithCommentAuthor spares the lookup; when it is wrong, the comment konductor
// creates corrects it, at the cost of a short-lived comment, not a duplicate.
func TestUpsertConfiguredAuthor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	addAccounts(e.srv)
	forged := postAs(t, e.srv, malloryToken, sticky("dev", "forged"))
	first, _ := run(t, e, fakegithub.DefaultToken, github.Section{Stack: "dev", Body: "v1"})

	asked := func() int {
		return count(e.srv, "POST", "POST graphql") + count(e.srv, "GET", "GET authenticated user")
	}
	n0 := asked()
	c, _ := run(t, e, fakegithub.DefaultToken, github.Section{Stack: "dev", Body: "v2"}, github.WithCommentAuthor(fakegithub.DefaultLogin))
	if c.ID != first.ID || !c.Updated {
		t.Fatalf("configured: wrote %d, want %d", c.ID, first.ID)
	}
	if asked() != n0 {
		t.Error("asked GitHub who the token is although it was configured")
	}

	c, l := run(t, e, fakegithub.DefaultToken, github.Section{Stack: "dev", Body: "v3"}, github.WithCommentAuthor(appLogin))
	if c.ID != first.ID || !c.Updated {
		t.Fatalf("misconfigured: wrote %d, want %d", c.ID, first.ID)
	}
	cs := listed(t, reader(t, e.srv, malloryToken))
	if len(cs) != 2 || cs[0].GetID() != forged.GetID() || cs[1].GetID() != first.ID {
		t.Errorf("comments %v, want [%d %d]", ids(cs), forged.GetID(), first.ID)
	}
	if secs := sectionsOf(t, cs[1].GetBody()); secs["dev"].Body != "v3" {
		t.Errorf("konductor's comment:\n%s", cs[1].GetBody())
	}
	if !strings.Contains(l.String(), "another account than expected") {
		t.Errorf("no warning about the wrong author:\n%s", l)
	}
}

// Concurrent writers of one account, racing to create the sticky comment
// beside a forged one, end with one comment of theirs; the forged one stays.
func TestUpsertConcurrentWritersBesideForged(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New()
	srv := fakegithub.New(t, fakegithub.WithClock(clock.Now))
	t.Cleanup(func() {
		for _, r := range srv.Unexpected() {
			t.Errorf("unexpected call: %s %s", r.Method, r.Path)
		}
	})
	srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: "o/r", HeadSHA: shaA})
	addAccounts(srv)
	forgedBody := sticky("dev", "forged")
	forged := postAs(t, srv, malloryToken, forgedBody)
	srv.SetHook(func(fakegithub.Request) { time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond) })
	stacks := []string{"dev", "prod", "qa", "staging"}
	var wg sync.WaitGroup
	errs := make([]error, len(stacks))
	for i, stack := range stacks {
		c := newClient(t, srv, github.RealClock, github.WithWriteBounds(50*time.Millisecond, 100*time.Millisecond),
			github.WithUpsertAttempts(8), github.WithJitter(rand.Float64))
		wg.Go(func() {
			_, errs[i] = c.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: stack, Body: stack + " body", SHA: shaA})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s: %v", stacks[i], err)
		}
	}
	cs := listed(t, reader(t, srv, malloryToken))
	if len(cs) != 2 || cs[0].GetID() != forged.GetID() || cs[0].GetBody() != forgedBody || cs[1].GetUser().GetLogin() != fakegithub.DefaultLogin {
		t.Fatalf("comments %v, want mallory's untouched and one of konductor's", ids(cs))
	}
	secs := sectionsOf(t, cs[1].GetBody())
	for _, stack := range stacks {
		if secs[stack].Body != stack+" body" {
			t.Errorf("%s = %q", stack, secs[stack].Body)
		}
	}
}
