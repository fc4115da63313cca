package github_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/test/fakeclock"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  []github.Option
		setup func(e *env)
		// want
		statuses []int
		sleeps   []time.Duration
		errCheck func(t *testing.T, err error)
	}{
		{
			name:     "502 twice then success",
			setup:    func(e *env) { e.srv.InjectServerErrors(2, 502) },
			statuses: []int{502, 502, 200},
			sleeps:   []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond}, // 1s, 2s with half jitter
		},
		{
			name:     "secondary rate limit 403 with Retry-After",
			setup:    func(e *env) { e.srv.InjectSecondaryRateLimit(time.Second) },
			statuses: []int{403, 200},
			sleeps:   []time.Duration{time.Second},
		},
		{
			name:     "429 with Retry-After",
			setup:    func(e *env) { e.srv.InjectTooManyRequests(3 * time.Second) },
			statuses: []int{429, 200},
			sleeps:   []time.Duration{3 * time.Second},
		},
		{
			name:     "secondary rate limit naming no time waits a minute",
			setup:    func(e *env) { e.srv.InjectSecondaryRateLimit(0) },
			statuses: []int{403, 200},
			sleeps:   []time.Duration{time.Minute},
		},
		{
			name:     "primary limit with a short reset is waited out",
			setup:    func(e *env) { e.srv.ExhaustRateLimit(e.clock.Now().Add(30 * time.Second)) },
			statuses: []int{403, 200},
			sleeps:   []time.Duration{31 * time.Second}, // reset + 1s for the header's second granularity
		},
		{
			name:     "primary limit with a long reset fails clearly",
			setup:    func(e *env) { e.srv.ExhaustRateLimit(e.clock.Now().Add(time.Hour)) },
			statuses: []int{403},
			errCheck: func(t *testing.T, err error) {
				var rl *github.RateLimitError
				if !errors.As(err, &rl) || rl.Secondary || rl.Status != 403 {
					t.Fatalf("err = %v, want a primary *RateLimitError", err)
				}
				for _, s := range []string{"primary rate limit exhausted", "GET ", "/repos/o/r/pulls/1", "in 1h0m1s", "longer than the maximum wait of 5m0s"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
			},
		},
		{
			name:     "secondary limit longer than the max wait fails",
			opts:     []github.Option{github.WithMaxWait(10 * time.Second)},
			setup:    func(e *env) { e.srv.InjectTooManyRequests(time.Minute) },
			statuses: []int{429},
			errCheck: func(t *testing.T, err error) {
				var rl *github.RateLimitError
				if !errors.As(err, &rl) || !rl.Secondary || rl.Wait != time.Minute {
					t.Fatalf("err = %v, want a secondary *RateLimitError of 1m", err)
				}
			},
		},
		{
			name:     "attempts are bounded",
			opts:     []github.Option{github.WithMaxAttempts(3)},
			setup:    func(e *env) { e.srv.InjectServerErrors(10, 503) },
			statuses: []int{503, 503, 503},
			sleeps:   []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond},
			errCheck: func(t *testing.T, err error) {
				var er *gh.ErrorResponse
				if !errors.As(err, &er) || er.Response.StatusCode != 503 {
					t.Fatalf("err = %v, want go-github's 503 ErrorResponse", err)
				}
			},
		},
		{
			name:     "backoff is capped",
			opts:     []github.Option{github.WithMaxAttempts(6), github.WithBackoff(time.Second, 4*time.Second)},
			setup:    func(e *env) { e.srv.InjectServerErrors(5, 500) },
			statuses: []int{500, 500, 500, 500, 500, 200},
			sleeps:   []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 3 * time.Second, 3 * time.Second},
		},
		{
			name: "a permission 403 is not retried",
			setup: func(e *env) {
				e.srv.InjectFault(fakegithub.Fault{Status: 403, Body: `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest"}`})
			},
			statuses: []int{403},
			errCheck: func(t *testing.T, err error) {
				var er *gh.ErrorResponse
				if !errors.As(err, &er) || !strings.Contains(er.Message, "not accessible") {
					t.Fatalf("err = %v", err)
				}
			},
		},
		{
			name:     "a 404 is not retried",
			setup:    func(e *env) { e.srv.InjectFault(fakegithub.Fault{Status: 404, Body: `{"message":"Not Found"}`}) },
			statuses: []int{404},
			errCheck: func(t *testing.T, err error) {
				if err == nil {
					t.Fatal("no error")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil, tt.opts...)
			tt.setup(e)
			pr, err := e.gh.PullRequest(context.Background(), owner, repo, prNum)
			if tt.errCheck != nil {
				tt.errCheck(t, err)
			} else if err != nil || pr.HeadSHA != shaA {
				t.Fatalf("PullRequest = %+v, %v", pr, err)
			}
			if got := statuses(e.srv); !slices.Equal(got, tt.statuses) {
				t.Errorf("statuses %v, want %v", got, tt.statuses)
			}
			if got := e.clock.Sleeps(); !slices.Equal(got, tt.sleeps) {
				t.Errorf("sleeps %v, want %v", got, tt.sleeps)
			}
		})
	}
}

func TestRetryReplaysBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.srv.InjectFault(fakegithub.Fault{Status: 502, Times: 2, Match: func(r fakegithub.Request) bool { return r.Method == "POST" }})
	c, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: "dev", Body: "hello"})
	if err != nil || !c.Created {
		t.Fatalf("UpsertSection = %+v, %v", c, err)
	}
	var bodies []string
	for _, r := range e.srv.Requests() {
		if r.Method == "POST" {
			bodies = append(bodies, r.Body)
		}
	}
	if len(bodies) != 3 || bodies[0] == "" || bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Errorf("POST bodies %q", bodies)
	}
	if n := len(e.srv.Comments(owner, repo, prNum)); n != 1 {
		t.Errorf("%d comments", n)
	}
}

func TestTransportBufferedBodyAndTimeout(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New()
	srv := fakegithub.New(t, fakegithub.WithClock(clock.Now))
	srv.AddIssue(owner, repo, prNum)
	tr := &github.Transport{Base: srv.Client().Transport, Clock: clock, Logger: quiet}
	client := &http.Client{Transport: tr}

	// A body without GetBody is buffered so it can be sent again.
	srv.InjectServerErrors(1, 502)
	req, _ := http.NewRequest("POST", srv.URL()+"repos/o/r/issues/1/comments", io.NopCloser(strings.NewReader(`{"body":"x"}`)))
	req.GetBody = nil
	req.Header.Set("Authorization", "token "+fakegithub.DefaultToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("status %d", resp.StatusCode)
	}

	// An attempt that outlives its timeout is retried (GET is idempotent).
	tr.AttemptTimeout = 250 * time.Millisecond
	var n atomic.Int32
	srv.SetHook(func(r fakegithub.Request) {
		if n.Add(1) == 1 {
			time.Sleep(time.Second)
		}
	})
	req, _ = http.NewRequest("GET", srv.URL()+"repos/o/r/issues/1/comments", nil)
	req.Header.Set("Authorization", "Bearer "+fakegithub.DefaultToken)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"body":"x"`) {
		t.Errorf("after a timed-out attempt: %d %s", resp.StatusCode, b)
	}
	if n.Load() < 2 {
		t.Errorf("%d attempts, want 2 or more", n.Load())
	}
}

func TestRateLimitWaitBeyondDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.srv.InjectSecondaryRateLimit(2 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := e.gh.PullRequest(ctx, owner, repo, prNum)
	var rl *github.RateLimitError
	if !errors.As(err, &rl) || rl.Deadline.IsZero() || !strings.Contains(err.Error(), "after the request's deadline") {
		t.Fatalf("err = %v", err)
	}
	if len(e.clock.Sleeps()) != 0 {
		t.Errorf("slept %v", e.clock.Sleeps())
	}
}

// go-github v62 remembers X-RateLimit-Remaining: 0 from a successful
// response and fails the next call itself, before the transport, while the
// reset is ahead by the wall clock. The transport cannot wait that out; the
// caller gets go-github's *RateLimitError ("not making remote request").
func TestGoGithubRemembersExhaustedLimit(t *testing.T) {
	t.Parallel()
	srv := fakegithub.New(t, fakegithub.WithRateLimit(1)) // wall clock
	srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: "o/r"})
	c := newClient(t, srv, fakeclock.New())
	if _, err := c.PullRequest(context.Background(), owner, repo, prNum); err != nil {
		t.Fatal(err)
	}
	_, err := c.PullRequest(context.Background(), owner, repo, prNum)
	var rl *gh.RateLimitError
	if !errors.As(err, &rl) || !strings.Contains(err.Error(), "not making remote request") {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests reached the server, want 1", n)
	}
}
