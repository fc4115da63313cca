package github_test

// Over 400 lines on purpose: every path UpsertSection can take (create,
// adopt, merge, lose a race, verify) against the fake, kept together.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/test/fakeclock"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

const header = github.DefaultHeader

// marked returns the comments on the pull request that start with our marker.
func marked(srv *fakegithub.Server, pr int) []fakegithub.Comment {
	var out []fakegithub.Comment
	for _, c := range srv.Comments(owner, repo, pr) {
		if _, _, ok := github.Parse(c.Body); ok {
			out = append(out, c)
		}
	}
	return out
}

// sectionsOf parses a body into stack → section.
func sectionsOf(t *testing.T, body string) map[string]github.Section {
	t.Helper()
	_, secs, ok := github.Parse(body)
	if !ok {
		t.Fatalf("not a sticky comment:\n%s", body)
	}
	m := map[string]github.Section{}
	for _, s := range secs {
		m[s.Stack] = s
	}
	return m
}

func TestUpsertCreatesThenEdits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	steps := []struct {
		section              github.Section
		wantCreated, wantUpd bool
		wantStacks           string
	}{
		{github.Section{Stack: "dev", Body: "dev v1"}, true, false, "dev"},
		{github.Section{Stack: "prod", Body: "prod v1"}, false, true, "dev,prod"},
		{github.Section{Stack: "dev", Body: "dev v1"}, false, false, "dev,prod"}, // unchanged: no PATCH
		{github.Section{Stack: "dev", Body: "dev v2"}, false, true, "dev,prod"},
		{github.Section{Stack: "a-first", Body: "sorted first"}, false, true, "a-first,dev,prod"},
		// Replaces removes the named section (and only that one).
		{github.Section{Stack: "dev", Body: "dev v2", Replaces: []string{"a-first", "missing"}}, false, true, "dev,prod"},
	}
	var id int64
	for i, st := range steps {
		patches := count(e.srv, "PATCH", "")
		c, err := e.gh.UpsertSection(ctx, owner, repo, prNum, st.section)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if c.Created != st.wantCreated || c.Updated != st.wantUpd {
			t.Errorf("step %d: created=%v updated=%v", i, c.Created, c.Updated)
		}
		if id == 0 {
			id = c.ID
		} else if c.ID != id {
			t.Errorf("step %d: comment %d, want %d", i, c.ID, id)
		}
		if !st.wantUpd && count(e.srv, "PATCH", "") != patches {
			t.Errorf("step %d: PATCHed an unchanged body", i)
		}
		_, secs, _ := github.Parse(c.Body)
		var stacks []string
		for _, s := range secs {
			stacks = append(stacks, s.Stack)
		}
		if got := strings.Join(stacks, ","); got != st.wantStacks {
			t.Errorf("step %d: stacks %s, want %s", i, got, st.wantStacks)
		}
		if want := fmt.Sprintf("https://github.com/o/r/pull/1#issuecomment-%d", c.ID); c.URL != want {
			t.Errorf("URL %q", c.URL)
		}
	}
	m := marked(e.srv, prNum)
	if len(m) != 1 || sectionsOf(t, m[0].Body)["dev"].Body != "dev v2" {
		t.Fatalf("comments: %+v", m)
	}
	if _, err := e.gh.UpsertSection(ctx, owner, repo, prNum, github.Section{Stack: "bad name"}); err == nil {
		t.Error("invalid stack accepted")
	}
}

func TestUpsertFindsCommentOnAnyPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		before, after int
		wantPages     int
	}{
		{"95 comments first", 95, 0, 1},
		{"page 3 of 4", 250, 60, 4},
		{"first of 4 pages", 0, 350, 4},
		{"last item of a full page", 99, 100, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			for i := range tt.before {
				e.srv.SeedComment(owner, repo, prNum, "someone", fmt.Sprintf("comment %d", i))
			}
			ours := e.srv.SeedComment(owner, repo, prNum, fakegithub.DefaultLogin,
				github.Compose(header, []github.Section{{Stack: "prod", Body: "prod body"}}, github.MaxBodyLength))
			for i := range tt.after {
				e.srv.SeedComment(owner, repo, prNum, "someone-else", fmt.Sprintf("later %d", i))
			}
			c, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: "dev", Body: "dev body"})
			if err != nil {
				t.Fatal(err)
			}
			if c.ID != ours.ID || c.Created || count(e.srv, "POST", "POST issue comment") != 0 {
				t.Errorf("wrote comment %d (created=%v), want %d", c.ID, c.Created, ours.ID)
			}
			got, _ := e.srv.Comment(ours.ID)
			secs := sectionsOf(t, got.Body)
			if secs["prod"].Body != "prod body" || secs["dev"].Body != "dev body" {
				t.Errorf("sections %+v", secs)
			}
			if n := len(marked(e.srv, prNum)); n != 1 {
				t.Errorf("%d marked comments", n)
			}
			// Every page is read on each listing (one listing here).
			if n := count(e.srv, "GET", "GET issue comments"); n != tt.wantPages {
				t.Errorf("%d list requests, want %d", n, tt.wantPages)
			}
		})
	}
}

func TestUpsertNeverTouchesOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ours := github.Compose(header, []github.Section{{Stack: "prod", Body: "x"}}, 0)
	others := []struct{ login, body string }{
		{"someone", "LGTM"},
		{"someone", "> " + strings.ReplaceAll(ours, "\n", "\n> ")}, // a quote of our comment
		{"someone", "the bot writes " + github.CommentMarker + " at the top"},
		{"other-bot[bot]", "<!-- other-tool:comment -->\nnot ours"},
		{fakegithub.DefaultLogin, "a comment of ours without the marker"},
	}
	var ids []int64
	for _, o := range others {
		ids = append(ids, e.srv.SeedComment(owner, repo, prNum, o.login, o.body).ID)
	}
	for _, stack := range []string{"dev", "prod", "dev"} {
		if _, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: stack, Body: stack + " " + fmt.Sprint(time.Now().UnixNano())}); err != nil {
			t.Fatal(err)
		}
	}
	for i, id := range ids {
		c, ok := e.srv.Comment(id)
		if !ok || c.Body != others[i].body {
			t.Errorf("comment %d of %s was changed or deleted", id, others[i].login)
		}
	}
	for _, r := range e.srv.Requests() {
		for _, id := range ids {
			if strings.HasSuffix(r.Path, fmt.Sprint(id)) && r.Method != "GET" {
				t.Errorf("%s %s touched another's comment", r.Method, r.Path)
			}
		}
	}
	if n := len(marked(e.srv, prNum)); n != 1 {
		t.Errorf("%d marked comments", n)
	}
}

func TestUpsertUsesOldestMarked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	body := func(b string) string { return github.Compose(header, []github.Section{{Stack: "prod", Body: b}}, 0) }
	oldest := e.srv.SeedComment(owner, repo, prNum, fakegithub.DefaultLogin, body("old"))
	newer := e.srv.SeedComment(owner, repo, prNum, fakegithub.DefaultLogin, body("new"))
	c, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: "dev", Body: "d"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != oldest.ID {
		t.Errorf("wrote %d, want the oldest %d", c.ID, oldest.ID)
	}
	// A newer marked comment of the same account is a duplicate (a create
	// that failed after it took effect leaves one no writer knows of).
	if _, ok := e.srv.Comment(newer.ID); ok {
		t.Error("the newer marked comment of ours, a duplicate, was kept")
	}
}

func TestUpsertCommentDeleted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// when reports whether the hook should delete the comment now;
		// patched tells whether our PATCH was already sent.
		when func(r fakegithub.Request, patched bool) bool
		// wantProd: the other writer's section is never carried into the
		// new comment: each writer settles its own sections (a copy from
		// an old read could be older than what its writer wrote since).
		wantProd bool
	}{
		{"before the re-read", func(r fakegithub.Request, patched bool) bool {
			return r.Method == "GET" && strings.Contains(r.Path, "/issues/comments/") && !patched
		}, false},
		{"before the PATCH", func(r fakegithub.Request, _ bool) bool { return r.Method == "PATCH" }, false},
		{"before the read-back", func(r fakegithub.Request, patched bool) bool {
			return r.Method == "GET" && strings.Contains(r.Path, "/issues/comments/") && patched
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			old := e.srv.SeedComment(owner, repo, prNum, fakegithub.DefaultLogin,
				github.Compose(header, []github.Section{{Stack: "prod", Body: "prod body"}}, 0))
			var once sync.Once
			var patched atomic.Bool
			e.srv.SetHook(func(r fakegithub.Request) {
				if tt.when(r, patched.Load()) {
					once.Do(func() { e.srv.DeleteComment(old.ID) })
				}
				if r.Method == "PATCH" {
					patched.Store(true)
				}
			})
			c, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: "dev", Body: "dev body"})
			if err != nil {
				t.Fatal(err)
			}
			if !c.Created || c.ID == old.ID {
				t.Errorf("comment %+v, want a new one", c)
			}
			m := marked(e.srv, prNum)
			if len(m) != 1 || m[0].ID != c.ID {
				t.Fatalf("marked comments %+v", m)
			}
			secs := sectionsOf(t, m[0].Body)
			if secs["dev"].Body != "dev body" {
				t.Errorf("dev %+v", secs["dev"])
			}
			if _, ok := secs["prod"]; ok != tt.wantProd {
				t.Errorf("prod carried over = %v, want %v", ok, tt.wantProd)
			}
		})
	}
}

