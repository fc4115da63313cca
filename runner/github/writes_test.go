package github_test

// How a write of the sticky comment behaves when GitHub fails it, rate
// limits it or is slow, and what a job for an old commit may change.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

func isPatch(r fakegithub.Request) bool { return r.Method == http.MethodPatch }

// otherWriterAfter makes another writer add a section right after the
// first request match accepts: what a retry must not overwrite.
func otherWriterAfter(e *env, id int64, match func(fakegithub.Request) bool) {
	done := false
	e.srv.SetHook(func(r fakegithub.Request) {
		if done || !match(r) {
			return
		}
		done = true
		cur, _ := e.srv.Comment(id)
		_, secs, _ := github.Parse(cur.Body)
		e.srv.EditComment(id, github.Compose(header, append(secs, github.Section{Stack: "qa", Body: "qa, written meanwhile"}), 0))
	})
}

// A failed write is never replayed: the retry reads the comment again and
// composes a new body, so what another writer added meanwhile stays.
func TestFailedWriteIsComposedAgain(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		inject   func(e *env)
		minSleep time.Duration
	}{
		{"5xx", func(e *env) {
			e.srv.InjectFault(fakegithub.Fault{Status: http.StatusBadGateway, Body: `{"message":"Server Error"}`, Match: isPatch})
		}, 0},
		{"secondary rate limit", func(e *env) {
			e.srv.InjectFault(fakegithub.Fault{Status: http.StatusForbidden, Header: http.Header{"Retry-After": {"60"}},
				Body: `{"message":"` + fakegithub.SecondaryRateLimitMessage + `"}`, Match: isPatch})
		}, time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			c0 := e.srv.SeedComment(owner, repo, prNum, fakegithub.DefaultLogin,
				github.Compose(header, []github.Section{{Stack: "prod", Body: "prod v1"}}, 0))
			tt.inject(e)
			otherWriterAfter(e, c0.ID, isPatch) // lands with the failed write
			start := e.clock.Now()
			if _, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: "dev", Body: "dev v1"}); err != nil {
				t.Fatal(err)
			}
			got, _ := e.srv.Comment(c0.ID)
			secs := sectionsOf(t, got.Body)
			for stack, want := range map[string]string{"dev": "dev v1", "prod": "prod v1", "qa": "qa, written meanwhile"} {
				if secs[stack].Body != want {
					t.Errorf("%s = %q, want %q:\n%s", stack, secs[stack].Body, want, got.Body)
				}
			}
			var bodies []string
			for _, r := range e.srv.Requests() {
				if r.Method == http.MethodPatch {
					bodies = append(bodies, r.Body)
				}
			}
			if len(bodies) != 2 || bodies[0] == bodies[1] {
				t.Errorf("PATCH bodies %d, equal=%v: want 2, the second composed anew", len(bodies), len(bodies) == 2 && bodies[0] == bodies[1])
			}
			if waited := e.clock.Now().Sub(start); waited < tt.minSleep {
				t.Errorf("waited %s, want at least %s (GitHub's Retry-After)", waited, tt.minSleep)
			}
		})
	}
}

// A write whose read got older than the freshness bound (here: the pull
// request lookup between them retried for 5 s) is not sent; the comment is
// read again.
func TestStaleWriteIsNotSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c0 := e.srv.SeedComment(owner, repo, prNum, fakegithub.DefaultLogin,
		github.Compose(header, []github.Section{{Stack: "prod", Body: "prod v1"}}, 0))
	e.srv.InjectFault(fakegithub.Fault{Status: http.StatusBadGateway, Body: `{"message":"Server Error"}`, Times: 3,
		Match: func(r fakegithub.Request) bool { return r.Route == "" && strings.Contains(r.Path, "/pulls/") }})
	otherWriterAfter(e, c0.ID, func(r fakegithub.Request) bool { return strings.Contains(r.Path, "/pulls/") })
	if _, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: "dev", Body: "dev v1", SHA: shaA}); err != nil {
		t.Fatal(err)
	}
	if n := count(e.srv, http.MethodPatch, ""); n != 1 {
		t.Errorf("%d PATCHes, want 1: the stale body is never sent", n)
	}
	got, _ := e.srv.Comment(c0.ID)
	if secs := sectionsOf(t, got.Body); secs["qa"].Body == "" || secs["dev"].Body != "dev v1" {
		t.Errorf("comment lost a section:\n%s", got.Body)
	}
}

