package fakegithub

import (
	"net/http"
	"net/url"
	"time"
)

// Comment is an issue (or pull request) comment as the fake stores it.
type Comment struct {
	ID        int64
	Owner     string
	Repo      string
	Issue     int
	Login     string // author
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PullRequest seeds GET /repos/{owner}/{repo}/pulls/{number}.
type PullRequest struct {
	Owner  string
	Repo   string
	Number int
	State  string // "open" when empty
	Title  string
	// Author is the login that opened it ("octocat" when empty), served
	// as "user".
	Author string

	// HeadRepo and BaseRepo are "owner/name". An empty HeadRepo is served as
	// "repo": null, which is what GitHub returns once a fork was deleted.
	// An empty BaseRepo defaults to Owner/Repo.
	HeadRepo string
	HeadRef  string
	HeadSHA  string
	BaseRepo string
	BaseRef  string // "main" when empty
	BaseSHA  string

	// MergeCommitSHA is the commit merging it (a merge, squash or the last
	// rebased commit) once Merged; Commits are its other commits on the
	// base branch (a rebase merge). GET commits/{sha}/pulls finds the pull
	// request by any of them, or by HeadSHA.
	Merged         bool
	MergeCommitSHA string
	Commits        []string
}

// File is one entry of GET /repos/{owner}/{repo}/pulls/{number}/files.
type File struct {
	Filename         string
	Status           string // "modified" when empty
	PreviousFilename string // for Status "renamed"
	Additions        int
	Deletions        int
}

// Request is one entry of the request log.
type Request struct {
	Method string
	// Path is the URL path as received, including any /api/v3 prefix.
	Path  string
	Query url.Values
	// Header is a copy of the request headers.
	Header http.Header
	Body   string
	// Login is the user the token authenticated as ("" when it did not).
	Login string
	// Status is the status code the fake answered (0 in the hook, which
	// runs before the request is handled).
	Status int
	// Injected is true when Status came from an injected fault, an
	// exhausted rate limit or a failed authentication.
	Injected bool
	// Route names the endpoint matched ("" when none did).
	Route string
}

// Fault is an injected response. It replaces the real handling of the next
// request it matches, Times times (once when Times is 0).
type Fault struct {
	Status int
	Header http.Header
	Body   string
	Times  int
	// Match limits the fault to some requests (every request when nil).
	Match func(Request) bool
}

// Hook runs for every request after it was authenticated and logged and
// before it is handled, outside the server's lock: it may call any method of
// the server (delete or edit a comment, inject a fault) or sleep to reorder
// concurrent requests. Its argument has Status 0.
type Hook func(Request)

// Issue is an issue as the fake stores it. Pull requests are issues on
// GitHub too: the fake lists them among the issues (with "pull_request"
// set, as GitHub does) but keeps their data in PullRequest.
type Issue struct {
	Owner  string
	Repo   string
	Number int
	Title  string
	Body   string
	Login  string // author
	State  string // "open" or "closed"
	// StateReason is "completed", "not_planned" or "reopened" ("" while
	// never closed).
	StateReason string
	Labels      []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    time.Time
}

// Label is a repository's label.
type Label struct {
	Name        string
	Color       string
	Description string
}

// Permission levels of a token for a scope (SetPermission).
const (
	PermissionNone  = "none"
	PermissionRead  = "read"
	PermissionWrite = "write"
)
