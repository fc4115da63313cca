// Package github is konductor's GitHub side: the files a pull request
// changes, its head and base (to tell a fork), the one sticky comment per
// pull request that holds a section per stack, and one issue per drifted
// stack (issues.go). It goes through go-github with a retrying transport
// that waits out GitHub's rate limits within bounds.
//
// # Whose comment is the sticky comment
//
// Anyone who can comment can write a comment that starts with CommentMarker,
// so the marker alone does not make a comment konductor's. UpsertSection
// adopts only a comment written by the account its token writes as, and
// leaves every other one alone: never edited, never deleted, never read into
// the sticky comment; a warning names it once. That account is
// github-actions[bot] for GITHUB_TOKEN, <app-slug>[bot] for a GitHub App
// installation token, and the user for a personal access token. The client
// learns it, first match wins:
//
//  1. the author GitHub gives a comment this client created: that is the
//     token's account beyond doubt, so it overrides the others (with a
//     warning if they differ);
//  2. WithCommentAuthor, when set;
//  3. asked of GitHub once, and only when a comment with the marker exists
//     (a first run that finds none asks nothing): the GraphQL query
//     "viewer { login }", which answers for all three kinds of token in one
//     request, then GET /user, for when GraphQL is unavailable. GET /user is
//     not first because it answers 403 to installation tokens, GITHUB_TOKEN
//     included, which would waste a request on most runs.
//
// When none of them tells, the client does not guess (assuming
// github-actions[bot] after a 403 would adopt that account's comment under a
// GitHub App's token): it creates its comment, takes its author from GitHub's
// answer, and if that account has an older marked comment it deletes the one
// it just created and writes into the older one. That costs one short-lived
// comment, never a stranger's comment. Writers sharing the token's account
// (another workflow of the repository using GITHUB_TOKEN) cannot be told
// apart from konductor; they hold the same write access already.
//
// # Concurrent writers
//
// Several jobs write one comment at once (a matrix of stacks, and a job of
// an older commit still reporting), and GitHub has no conditional update
// for comments. The protocol keeps every writer's sections anyway; it rests
// on two bounds every writer keeps, F (freshness, 3 s) and T (in flight,
// 15 s), and on writers changing only their own sections:
//
//  1. A write is composed from a read of the comment and sent within F of
//     that read, or not at all (the transport checks the send-by time just
//     before sending). It is sent once: a 5xx, a time-out or a rate limit
//     makes the writer read and compose again, never replay an old body.
//  2. A write lands within T of being sent, or never: GitHub ends a request
//     after 10 s of work, and the client gives up on a write after T.
//  3. A writer composes the comment it read plus its own sections; it never
//     removes or puts back another writer's section (except a "no stacks
//     affected" note of the same or an older commit, which it replaces),
//     and never replaces a section of the pull request's head commit with
//     one of an older commit.
//  4. To settle, a writer waits until F+T after its last write ended, reads
//     the comment, and is done if its sections are there as it wrote them
//     (or replaced by the head commit's); otherwise it writes again (1) and
//     settles again.
//
// Why no section is lost: let W's last write land at t1, and W's settling
// read at tv >= t1+F+T find W's section S. Only W writes S, so S was there
// from t1 to tv (had a write removed it, nobody would have put it back). A
// write landing after tv was sent after tv-T >= t1+F, so it was composed
// from a read after t1 (1, 2), which held S; by (3) it keeps S. By
// induction every later state holds S, until the head commit's writer
// replaces it. A run that writes several sections (one job, many stacks)
// writes them as each stack finishes and settles once at the end; writes
// that were not settled can be undone only within F+T, and the final
// settle repairs them.
//
// interleave_test.go checks this by exploring the orders in which the
// writes of 2 to 4 writers reach GitHub, land and are answered, with 5xx
// and rate limits, against the fake GitHub; it also shows that settling
// before F+T loses sections.
package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// issuesAPI is the part of go-github's IssuesService that Client calls.
type issuesAPI interface {
	ListComments(ctx context.Context, owner, repo string, number int, opts *gh.IssueListCommentsOptions) ([]*gh.IssueComment, *gh.Response, error)
	GetComment(ctx context.Context, owner, repo string, id int64) (*gh.IssueComment, *gh.Response, error)
	CreateComment(ctx context.Context, owner, repo string, number int, c *gh.IssueComment) (*gh.IssueComment, *gh.Response, error)
	EditComment(ctx context.Context, owner, repo string, id int64, c *gh.IssueComment) (*gh.IssueComment, *gh.Response, error)
	DeleteComment(ctx context.Context, owner, repo string, id int64) (*gh.Response, error)
	// The drift issues (issues.go).
	ListByRepo(ctx context.Context, owner, repo string, opts *gh.IssueListByRepoOptions) ([]*gh.Issue, *gh.Response, error)
	Create(ctx context.Context, owner, repo string, issue *gh.IssueRequest) (*gh.Issue, *gh.Response, error)
	Edit(ctx context.Context, owner, repo string, number int, issue *gh.IssueRequest) (*gh.Issue, *gh.Response, error)
	GetLabel(ctx context.Context, owner, repo, name string) (*gh.Label, *gh.Response, error)
	CreateLabel(ctx context.Context, owner, repo string, label *gh.Label) (*gh.Label, *gh.Response, error)
}