// Retries and rate limit waits stop at the budget with ErrBudget, saying so.
func TestBudgetBoundsAllCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, github.WithBudget(2*time.Minute))
	e.srv.ExhaustRateLimit(e.clock.Now().Add(time.Hour))
	start := e.clock.Now()
	_, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: "dev", Body: "d"})
	if !errors.Is(err, github.ErrBudget) {
		t.Fatalf("err = %v, want ErrBudget", err)
	}
	if !strings.Contains(err.Error(), "2m0s for the whole run") {
		t.Errorf("error does not name the budget: %v", err)
	}
	if spent := e.clock.Now().Sub(start); spent > 2*time.Minute {
		t.Errorf("spent %s, over the 2m budget", spent)
	}

	// Many short failures add up the same way.
	e2 := newEnv(t, nil, github.WithBudget(30*time.Second))
	e2.srv.InjectServerErrors(1000, http.StatusBadGateway)
	start = e2.clock.Now()
	_, err = e2.gh.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: "dev", Body: "d"})
	if !errors.Is(err, github.ErrBudget) {
		t.Fatalf("err = %v, want ErrBudget", err)
	}
	if spent := e2.clock.Now().Sub(start); spent > 30*time.Second {
		t.Errorf("spent %s, over the 30s budget", spent)
	}
}

// A job for an old commit whose pull request lookup fails changes no label
// and no other commit's section; a late job for an old commit keeps a
// newer commit's note and sections.
func TestOldCommitJobs(t *testing.T) {
	t.Parallel()
	const note = "no-stacks"
	pullsFail := func(e *env) {
		e.srv.InjectFault(fakegithub.Fault{Status: http.StatusNotFound, Body: `{"message":"Not Found"}`, Times: 1000,
			Match: func(r fakegithub.Request) bool { return strings.Contains(r.Path, "/pulls/") }})
	}
	tests := []struct {
		name     string
		head     string
		seed     []github.Section
		write    github.Section
		lookup   func(e *env)
		want     map[string]string // stack → body
		wantSkip bool
	}{
		{
			name:   "lookup failed: the head's section keeps its label",
			head:   shaB,
			seed:   []github.Section{{Stack: "dev", SHA: shaB, Body: "dev@B"}},
			write:  github.Section{Stack: "prod", SHA: shaA, Body: "prod@A"},
			lookup: pullsFail,
			want:   map[string]string{"dev": "dev@B", "prod": "prod@A"},
		},
		{
			name:     "lookup failed: another commit's section of the stack stays",
			head:     shaB,
			seed:     []github.Section{{Stack: "dev", SHA: shaB, Body: "dev@B"}},
			write:    github.Section{Stack: "dev", SHA: shaA, Body: "dev@A"},
			lookup:   pullsFail,
			want:     map[string]string{"dev": "dev@B"},
			wantSkip: true,
		},
		{
			name:     "a late note of an old commit beside the head's sections",
			head:     shaB,
			seed:     []github.Section{{Stack: "dev", SHA: shaB, Body: "dev@B"}},
			write:    github.Section{Stack: note, SHA: shaA, Body: "nothing affected at A", Note: true},
			want:     map[string]string{"dev": "dev@B"},
			wantSkip: true,
		},
		{
			name:  "a late section of an old commit keeps the head's note",
			head:  shaB,
			seed:  []github.Section{{Stack: note, SHA: shaB, Body: "nothing affected at B"}},
			write: github.Section{Stack: "dev", SHA: shaA, Body: "dev@A", Replaces: []string{note}},
			want:  map[string]string{note: "nothing affected at B", "dev": "dev@A"},
		},
		{
			name:  "the head's section replaces an old note",
			head:  shaB,
			seed:  []github.Section{{Stack: note, SHA: shaA, Body: "nothing affected at A"}},
			write: github.Section{Stack: "dev", SHA: shaB, Body: "dev@B", Replaces: []string{note}},
			want:  map[string]string{"dev": "dev@B"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: "o/r", HeadRef: "feature", HeadSHA: tt.head})
			c0 := e.srv.SeedComment(owner, repo, prNum, fakegithub.DefaultLogin, github.Compose(header, tt.seed, 0))
			if tt.lookup != nil {
				tt.lookup(e)
			}
			c, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, tt.write)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(c.Superseded) > 0; got != tt.wantSkip {
				t.Errorf("superseded %v, want skipped=%v", c.Superseded, tt.wantSkip)
			}
			got, _ := e.srv.Comment(c0.ID)
			secs := sectionsOf(t, got.Body)
			if len(secs) != len(tt.want) {
				t.Errorf("sections %d, want %d:\n%s", len(secs), len(tt.want), got.Body)
			}
			for stack, body := range tt.want {
				s := secs[stack]
				if s.Body != body {
					t.Errorf("%s = %q, want %q:\n%s", stack, s.Body, body, got.Body)
				}
				if s.SHA == shaB && s.SupersededBy != "" {
					t.Errorf("%s, the head's section, is labelled outdated:\n%s", stack, got.Body)
				}
			}
		})
	}
}
