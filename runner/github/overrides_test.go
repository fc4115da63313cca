package github_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/test/fakeclock"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

const author = "bob"

// newOverrideEnv is newEnv with bob's pull request o/r#1 at shaA, and
// collaborators: bob, alice and others with write, mona maintain, adam
// admin, carol read, tris triage; dave is none.
func newOverrideEnv(t *testing.T, serverOpts ...fakegithub.Option) *env {
	t.Helper()
	e := newEnv(t, serverOpts)
	setHead(e, shaA)
	for login, role := range map[string]string{
		"bob": "write", "alice": "write", "mona": "maintain", "adam": "admin", "carol": "read", "tris": "triage",
		"erin": "write", "frank": "write", "gina": "write", "hank": "write", "ivan": "write",
	} {
		e.srv.SetCollaborator(owner, repo, login, role)
	}
	return e
}

// setHead moves the pull request's head, as a push does.
func setHead(e *env, sha string) {
	e.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: "o/r", HeadRef: "feature", HeadSHA: sha, Author: author})
}

func review(e *env, user, state, body string) fakegithub.Review {
	return e.srv.AddReview(owner, repo, prNum, fakegithub.Review{User: user, State: state, Body: body})
}

func overrides(t *testing.T, e *env) ([]github.Override, []github.Rejected) {
	t.Helper()
	ok, rejected, err := e.gh.Overrides(context.Background(), owner, repo, prNum)
	if err != nil {
		t.Fatal(err)
	}
	return ok, rejected
}

// why returns the reasons given for the rejected lines, by line.
func why(rejected []github.Rejected) map[string]string {
	m := map[string]string{}
	for _, r := range rejected {
		m[r.Line] = r.Why
	}
	return m
}