// pullRequestsAPI is the part of go-github's PullRequestsService that Client
// calls.
type pullRequestsAPI interface {
	Get(ctx context.Context, owner, repo string, number int) (*gh.PullRequest, *gh.Response, error)
	ListFiles(ctx context.Context, owner, repo string, number int, opts *gh.ListOptions) ([]*gh.CommitFile, *gh.Response, error)
	ListPullRequestsWithCommit(ctx context.Context, owner, repo, sha string, opts *gh.ListOptions) ([]*gh.PullRequest, *gh.Response, error)
	// Policy overrides (overrides.go).
	ListReviews(ctx context.Context, owner, repo string, number int, opts *gh.ListOptions) ([]*gh.PullRequestReview, *gh.Response, error)
}

var (
	_ issuesAPI       = (*gh.IssuesService)(nil)
	_ pullRequestsAPI = (*gh.PullRequestsService)(nil)
)

// DefaultAPIURL is GitHub.com's API; GitHub Enterprise Server's is
// https://HOST/api/v3 (what GITHUB_API_URL holds in a workflow).
const DefaultAPIURL = "https://api.github.com"

// Sticky comment defaults (see "Concurrent writers" above).
const (
	DefaultUpsertAttempts = 8
	// DefaultFreshness is the longest a write may wait after the read it
	// was composed from; past it the comment is read again.
	DefaultFreshness = 3 * time.Second
	// DefaultInFlight bounds how long after being sent a write can still
	// land: GitHub ends a request it has worked on for 10 seconds
	// ("Timeouts" in the REST API's best practices), plus 5 s of network.
	// Writes time out after it.
	DefaultInFlight = 15 * time.Second
	// DefaultBudget bounds the time a client spends in GitHub calls and
	// their waits, in total: retries and rate limits never hold a run for
	// tens of minutes.
	DefaultBudget = 5 * time.Minute
)

// ErrTooManyFiles is returned with the files listed when a pull request
// changes more files than GitHub lists (3000).
var ErrTooManyFiles = errors.New("github: the pull request changes more files than GitHub lists")

// Client talks to GitHub. It is safe for concurrent use.
type Client struct {
	issues         issuesAPI
	pulls          pullRequestsAPI
	api            *gh.Client // for the identity lookups (author.go)
	graphqlURL     string
	clock          Clock
	log            *slog.Logger
	header         string
	limit          int
	upsertAttempts int
	fresh          time.Duration
	inFlight       time.Duration
	jitter         func() float64
	budget         *budget

	self    identity
	threads sync.Map // "owner/repo#pr" → *thread
	ignored sync.Map // ids of marked comments of others already warned about
	teams   sync.Map // "org/team/login" → InTeam's answer (overrides.go)
}

type options struct {
	transport      Transport
	userAgent      string
	header         string
	limit          int
	upsertAttempts int
	fresh          time.Duration
	inFlight       time.Duration
	budget         time.Duration
	author         string
}

// Option configures New.
type Option func(*options)

// WithBaseTransport sets the transport under the retrying one.
func WithBaseTransport(rt http.RoundTripper) Option {
	return func(o *options) { o.transport.Base = rt }
}

// WithClock sets the clock for retries, rate limit waits and the sticky
// comment's verification delay.
func WithClock(c Clock) Option { return func(o *options) { o.transport.Clock = c } }

// WithLogger sets the logger (slog.Default() otherwise).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.transport.Logger = l } }

// WithTimeout sets the timeout of each HTTP attempt (DefaultAttemptTimeout).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.transport.AttemptTimeout = d } }

// WithMaxAttempts bounds the attempts per HTTP request (DefaultMaxAttempts).
func WithMaxAttempts(n int) Option { return func(o *options) { o.transport.MaxAttempts = n } }

// WithBackoff sets the first and the longest backoff between attempts.
func WithBackoff(base, maxDelay time.Duration) Option {
	return func(o *options) { o.transport.BaseDelay, o.transport.MaxDelay = base, maxDelay }
}