func TestUpsertNeverOversize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	runesOf := map[string]rune{"dev": 'é', "prod": '界', "qa": '🙂', "staging": 'x'}
	for _, stack := range []string{"prod", "dev", "staging", "qa"} {
		c, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: stack, Body: hugeBody(stack, 3000, runesOf[stack])})
		if err != nil {
			t.Fatalf("%s: %v", stack, err)
		}
		if n := utf8.RuneCountInString(c.Body); n > github.MaxBodyLength {
			t.Fatalf("%s: body of %d characters", stack, n)
		}
	}
	for _, r := range e.srv.Requests() {
		if r.Status == 422 {
			t.Errorf("%s %s got 422", r.Method, r.Path)
		}
	}
	m := marked(e.srv, prNum)
	if len(m) != 1 {
		t.Fatalf("%d comments", len(m))
	}
	if len(m[0].Body) <= github.MaxBodyLength {
		t.Errorf("test is too weak: only %d bytes", len(m[0].Body))
	}
	secs := sectionsOf(t, m[0].Body)
	for stack := range runesOf {
		if s := secs[stack]; !strings.Contains(s.Body, "left out") || !strings.HasPrefix(s.Body, "**"+stack+"**") {
			t.Errorf("%s not cut as expected: %.100q", stack, s.Body)
		}
	}

	// Without the limit, GitHub refuses the body: that is what Compose prevents.
	e2 := newEnv(t, nil, github.WithBodyLimit(1<<20))
	_, err := e2.gh.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: "dev", Body: hugeBody("dev", 3000, 'x')})
	if err == nil || !strings.Contains(err.Error(), "422") {
		t.Errorf("err = %v, want the fake's 422", err)
	}
}

// clobberAfterPatch makes the fake act as a racing writer whose stale PATCH
// lands right after ours: before the read-back, the comment is replaced by
// body (for at most n of our PATCHes; every one when n < 0).
func clobberAfterPatch(srv *fakegithub.Server, n int, body func() string) {
	var mu sync.Mutex
	pending, done := false, 0
	srv.SetHook(func(r fakegithub.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == "PATCH":
			pending = true
		case pending && r.Method == "GET" && strings.Contains(r.Path, "/issues/comments/") && (n < 0 || done < n):
			pending = false
			done++
			id := r.Path[strings.LastIndex(r.Path, "/")+1:]
			var cid int64
			fmt.Sscan(id, &cid)
			srv.EditComment(cid, body())
		}
	})
}

func TestUpsertLostRaceIsRepaired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c0 := e.srv.SeedComment(owner, repo, prNum, fakegithub.DefaultLogin, github.Compose(header, []github.Section{
		{Stack: "prod", Body: "prod v1"}, {Stack: "qa", Body: "qa v1"},
	}, 0))
	// The racing writer updated prod from a read older than our write, and
	// so lost dev, and qa too: dev is put back; qa is its own writer's to
	// settle (interleave_test.go runs every writer).
	clobberAfterPatch(e.srv, 1, func() string {
		return github.Compose(header, []github.Section{{Stack: "prod", Body: "prod v2"}}, 0)
	})
	c, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: "dev", Body: "dev v1"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := e.srv.Comment(c0.ID)
	secs := sectionsOf(t, got.Body)
	want := map[string]string{"dev": "dev v1", "prod": "prod v2", "qa": ""}
	for stack, body := range want {
		if secs[stack].Body != body {
			t.Errorf("%s = %q, want %q", stack, secs[stack].Body, body)
		}
	}
	if n := count(e.srv, "PATCH", ""); n != 2 {
		t.Errorf("%d PATCHes, want 2", n)
	}
	if c.Body != got.Body {
		t.Error("returned body differs from the stored one")
	}
}

func TestUpsertGivesUpAfterBoundedRaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, github.WithUpsertAttempts(3))
	e.srv.SeedComment(owner, repo, prNum, fakegithub.DefaultLogin, github.Compose(header, []github.Section{{Stack: "prod", Body: "p"}}, 0))
	i := 0
	clobberAfterPatch(e.srv, -1, func() string {
		i++
		return github.Compose(header, []github.Section{{Stack: "prod", Body: fmt.Sprint("p", i)}}, 0)
	})
	_, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: "dev", Body: "d"})
	if err == nil || !strings.Contains(err.Error(), "other writers changed it 3 times in a row") {
		t.Fatalf("err = %v", err)
	}
	if n := count(e.srv, "PATCH", ""); n != 3 {
		t.Errorf("%d PATCHes, want 3", n)
	}
}

