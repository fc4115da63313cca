package github_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/test/fakeclock"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is a fake GitHub with a pull request o/r#1 and a client for it whose
// clock is shared with the server.
type env struct {
	srv   *fakegithub.Server
	clock *fakeclock.Clock
	gh    *github.Client
}

const (
	owner = "o"
	repo  = "r"
	prNum = 1
	shaA  = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaB  = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func newEnv(t *testing.T, serverOpts []fakegithub.Option, opts ...github.Option) *env {
	t.Helper()
	clock := fakeclock.New()
	srv := fakegithub.New(t, append([]fakegithub.Option{fakegithub.WithClock(clock.Now)}, serverOpts...)...)
	srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: "o/r", HeadRef: "feature", HeadSHA: shaA})
	c := newClient(t, srv, clock, opts...)
	t.Cleanup(func() {
		for _, r := range srv.Unexpected() {
			t.Errorf("unexpected call: %s %s", r.Method, r.Path)
		}
	})
	return &env{srv: srv, clock: clock, gh: c}
}

func newClient(t *testing.T, srv *fakegithub.Server, clock github.Clock, opts ...github.Option) *github.Client {
	t.Helper()
	base := []github.Option{
		github.WithClock(clock),
		github.WithLogger(quiet),
		github.WithJitter(func() float64 { return 0.5 }),
		github.WithBaseTransport(srv.Client().Transport),
	}
	c, err := github.New(fakegithub.DefaultToken, srv.URL(), append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// count counts logged requests by method and route.
func count(srv *fakegithub.Server, method, route string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == method && (route == "" || r.Route == route) {
			n++
		}
	}
	return n
}

func statuses(srv *fakegithub.Server) []int {
	var s []int
	for _, r := range srv.Requests() {
		s = append(s, r.Status)
	}
	return s
}