// WithMaxWait bounds a single rate limit wait (DefaultMaxWait); a longer one
// fails with *RateLimitError.
func WithMaxWait(d time.Duration) Option { return func(o *options) { o.transport.MaxWait = d } }

// WithSecondaryWait sets the wait after a secondary rate limit that names no
// time (DefaultSecondaryWait).
func WithSecondaryWait(d time.Duration) Option {
	return func(o *options) { o.transport.SecondaryWait = d }
}

// WithJitter sets the source of jitter, a function returning [0, 1).
func WithJitter(f func() float64) Option { return func(o *options) { o.transport.Jitter = f } }

// WithUserAgent sets the User-Agent.
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// WithHeader sets the heading of the sticky comment (DefaultHeader).
func WithHeader(h string) Option { return func(o *options) { o.header = h } }

// WithBodyLimit sets the comment size limit in characters (MaxBodyLength).
func WithBodyLimit(n int) Option { return func(o *options) { o.limit = n } }

// WithUpsertAttempts bounds how often an upsert starts over after a failed
// write or a race lost to another writer (DefaultUpsertAttempts).
func WithUpsertAttempts(n int) Option { return func(o *options) { o.upsertAttempts = n } }

// WithWriteBounds sets the sticky comment's write bounds: the longest a
// write may wait after its read (DefaultFreshness), and the longest a sent
// write can take to land (DefaultInFlight), which is also a write's
// time-out. Every writer of a comment must use the same bounds or longer
// ones: settling waits their sum.
func WithWriteBounds(fresh, inFlight time.Duration) Option {
	return func(o *options) { o.fresh, o.inFlight = fresh, inFlight }
}

// WithBudget bounds the total time spent in GitHub calls, retries and
// waits included (DefaultBudget); once spent, calls fail with ErrBudget.
func WithBudget(d time.Duration) Option { return func(o *options) { o.budget = d } }

// WithCommentAuthor sets the login of the account the token writes comments
// as (github-actions[bot] for GITHUB_TOKEN, <app-slug>[bot] for a GitHub
// App, the user for a personal access token), so the client need not ask
// GitHub. Only that account's marked comments are adopted; see the package
// documentation. The author of a comment the client creates still wins.
func WithCommentAuthor(login string) Option {
	return func(o *options) { o.author = strings.TrimSpace(login) }
}

