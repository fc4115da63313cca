package github_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/test/fakeclock"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		token, url string
		wantErr    string
	}{
		{"", "https://api.github.com", "no token"},
		{"t", "", ""},
		{"t", "https://api.github.com", ""},
		{"t", "https://ghe.example.com/api/v3", ""},
		{"t", "ftp://x", "invalid API URL"},
		{"t", "::", "invalid API URL"},
	}
	for _, tt := range tests {
		_, err := github.New(tt.token, tt.url)
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("New(%q, %q) error %v, want %q", tt.token, tt.url, err, tt.wantErr)
		}
	}
}

func TestChangedFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		files     int
		wantPages int
		wantErr   error
	}{
		{"none", 0, 1, nil},
		{"one page", 100, 1, nil},
		{"three pages", 250, 3, nil},
		{"exactly the cap", 3000, 30, nil},
		{"past the cap", 3100, 30, github.ErrTooManyFiles},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			var files []fakegithub.File
			var want []string
			for i := range tt.files {
				f := fakegithub.File{Filename: fmt.Sprintf("stacks/f%04d.yaml", i)}
				if i == 5 {
					f.Status, f.PreviousFilename = "renamed", "old/name.yaml"
				}
				files = append(files, f)
				if i < 3000 {
					want = append(want, f.Filename)
					if f.PreviousFilename != "" {
						want = append(want, f.PreviousFilename)
					}
				}
			}
			e.srv.SetPullRequestFiles(owner, repo, prNum, files)
			got, err := e.gh.ChangedFiles(context.Background(), owner, repo, prNum)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %d paths, want %d", len(got), len(want))
			}
			if n := count(e.srv, "GET", "GET pull request files"); n != tt.wantPages {
				t.Errorf("%d pages requested, want %d", n, tt.wantPages)
			}
		})
	}
}

func TestPullRequestForks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		headRepo string
		wantFork bool
	}{
		{"same repository", "o/r", false},
		{"same repository, other case", "O/R", false},
		{"fork", "contributor/r", true},
		{"deleted fork", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			e.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: 2, HeadRepo: tt.headRepo,
				HeadRef: "topic", HeadSHA: shaB, BaseSHA: shaA})
			pr, err := e.gh.PullRequest(context.Background(), owner, repo, 2)
			if err != nil {
				t.Fatal(err)
			}
			want := github.PullRequest{Number: 2, HeadRepo: tt.headRepo, BaseRepo: "o/r", HeadRef: "topic", BaseRef: "main", HeadSHA: shaB, BaseSHA: shaA}
			if *pr != want || pr.IsFork() != tt.wantFork {
				t.Errorf("got %+v fork=%v, want %+v fork=%v", *pr, pr.IsFork(), want, tt.wantFork)
			}
		})
	}
}

func TestEnterpriseBaseURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, []fakegithub.Option{fakegithub.WithEnterprise()})
	// As GITHUB_API_URL holds it on GHES: no trailing slash.
	c := newClient(t, e.srv, e.clock)
	c2, err := github.New(fakegithub.DefaultToken, strings.TrimSuffix(e.srv.URL(), "/"),
		github.WithClock(e.clock), github.WithLogger(quiet), github.WithBaseTransport(e.srv.Client().Transport))
	if err != nil {
		t.Fatal(err)
	}
	e.srv.SetPullRequestFiles(owner, repo, prNum, []fakegithub.File{{Filename: "Pulumi.dev.yaml"}})
	for _, c := range []*github.Client{c, c2} {
		if files, err := c.ChangedFiles(context.Background(), owner, repo, prNum); err != nil || len(files) != 1 {
			t.Fatalf("ChangedFiles = %v, %v", files, err)
		}
		if _, err := c.UpsertSection(context.Background(), owner, repo, prNum, github.Section{Stack: "dev", Body: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	// c2 found c's comment and asked GraphQL who it is: GHES serves
	// GraphQL at /api/graphql, beside /api/v3.
	graphql := 0
	for _, r := range e.srv.Requests() {
		if r.Route == "POST graphql" && r.Path == "/api/graphql" {
			graphql++
		} else if !strings.HasPrefix(r.Path, "/api/v3/repos/") {
			t.Errorf("request outside /api/v3: %s", r.Path)
		}
	}
	if graphql != 1 {
		t.Errorf("%d GraphQL requests at /api/graphql, want 1", graphql)
	}
	if n := len(e.srv.Comments(owner, repo, prNum)); n != 1 {
		t.Errorf("%d comments", n)
	}
}

func TestBadToken(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New()
	srv := fakegithub.New(t, fakegithub.WithClock(clock.Now))
	srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: "o/r"})
	c, err := github.New("wrong", srv.URL(), github.WithClock(clock), github.WithLogger(quiet), github.WithBaseTransport(srv.Client().Transport))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PullRequest(context.Background(), owner, repo, prNum)
	if err == nil || !strings.Contains(err.Error(), "401 Bad credentials") {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests; a 401 must not be retried", n)
	}
}