// Every case of issue 15: what counts, and for what does not, the reason.
func TestOverrides(t *testing.T) {
	t.Parallel()
	e := newOverrideEnv(t)
	const (
		approved  = fakegithub.ReviewApproved
		commented = fakegithub.ReviewCommented
	)
	alice := review(e, "alice", approved, "Looks fine.\r\nkonductor override baseline/no-public-buckets prod : ticket OPS-42, public on purpose\r\n")
	review(e, "mona", approved, "LGTM\n   KONDUCTOR  Override `baseline/encrypt-at-rest` :  migrating this week  \n"+
		"> konductor override baseline/quoted : someone quoting\n"+
		"```\nkonductor override baseline/example : an example\n```\n")
	review(e, "adam", approved, "konductor override baseline/tags staging : admins may")
	review(e, "carol", approved, "konductor override baseline/a : reader")
	review(e, "tris", approved, "konductor override baseline/a : triager")
	review(e, "dave", approved, "konductor override baseline/a : not a collaborator")
	review(e, author, commented, "konductor override baseline/a : my own")
	review(e, "adam", commented, "konductor override baseline/a : only a comment review")
	e.srv.AddReview(owner, repo, prNum, fakegithub.Review{User: "erin", State: approved, CommitID: shaB, Body: "konductor override baseline/a : older commit"})
	review(e, "alice", approved, "konductor override baseline/b :\nkonductor override baseline/c\nkonductor override nope : r\nkonductor override baseline/d prod extra : r")
	review(e, "frank", approved, "konductor override baseline/a : then changes")
	review(e, "frank", fakegithub.ReviewChangesRequested, "wait, no")
	review(e, "gina", approved, "konductor override baseline/a : then a comment")
	review(e, "gina", commented, "thanks")
	hank := review(e, "hank", approved, "konductor override baseline/a : then dismissed")
	review(e, "ivan", approved, "konductor override baseline/a : earlier approval")
	ivan2 := review(e, "ivan", approved, "approving again")
	for _, id := range []int64{hank.ID, ivan2.ID} {
		if !e.srv.DismissReview(id) {
			t.Fatal("dismiss")
		}
	}
	e.srv.SeedComment(owner, repo, prNum, "adam", "konductor override baseline/a : in a plain comment")
	e.srv.SeedComment(owner, repo, prNum, author, "konductor override baseline/a : author's comment")
	e.srv.SeedComment(owner, repo, prNum, fakegithub.DefaultLogin, github.CommentMarker+"\nTo override, approve with:\n\nkonductor override <pack>/<rule> : <reason>\n")

	ok, rejected := overrides(t, e)
	var got []string
	for _, o := range ok {
		got = append(got, fmt.Sprintf("%s/%s %q %q by %s", o.Pack, o.Rule, o.Stack, o.Reason, o.By))
	}
	want := []string{
		`baseline/no-public-buckets "prod" "ticket OPS-42, public on purpose" by alice`,
		`baseline/encrypt-at-rest "" "migrating this week" by mona`,
		`baseline/tags "staging" "admins may" by adam`,
		`baseline/a "" "then a comment" by gina`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("overrides:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if o := ok[0]; o.ReviewID != alice.ID || o.Commit != shaA || !strings.HasSuffix(o.URL, fmt.Sprintf("#pullrequestreview-%d", alice.ID)) {
		t.Errorf("first override: %+v", o)
	}

	wantWhy := map[string]string{
		"konductor override baseline/a : reader":                "@carol has read permission on o/r; an override needs write, maintain or admin",
		"konductor override baseline/a : triager":               "@tris has triage permission on o/r; an override needs write, maintain or admin",
		"konductor override baseline/a : not a collaborator":    "@dave is not a collaborator on o/r; an override needs write, maintain or admin",
		"konductor override baseline/a : my own":                "by @bob, the pull request's author, who cannot override their own pull request",
		"konductor override baseline/a : only a comment review": "the review is COMMENTED, not APPROVED",
		"konductor override baseline/a : older commit":          "approval is on commit bbbbbbb, not the head aaaaaaa: a new commit needs a new approval",
		"konductor override baseline/b :":                       "no reason after ':'",
		"konductor override baseline/c":                         "no ': <reason>' after the rule; the reason is required",
		"konductor override nope : r":                           `"nope" is not <pack>/<rule>`,
		"konductor override baseline/d prod extra : r":          "not `konductor override <pack>/<rule> [stack] : <reason>`",
		"konductor override baseline/a : then changes":          "@frank requested changes after this approval",
		"konductor override baseline/a : then dismissed":        "review dismissed",
		"konductor override baseline/a : earlier approval":      "a later review by @ivan was dismissed, which withdraws this approval",
		"konductor override baseline/a : in a plain comment":    "in a comment; an override goes in the body of an approving review",
		"konductor override baseline/a : author's comment":      "by @bob, the pull request's author, who cannot override their own pull request",
	}
	gotWhy := why(rejected)
	for line, w := range wantWhy {
		if gotWhy[line] != w {
			t.Errorf("%s:\n got %q\nwant %q", line, gotWhy[line], w)
		}
	}
	if len(rejected) != len(wantWhy) {
		t.Errorf("%d rejected, want %d (quoted, fenced and konductor's own lines are none): %v", len(rejected), len(wantWhy), gotWhy)
	}
	for _, r := range rejected {
		if r.Line == "konductor override baseline/a : older commit" && (r.By != "erin" || r.Commit != shaB || r.Pack != "baseline" || r.Rule != "a" || r.Reason != "older commit") {
			t.Errorf("rejected line's fields: %+v", r)
		}
		if r.Line == "konductor override baseline/a : reader" {
			if s := r.String(); s != "override of baseline/a by @carol did not count: "+r.Why {
				t.Errorf("String() = %q", s)
			}
		}
	}

	// Permissions are asked once per reviewer, and only of reviewers whose
	// line counts so far: alice (twice approving), mona, adam, carol, tris,
	// dave, gina.
	if n := count(e.srv, "GET", "GET collaborator permission"); n != 7 {
		t.Errorf("%d permission requests, want 7", n)
	}
}

// A new commit needs a new approval, and a dismissed approval brings the
// block back.
func TestOverridesFollowHeadAndDismissal(t *testing.T) {
	t.Parallel()
	e := newOverrideEnv(t)
	const line = "konductor override baseline/no-public-buckets : ticket 42"
	review(e, "alice", fakegithub.ReviewApproved, line)
	if ok, _ := overrides(t, e); len(ok) != 1 {
		t.Fatalf("approved at the head: %v", ok)
	}

	setHead(e, shaB)
	ok, rejected := overrides(t, e)
	if len(ok) != 0 || len(rejected) != 1 || !strings.Contains(rejected[0].Why, "a new commit needs a new approval") {
		t.Fatalf("after a push: %v %v", ok, rejected)
	}

	again := review(e, "alice", fakegithub.ReviewApproved, line)
	ok, rejected = overrides(t, e)
	if len(ok) != 1 || ok[0].ReviewID != again.ID || ok[0].Commit != shaB || len(rejected) != 1 {
		t.Fatalf("approved again: %v %v", ok, rejected)
	}

	e.srv.DismissReview(again.ID)
	ok, rejected = overrides(t, e)
	if len(ok) != 0 || why(rejected)[line] == "" || rejected[1].Why != "review dismissed" {
		t.Fatalf("dismissed: %v %v", ok, rejected)
	}
}

// Every page of reviews is read: the approval is on the second page.
func TestOverridesPaginate(t *testing.T) {
	t.Parallel()
	e := newOverrideEnv(t)
	for i := range 130 {
		review(e, fmt.Sprintf("user%d", i), fakegithub.ReviewCommented, "nit")
	}
	review(e, "alice", fakegithub.ReviewApproved, "konductor override baseline/a : late in a long review")
	for i := range 20 {
		review(e, fmt.Sprintf("user%d", i), fakegithub.ReviewCommented, "more")
	}
	ok, rejected := overrides(t, e)
	if len(ok) != 1 || ok[0].By != "alice" || len(rejected) != 0 {
		t.Errorf("%v %v", ok, rejected)
	}
	var pages []string
	for _, r := range e.srv.Requests() {
		if r.Route == "GET pull request reviews" {
			pages = append(pages, r.Query.Encode())
		}
	}
	if strings.Join(pages, " ") != "per_page=100 page=2&per_page=100" {
		t.Errorf("review pages asked: %v", pages)
	}
}

// GitHub failing is an error, not an empty answer: nothing counts then.
func TestOverridesErrors(t *testing.T) {
	t.Parallel()
	e := newOverrideEnv(t)
	review(e, "alice", fakegithub.ReviewApproved, "konductor override baseline/a : ok")
	e.srv.InjectFault(fakegithub.Fault{Status: 404, Body: `{"message":"Not Found"}`, Times: 1,
		Match: func(r fakegithub.Request) bool { return strings.HasSuffix(r.Path, "/reviews") }})
	if _, _, err := e.gh.Overrides(context.Background(), owner, repo, prNum); err == nil || !strings.Contains(err.Error(), "list reviews") {
		t.Errorf("reviews failing: %v", err)
	}

	// A person's token who only reads the repository may not ask for
	// permissions (403): that is an error, not "not a collaborator".
	e.srv.AddToken("rita-pat", "rita")
	e.srv.SetCollaborator(owner, repo, "rita", "read")
	c := clientWithToken(t, e, "rita-pat")
	if _, _, err := c.Overrides(context.Background(), owner, repo, prNum); err == nil || !strings.Contains(err.Error(), "permission of @alice") {
		t.Errorf("permission refused: %v", err)
	}
}

func clientWithToken(t *testing.T, e *env, token string) *github.Client {
	t.Helper()
	c, err := github.New(token, e.srv.URL(),
		github.WithClock(e.clock), github.WithLogger(quiet), github.WithJitter(func() float64 { return 0.5 }),
		github.WithBaseTransport(e.srv.Client().Transport))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOverrideCovers(t *testing.T) {
	t.Parallel()
	every := github.Override{Pack: "baseline", Rule: "no-public-buckets"}
	prod := github.Override{Pack: "baseline", Rule: "no-public-buckets", Stack: "prod"}
	for _, c := range []struct {
		o                 github.Override
		pack, rule, stack string
		want              bool
	}{
		{every, "baseline", "no-public-buckets", "dev", true},
		{every, "Baseline", "No-Public-Buckets", "prod", true},
		{every, "baseline", "encrypt-at-rest", "dev", false}, // another rule
		{every, "other", "no-public-buckets", "dev", false},
		{prod, "baseline", "no-public-buckets", "prod", true},
		{prod, "baseline", "no-public-buckets", "dev", false},
	} {
		if got := c.o.Covers(c.pack, c.rule, c.stack); got != c.want {
			t.Errorf("%+v covers %s/%s on %s: %v", c.o, c.pack, c.rule, c.stack, got)
		}
	}
}

func TestOverrideAllowed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	broken := errors.New("team lookup failed")
	var asked []string
	inTeam := func(_ context.Context, org, team, login string) (bool, error) {
		asked = append(asked, org+"/"+team)
		switch org + "/" + team {
		case "acme/sre":
			return login == "carol", nil
		case "acme/broken":
			return false, broken
		}
		return false, nil
	}
	for _, c := range []struct {
		by      []string
		login   string
		want    bool
		wantErr bool
		asked   string
	}{
		{nil, "anyone", true, false, ""},
		{[]string{"Alice"}, "alice", true, false, ""},
		{[]string{"@alice"}, "ALICE", true, false, ""},
		{[]string{"alice"}, "mallory", false, false, ""},
		{[]string{"acme/sre", "bob"}, "bob", true, false, ""}, // users first: no team asked
		{[]string{"acme/sre"}, "carol", true, false, "acme/sre"},
		{[]string{"acme/sre"}, "dave", false, false, "acme/sre"},
		{[]string{"acme/broken", "acme/sre"}, "carol", true, false, "acme/broken acme/sre"},
		{[]string{"acme/broken", "acme/sre"}, "dave", false, true, "acme/broken acme/sre"},
		{[]string{""}, "anyone", false, false, ""}, // a list of nothing lets nobody
	} {
		asked = nil
		got, err := github.OverrideAllowed(ctx, c.by, c.login, inTeam)
		if got != c.want || (err != nil) != c.wantErr || strings.Join(asked, " ") != c.asked {
			t.Errorf("%v, %s: %v, %v, asked %v", c.by, c.login, got, err, asked)
		}
		if c.wantErr && !errors.Is(err, broken) {
			t.Errorf("%v: error %v does not wrap the lookup's", c.by, err)
		}
	}
	if _, err := github.OverrideAllowed(ctx, []string{"acme/sre"}, "carol", nil); err == nil {
		t.Error("a team and no way to check it")
	}
}

// InTeam against the fake: active members only, answers kept, and a
// clear error for a token that cannot read teams (GITHUB_TOKEN).
func TestInTeam(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New()
	srv := fakegithub.New(t, fakegithub.WithClock(clock.Now))
	srv.AddToken("app-token", "konductor[bot]")
	srv.AddTeamMember("acme", "sre", "carol", "active")
	srv.AddTeamMember("acme", "sre", "dave", "pending")
	e := &env{srv: srv, clock: clock}
	c := clientWithToken(t, e, "app-token")
	ctx := context.Background()
	for _, tc := range []struct {
		login string
		want  bool
	}{{"carol", true}, {"Carol", true}, {"dave", false}, {"erin", false}, {"carol", true}} {
		if got, err := c.InTeam(ctx, "acme", "sre", tc.login); err != nil || got != tc.want {
			t.Errorf("%s: %v %v", tc.login, got, err)
		}
	}
	if n := count(srv, "GET", "GET team membership"); n != 3 {
		t.Errorf("%d membership requests, want 3 (answers are kept)", n)
	}
	allowed, err := github.OverrideAllowed(ctx, []string{"alice", "acme/sre"}, "carol", c.InTeam)
	if !allowed || err != nil {
		t.Errorf("override_by through InTeam: %v %v", allowed, err)
	}

	gt := newClient(t, srv, clock)
	_, err = gt.InTeam(ctx, "acme", "sre", "carol")
	if !errors.Is(err, github.ErrTeamsUnreadable) || !strings.Contains(err.Error(), "read:org") {
		t.Errorf("GITHUB_TOKEN: %v", err)
	}
	if u := srv.Unexpected(); len(u) != 0 {
		t.Errorf("unexpected: %+v", u)
	}
}