// New returns a Client for token against apiURL (GITHUB_API_URL; GitHub.com
// when empty). The URL is used as given: https://api.github.com or a GitHub
// Enterprise Server's https://HOST/api/v3.
func New(token, apiURL string, opts ...Option) (*Client, error) {
	if token == "" {
		return nil, errors.New("github: no token (set the github-token input or GITHUB_TOKEN)")
	}
	o := options{
		userAgent:      "konductor-action",
		header:         DefaultHeader,
		limit:          MaxBodyLength,
		upsertAttempts: DefaultUpsertAttempts,
		fresh:          DefaultFreshness,
		inFlight:       DefaultInFlight,
		budget:         DefaultBudget,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	base, err := url.Parse(apiURL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("github: invalid API URL %q", apiURL)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
	}
	transport := o.transport
	transport.budget = &budget{limit: o.budget}
	transport.writeTimeout = o.inFlight
	c := gh.NewClient(&http.Client{Transport: &transport}).WithAuthToken(token)
	// Set the URL directly: WithEnterpriseURLs would append /api/v3/ to any
	// host not named api.*, which breaks proxies and test servers.
	c.BaseURL = base
	// GraphQL is beside the REST API: https://api.github.com/graphql, and
	// https://HOST/api/graphql on GitHub Enterprise Server.
	graphql := *base
	graphql.Path = base.Path + "graphql"
	if strings.HasSuffix(base.Path, "/api/v3/") {
		upload := *base
		upload.Path = strings.TrimSuffix(base.Path, "v3/") + "uploads/"
		c.UploadURL = &upload
		graphql.Path = strings.TrimSuffix(base.Path, "v3/") + "graphql"
	}
	c.UserAgent = o.userAgent
	cl := &Client{
		issues:         c.Issues,
		pulls:          c.PullRequests,
		api:            c,
		graphqlURL:     graphql.String(),
		clock:          transport.clock(),
		log:            transport.logger(),
		header:         o.header,
		limit:          o.limit,
		upsertAttempts: max(1, o.upsertAttempts),
		fresh:          o.fresh,
		inFlight:       o.inFlight,
		jitter:         transport.Jitter,
		budget:         transport.budget,
	}
	if o.author != "" {
		cl.self.login, cl.self.from = o.author, "configured"
	}
	return cl, nil
}

// PullRequest is what konductor needs of a pull request.
type PullRequest struct {
	Number int
	// HeadRepo and BaseRepo are "owner/name"; HeadRepo is empty when the
	// head repository (a fork) was deleted.
	HeadRepo, BaseRepo string
	HeadRef, BaseRef   string
	HeadSHA, BaseSHA   string
	// ChangedFiles is how many files the pull request changes.
	ChangedFiles int
	// Merged and MergeCommitSHA say whether and by which commit it merged.
	Merged         bool
	MergeCommitSHA string
}

// IsFork reports whether the head is in another repository than the base
// (or in a deleted one), where the workflow's token is read-only and secrets
// are withheld.
func (p *PullRequest) IsFork() bool { return !strings.EqualFold(p.HeadRepo, p.BaseRepo) }

// PullRequest fetches a pull request's head and base.
func (c *Client) PullRequest(ctx context.Context, owner, repo string, pr int) (*PullRequest, error) {
	p, _, err := c.pulls.Get(ctx, owner, repo, pr)
	if err != nil {
		return nil, fmt.Errorf("github: get pull request %s/%s#%d: %w", owner, repo, pr, err)
	}
	return pullRequestOf(p), nil
}

func pullRequestOf(p *gh.PullRequest) *PullRequest {
	return &PullRequest{
		Number:         p.GetNumber(),
		HeadRepo:       p.GetHead().GetRepo().GetFullName(),
		BaseRepo:       p.GetBase().GetRepo().GetFullName(),
		HeadRef:        p.GetHead().GetRef(),
		BaseRef:        p.GetBase().GetRef(),
		HeadSHA:        p.GetHead().GetSHA(),
		BaseSHA:        p.GetBase().GetSHA(),
		ChangedFiles:   p.GetChangedFiles(),
		Merged:         p.GetMerged() || p.MergedAt != nil,
		MergeCommitSHA: p.GetMergeCommitSHA(),
	}
}

// MergedPullRequest finds the merged pull request a pushed commit came
// from (GitHub associates a merge, squash or rebase merge commit with its
// pull request), preferring the one whose merge commit it is. Nil when
// there is none: a direct push.
func (c *Client) MergedPullRequest(ctx context.Context, owner, repo, sha string) (*PullRequest, error) {
	prs, _, err := c.pulls.ListPullRequestsWithCommit(ctx, owner, repo, sha, &gh.ListOptions{PerPage: 100})
	if err != nil {
		return nil, fmt.Errorf("github: pull requests of commit %s in %s/%s: %w", sha, owner, repo, err)
	}
	var found *PullRequest
	for _, p := range prs {
		pr := pullRequestOf(p)
		switch {
		case !pr.Merged:
		case SameCommit(pr.MergeCommitSHA, sha):
			return pr, nil
		case found == nil:
			found = pr
		}
	}
	return found, nil
}

// Sections reads the sections of a pull request's sticky comment (the
// oldest marked comment the token's account wrote); none when it has none.
func (c *Client) Sections(ctx context.Context, owner, repo string, pr int) ([]Section, error) {
	w := &writer{c: c, t: c.thread(owner, repo, pr), owner: owner, repo: repo, pr: pr, skipped: map[int64]bool{}}
	cm, err := w.list(ctx)
	if err != nil || cm == nil {
		return nil, err
	}
	_, secs, _ := Parse(cm.GetBody())
	return secs, nil
}

// ChangedFiles lists the paths a pull request changes, every page; a renamed
// file contributes its old path too. GitHub lists at most 3000 files: past
// that the paths listed are returned with an error wrapping ErrTooManyFiles,
// and the caller should treat every stack as affected.
func (c *Client) ChangedFiles(ctx context.Context, owner, repo string, pr int) ([]string, error) {
	var paths []string
	seen := map[string]bool{}
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	files := 0
	opts := &gh.ListOptions{PerPage: 100}
	for {
		page, resp, err := c.pulls.ListFiles(ctx, owner, repo, pr, opts)
		if err != nil {
			return nil, fmt.Errorf("github: list files of %s/%s#%d (page %d): %w", owner, repo, pr, max(opts.Page, 1), err)
		}
		for _, f := range page {
			files++
			add(f.GetFilename())
			add(f.GetPreviousFilename())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if files >= 3000 {
		p, err := c.PullRequest(ctx, owner, repo, pr)
		if err != nil {
			return paths, fmt.Errorf("%w (listed %d; could not get the total: %w)", ErrTooManyFiles, files, err)
		}
		if p.ChangedFiles > files {
			return paths, fmt.Errorf("%w: listed %d of %d", ErrTooManyFiles, files, p.ChangedFiles)
		}
	}
	return paths, nil
}

func isNotFound(err error) bool {
	var er *gh.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound
}