func TestUpsertOutdated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	setHead := func(sha string) {
		e.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: "o/r", HeadRef: "feature", HeadSHA: sha})
	}
	outdated := "> ⚠️ Outdated: previewed aaaaaaa; a newer commit bbbbbbb is being previewed."
	steps := []struct {
		name     string
		head     string
		section  github.Section
		wantPut  bool   // a PATCH or POST happens
		wantDev  string // dev's body
		wantLine bool   // the outdated line is shown for dev
	}{
		{"dev at A", shaA, github.Section{Stack: "dev", Body: "dev@A", SHA: shaA}, true, "dev@A", false},
		{"prod at B marks dev outdated", shaB, github.Section{Stack: "prod", Body: "prod@B", SHA: shaB}, true, "dev@A", true},
		{"dev at B clears it", shaB, github.Section{Stack: "dev", Body: "dev@B", SHA: shaB}, true, "dev@B", false},
		{"a late job for A does not replace dev at B", shaB, github.Section{Stack: "dev", Body: "dev@A again", SHA: shaA}, false, "dev@B", false},
		{"abbreviated SHA of the head counts as the head", shaB, github.Section{Stack: "dev", Body: "dev@B short", SHA: shaB[:7]}, true, "dev@B short", false},
	}
	for _, st := range steps {
		setHead(st.head)
		writes := count(e.srv, "PATCH", "") + count(e.srv, "POST", "")
		c, err := e.gh.UpsertSection(ctx, owner, repo, prNum, st.section)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := count(e.srv, "PATCH", "")+count(e.srv, "POST", "") > writes; got != st.wantPut {
			t.Errorf("%s: wrote=%v, want %v", st.name, got, st.wantPut)
		}
		secs := sectionsOf(t, c.Body)
		if secs["dev"].Body != st.wantDev {
			t.Errorf("%s: dev = %q, want %q", st.name, secs["dev"].Body, st.wantDev)
		}
		if got := strings.Contains(c.Body, outdated); got != st.wantLine {
			t.Errorf("%s: outdated line shown=%v, want %v:\n%s", st.name, got, st.wantLine, c.Body)
		}
		if strings.Contains(c.Body, "Outdated") && secs["prod"].Body != "prod@B" && st.wantLine {
			t.Errorf("%s: prod lost", st.name)
		}
	}
}

func TestUpsertConcurrentStacks(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New()
	srv := fakegithub.New(t, fakegithub.WithClock(clock.Now))
	t.Cleanup(func() {
		for _, r := range srv.Unexpected() {
			t.Errorf("unexpected call: %s %s", r.Method, r.Path)
		}
	})
	// Reorder requests: each waits 0-3ms before the fake handles it, so
	// reads and writes of the four writers interleave. The verify delay must
	// exceed how long a writer's read can precede its write landing (GitHub
	// has no conditional update); 150ms leaves room for a loaded CI machine
	// running the race detector.
	srv.SetHook(func(fakegithub.Request) { time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond) })
	stacks := []string{"dev", "prod", "qa", "staging"}
	const rounds = 4
	for round := range rounds {
		pr := 100 + round
		srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: pr, HeadRepo: "o/r", HeadSHA: shaA})
		var wg sync.WaitGroup
		errs := make([]error, len(stacks))
		for i, stack := range stacks {
			// One client per writer, as separate jobs would have; real time,
			// since the race is about real interleaving.
			c := newClient(t, srv, github.RealClock, github.WithWriteBounds(50*time.Millisecond, 100*time.Millisecond),
				github.WithUpsertAttempts(8), github.WithJitter(rand.Float64))
			wg.Go(func() {
				_, errs[i] = c.UpsertSection(context.Background(), owner, repo, pr,
					github.Section{Stack: stack, Body: fmt.Sprintf("%s body, round %d", stack, round), SHA: shaA})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, %s: %v", round, stacks[i], err)
			}
		}
		m := marked(srv, pr)
		if len(m) != 1 {
			t.Fatalf("round %d: %d sticky comments, want 1", round, len(m))
		}
		secs := sectionsOf(t, m[0].Body)
		for _, stack := range stacks {
			if want := fmt.Sprintf("%s body, round %d", stack, round); secs[stack].Body != want {
				t.Errorf("round %d: %s = %q, want %q", round, stack, secs[stack].Body, want)
			}
		}
		if len(secs) != len(stacks) {
			t.Errorf("round %d: %d sections", round, len(secs))
		}
	}
	var deletes, patches, posts int
	for _, r := range srv.Requests() {
		switch r.Method {
		case "DELETE":
			deletes++
		case "PATCH":
			patches++
		case "POST":
			posts++
		}
	}
	t.Logf("%d rounds: %d POST, %d PATCH, %d DELETE of duplicates", rounds, posts, patches, deletes)
}
