// Package fakegithub is a strict in-process fake of the parts of GitHub's REST
// API that konductor uses: issue comments, pull request files and pull
// requests, issues and labels (issues.go), who a token is (GET /user
// and GraphQL's viewer { login }), and pull request reviews, users'
// permissions on a repository and team memberships (reviews.go).
// It answers like GitHub (status codes, error JSON, RFC 5988 Link
// pagination, X-RateLimit-* headers, the 65,536-character comment limit) and
// refuses everything else: a route it does not know is a 404 that the test
// can find in Unexpected.
//
// Each token authenticates as a login, and what the token may do follows
// from it, as on GitHub: a login ending in "[bot]" (DefaultLogin, which
// DefaultToken is, like GITHUB_TOKEN, or a GitHub App's "<slug>[bot]") is an
// installation token: its comments are by a user of type "Bot" and GET /user
// answers 403. Any other login is a person's personal access token: type
// "User", and GET /user answers with the login. A comment's author is the
// token's login, so a test can comment as a person through the API with a
// token added by WithToken or AddToken, or seed one with SeedComment.
//
// Tests drive failure modes through knobs: injected 5xx, secondary rate
// limits (403 and 429 with Retry-After), primary rate limit exhaustion, a
// comment deleted out from under the client, and a per-request hook to
// reorder concurrent requests.
package fakegithub

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

const (
	// DefaultToken is accepted unless WithToken replaces the token set. It
	// is an installation token, as GITHUB_TOKEN is.
	DefaultToken = "fake-github-token"
	// DefaultLogin is the user DefaultToken authenticates as: GITHUB_TOKEN's.
	DefaultLogin = "github-actions[bot]"
	// MaxCommentLength is GitHub's limit on a comment body, in characters
	// (Unicode code points).
	MaxCommentLength = 65536
	// MaxPullRequestFiles is how many files GitHub lists for a pull request
	// at most; files past it are not returned.
	MaxPullRequestFiles = 3000
	// SecondaryRateLimitMessage is the message GitHub sends with a secondary
	// rate limit.
	SecondaryRateLimitMessage = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000."

	firstCommentID = 1_000_000_001
	defaultPerPage = 30
	maxPerPage     = 100
	defaultLimit   = 5000
	docsBase       = "https://docs.github.com/rest"
	secondaryDocs  = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	primaryDocs    = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
	enterprisePath = "/api/v3"
)

// Option configures a Server.
type Option func(*Server)

// WithToken accepts token as the user login (an installation token when login
// ends in "[bot]", a personal access token otherwise). The first WithToken
// replaces DefaultToken; later ones add tokens.
func WithToken(token, login string) Option {
	return func(s *Server) {
		if !s.customTokens {
			s.tokens = map[string]string{}
			s.customTokens = true
		}
		s.tokens[token] = login
	}
}

// WithEnterprise serves the API under /api/v3/, as GitHub Enterprise Server
// does; URL then ends in /api/v3/ and GraphQL is at /api/graphql.
func WithEnterprise() Option { return func(s *Server) { s.prefix = enterprisePath } }

// WithClock sets the server's clock (timestamps, rate limit windows and
// resets), so a test can share one fake clock with the client.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithoutRequestLog keeps no request log (Requests and Unexpected stay
// empty), for tests that make millions of requests.
func WithoutRequestLog() Option { return func(s *Server) { s.noLog = true } }

// WithRateLimit sets the primary rate limit per hour window (5000 by default).
func WithRateLimit(limit int) Option { return func(s *Server) { s.rateLimit = limit } }

type issueKey struct {
	owner, repo string
	number      int
}

func key(owner, repo string, number int) issueKey {
	return issueKey{strings.ToLower(owner), strings.ToLower(repo), number}
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	srv          *httptest.Server
	prefix       string
	now          func() time.Time
	tokens       map[string]string
	customTokens bool

	mu          sync.Mutex
	issues      map[issueKey]bool
	pulls       map[issueKey]PullRequest
	files       map[issueKey][]File
	comments    map[int64]*Comment
	order       map[issueKey][]int64 // comment ids in creation order
	nextID      int64
	faults      []*Fault
	hook        Hook
	log         []Request
	rateLimit   int
	rateUsed    int
	rateReset   time.Time
	exhausted   time.Time // primary limit forced to 0 until then
	unexpected  []Request
	lastCreated time.Time
	noLog       bool

	// Issues and labels (issues.go).
	issueData map[issueKey]*Issue
	labels    map[repoKey]map[string]Label
	perms     map[string]map[string]string // token → scope → level
	disabled  map[repoKey]bool             // repositories with issues off

	// Reviews, collaborators and team memberships (reviews.go).
	reviews       map[issueKey][]*Review
	nextReviewID  int64
	collaborators map[repoKey]map[string]string // lower-case login → role
	teams         map[string]map[string]string  // "org/team" → lower-case login → state
}

// New starts a fake GitHub API server that is closed when tb ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{
		now:       time.Now,
		tokens:    map[string]string{DefaultToken: DefaultLogin},
		issues:    map[issueKey]bool{},
		pulls:     map[issueKey]PullRequest{},
		files:     map[issueKey][]File{},
		comments:  map[int64]*Comment{},
		order:     map[issueKey][]int64{},
		nextID:    firstCommentID,
		rateLimit: defaultLimit,
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

// URL is the API base URL with a trailing slash, as a client's base URL
// (ending in /api/v3/ with WithEnterprise).
func (s *Server) URL() string { return s.srv.URL + s.prefix + "/" }

// GraphQLURL is the GraphQL endpoint: URL()+"graphql", or /api/graphql with
// WithEnterprise.
func (s *Server) GraphQLURL() string { return s.srv.URL + s.graphqlPath() }

func (s *Server) graphqlPath() string { return strings.TrimSuffix(s.prefix, "/v3") + "/graphql" }

// AddToken accepts token as login from now on, keeping the tokens accepted
// so far (unlike the first WithToken): a test adds a person, or a GitHub
// App, next to DefaultToken.
func (s *Server) AddToken(token, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = login
}

// IsBot reports whether login is a GitHub App's bot user (as
// github-actions[bot] is): such a login authenticates with an installation
// token and writes as a user of type "Bot".
func IsBot(login string) bool { return strings.HasSuffix(login, "[bot]") }

// Close stops the server (New already arranges it at the end of the test).
func (s *Server) Close() { s.srv.Close() }

// Handler serves the API in process, for a test that decides itself when
// each request reaches GitHub.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// Client is an http.Client for the server (no authentication added).
func (s *Server) Client() *http.Client { return s.srv.Client() }

// AddIssue makes an issue exist, so its comments can be listed and created.
func (s *Server) AddIssue(owner, repo string, number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issues[key(owner, repo, number)] = true
}

// AddPullRequest makes a pull request (and its issue) exist.
func (s *Server) AddPullRequest(pr PullRequest) {
	if pr.State == "" {
		pr.State = "open"
	}
	if pr.BaseRepo == "" {
		pr.BaseRepo = pr.Owner + "/" + pr.Repo
	}
	if pr.BaseRef == "" {
		pr.BaseRef = "main"
	}
	if pr.Author == "" {
		pr.Author = "octocat"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(pr.Owner, pr.Repo, pr.Number)
	s.issues[k] = true
	s.pulls[k] = pr
}

// SetPullRequestFiles sets the files a pull request changes (it must exist).
func (s *Server) SetPullRequestFiles(owner, repo string, number int, files []File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[key(owner, repo, number)] = slices.Clone(files)
}

// SetChangedPaths sets the paths a pull request changes, as modified files.
func (s *Server) SetChangedPaths(owner, repo string, number int, paths ...string) {
	files := make([]File, len(paths))
	for i, p := range paths {
		files[i] = File{Filename: p}
	}
	s.SetPullRequestFiles(owner, repo, number, files)
}

// SeedComment adds a comment by login (of type "Bot" when IsBot(login),
// "User" otherwise), making the issue exist if needed.
func (s *Server) SeedComment(owner, repo string, number int, login, body string) Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issues[key(owner, repo, number)] = true
	return *s.createLocked(owner, repo, number, login, body)
}

// EditComment changes a comment's body as another writer would.
func (s *Server) EditComment(id int64, body string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.comments[id]
	if ok {
		c.Body = body
		c.UpdatedAt = s.now().UTC()
	}
	return ok
}

// DeleteComment deletes a comment out from under the client.
func (s *Server) DeleteComment(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteLocked(id)
}

// OnlyComment returns the body of the issue's one comment, failing t unless
// there is exactly one: what "one sticky comment" means to a test.
func (s *Server) OnlyComment(t testing.TB, owner, repo string, number int) string {
	t.Helper()
	cs := s.Comments(owner, repo, number)
	if len(cs) != 1 {
		t.Fatalf("%d comments on %s/%s#%d, want exactly 1", len(cs), owner, repo, number)
	}
	return cs[0].Body
}

// Comments returns the comments on an issue, oldest first.
func (s *Server) Comments(owner, repo string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, id := range s.order[key(owner, repo, number)] {
		out = append(out, *s.comments[id])
	}
	return out
}

// Comment returns one comment by id.
func (s *Server) Comment(id int64) (Comment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.comments[id]
	if !ok {
		return Comment{}, false
	}
	return *c, true
}

// Requests returns the request log, in the order the requests were handled.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Unexpected returns the requests that matched no route.
func (s *Server) Unexpected() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.unexpected)
}

// SetHook installs (or with nil removes) the per-request hook.
func (s *Server) SetHook(h Hook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}

// InjectFault queues f; queued faults are tried in order.
func (s *Server) InjectFault(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// InjectServerErrors answers the next n requests with status (a 5xx such as
// 502), the way GitHub's front end does: an HTML body.
func (s *Server) InjectServerErrors(n, status int) {
	s.InjectFault(Fault{
		Status: status,
		Header: http.Header{"Content-Type": {"text/html"}},
		Body:   fmt.Sprintf("<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status)),
		Times:  n,
	})
}

// InjectSecondaryRateLimit answers the next request with GitHub's secondary
// rate limit: 403, the message, and Retry-After when retryAfter > 0.
func (s *Server) InjectSecondaryRateLimit(retryAfter time.Duration) {
	s.InjectFault(secondaryFault(http.StatusForbidden, retryAfter))
}

// InjectTooManyRequests answers the next request with a 429 secondary rate
// limit, with Retry-After when retryAfter > 0.
func (s *Server) InjectTooManyRequests(retryAfter time.Duration) {
	s.InjectFault(secondaryFault(http.StatusTooManyRequests, retryAfter))
}

func secondaryFault(status int, retryAfter time.Duration) Fault {
	h := http.Header{}
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	return Fault{Status: status, Header: h, Body: errorJSON(SecondaryRateLimitMessage, secondaryDocs, status)}
}

// ExhaustRateLimit makes the primary rate limit exhausted until reset (by the
// server's clock): every request until then gets GitHub's 403 with
// X-RateLimit-Remaining: 0 and X-RateLimit-Reset: reset.
func (s *Server) ExhaustRateLimit(reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exhausted = reset
}

// ---- HTTP handling ----

type response struct {
	status   int
	header   http.Header
	body     []byte
	route    string
	injected bool
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := Request{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Header: r.Header.Clone(),
		Body:   string(body),
	}
	login, authErr := s.authenticate(r)
	rec.Login = login

	var resp response
	if authErr != "" {
		resp = jsonResponse(http.StatusUnauthorized, errorJSON(authErr, docsBase, http.StatusUnauthorized))
		resp.injected = true
	} else {
		s.mu.Lock()
		hook := s.hook
		s.mu.Unlock()
		if hook != nil {
			hook(rec)
		}
		resp = s.handle(r, rec, body)
	}

	s.mu.Lock()
	s.writeRateHeadersLocked(w.Header(), resp)
	rec.Status = resp.status
	rec.Route = resp.route
	rec.Injected = resp.injected
	if !s.noLog {
		s.log = append(s.log, rec)
		if resp.route == "" && !resp.injected {
			s.unexpected = append(s.unexpected, rec)
		}
	}
	s.mu.Unlock()

	for k, v := range resp.header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

func (s *Server) authenticate(r *http.Request) (login, problem string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", "Requires authentication"
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) {
		return "", "Bad credentials"
	}
	s.mu.Lock()
	login, ok = s.tokens[strings.TrimSpace(token)]
	s.mu.Unlock()
	if !ok {
		return "", "Bad credentials"
	}
	return login, ""
}

// writeRateHeadersLocked sends X-RateLimit-* on every response, as GitHub
// does, and counts the request against the window.
func (s *Server) writeRateHeadersLocked(h http.Header, resp response) {
	s.rollWindowLocked()
	remaining := s.rateLimit - s.rateUsed
	reset := s.rateReset
	if resp.status == http.StatusForbidden && resp.header.Get("X-RateLimit-Remaining") == "0" {
		remaining = 0
		reset, _ = parseEpoch(resp.header.Get("X-RateLimit-Reset"))
	} else if resp.status != http.StatusUnauthorized {
		s.rateUsed++
		remaining = max(0, s.rateLimit-s.rateUsed)
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.rateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(s.rateLimit-remaining))
	h.Set("X-RateLimit-Resource", "core")
}

// rollWindowLocked starts a new hour window once the current one is over.
func (s *Server) rollWindowLocked() {
	if now := s.now(); s.rateReset.IsZero() || !now.Before(s.rateReset) {
		s.rateReset = now.Add(time.Hour).Truncate(time.Second)
		s.rateUsed = 0
	}
}

func parseEpoch(v string) (time.Time, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

var (
	reIssueComments = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues/([0-9]+)/comments$`)
	reComment       = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues/comments/([0-9]+)$`)
	rePullFiles     = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/pulls/([0-9]+)/files$`)
	rePull          = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/pulls/([0-9]+)$`)
	reCommitPulls   = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/commits/([0-9a-fA-F]{7,64})/pulls$`)
	// reViewerQuery is the one GraphQL query the fake answers, with its
	// whitespace removed: "query { viewer { login } }", named or not.
	reViewerQuery = regexp.MustCompile(`^(query[A-Za-z0-9_]*)?\{viewer\{login\}\}$`)
)

func (s *Server) handle(r *http.Request, rec Request, body []byte) response {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.rollWindowLocked()
	reset := s.exhausted
	if s.rateUsed >= s.rateLimit && s.rateReset.After(reset) {
		reset = s.rateReset // the window's requests are used up
	}
	if s.now().Before(reset) {
		h := http.Header{}
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		resp := jsonResponse(http.StatusForbidden, errorJSON("API rate limit exceeded for installation ID 1.", primaryDocs, http.StatusForbidden))
		resp.header = h
		resp.injected = true
		return resp
	}
	for i, f := range s.faults {
		if f.Match != nil && !f.Match(rec) {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		h := f.Header.Clone()
		if h == nil {
			h = http.Header{}
		}
		return response{status: f.Status, header: h, body: []byte(f.Body), injected: true}
	}

	if r.URL.Path == s.graphqlPath() && r.Method == http.MethodPost {
		return s.graphql(rec.Login, body)
	}
	path, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	if !ok {
		return notFound("")
	}
	if path == "/user" && r.Method == http.MethodGet {
		return s.authenticatedUser(r, rec.Login)
	}
	if m := reIssueComments.FindStringSubmatch(path); m != nil {
		n, _ := strconv.Atoi(m[3])
		switch r.Method {
		case http.MethodGet:
			return s.listComments(r, m[1], m[2], n)
		case http.MethodPost:
			return s.createComment(r, m[1], m[2], n, rec.Login, body)
		}
		return notFound("")
	}
	if m := reComment.FindStringSubmatch(path); m != nil {
		id, _ := strconv.ParseInt(m[3], 10, 64)
		switch r.Method {
		case http.MethodGet:
			return s.getComment(r, m[1], m[2], id)
		case http.MethodPatch:
			return s.editComment(r, m[1], m[2], id, body)
		case http.MethodDelete:
			return s.deleteComment(m[1], m[2], id)
		}
		return notFound("")
	}
	if m := rePullFiles.FindStringSubmatch(path); m != nil && r.Method == http.MethodGet {
		n, _ := strconv.Atoi(m[3])
		return s.listFiles(r, m[1], m[2], n)
	}
	if m := rePull.FindStringSubmatch(path); m != nil && r.Method == http.MethodGet {
		n, _ := strconv.Atoi(m[3])
		return s.getPull(r, m[1], m[2], n)
	}
	if m := reCommitPulls.FindStringSubmatch(path); m != nil && r.Method == http.MethodGet {
		return s.commitPulls(r, m[1], m[2], strings.ToLower(m[3]))
	}
	if resp, ok := s.routeIssues(r, path, rec.Login, body); ok {
		return resp
	}
	if resp, ok := s.routeReviews(r, path, rec.Login); ok {
		return resp
	}
	return notFound("")
}

func jsonResponse(status int, v any) response {
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	default:
		b, _ = json.Marshal(v)
	}
	return response{status: status, header: http.Header{}, body: append(b, '\n')}
}

func errorJSON(message, docs string, status int) string {
	b, _ := json.Marshal(map[string]string{
		"message":           message,
		"documentation_url": docs,
		"status":            strconv.Itoa(status),
	})
	return string(b)
}

// notFound is GitHub's 404; route is "" for a request no route matched.
func notFound(route string) response {
	resp := jsonResponse(http.StatusNotFound, errorJSON("Not Found", docsBase, http.StatusNotFound))
	resp.route = route
	return resp
}

// ---- pagination ----

// page returns the [lo, hi) window of n items for the request's page and
// per_page, GitHub's way: per_page defaults to 30 and is capped at 100, a
// page below 1 is page 1, anything unparsable is the default.
func page(r *http.Request, n int) (lo, hi, pageNo, perPage, last int) {
	q := r.URL.Query()
	perPage = defaultPerPage
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, maxPerPage)
	}
	pageNo = 1
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 1 {
		pageNo = v
	}
	last = max(1, (n+perPage-1)/perPage)
	lo = min(n, (pageNo-1)*perPage)
	hi = min(n, lo+perPage)
	return lo, hi, pageNo, perPage, last
}

// link builds GitHub's Link header: next and last when there are later pages,
// prev and first when there are earlier ones, in that order; none when all
// items fit on one page.
func link(r *http.Request, pageNo, last int) string {
	if last <= 1 && pageNo <= 1 {
		return ""
	}
	ref := func(p int, rel string) string {
		// Keep the query as sent, with page replaced or appended.
		var params []string
		for _, kv := range strings.Split(r.URL.RawQuery, "&") {
			if kv != "" && !strings.HasPrefix(kv, "page=") {
				params = append(params, kv)
			}
		}
		params = append(params, "page="+strconv.Itoa(p))
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: strings.Join(params, "&")}
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var parts []string
	if pageNo > 1 {
		parts = append(parts, ref(pageNo-1, "prev"))
	}
	if pageNo < last {
		parts = append(parts, ref(pageNo+1, "next"), ref(last, "last"))
	}
	if pageNo > 1 {
		parts = append(parts, ref(1, "first"))
	}
	return strings.Join(parts, ", ")
}

// ---- comments ----

func (s *Server) createLocked(owner, repo string, number int, login, body string) *Comment {
	now := s.now().UTC().Truncate(time.Second)
	// Keep creation times strictly ordered even when the clock stands still.
	if !now.After(s.lastCreated) {
		now = s.lastCreated.Add(time.Second)
	}
	s.lastCreated = now
	c := &Comment{
		ID: s.nextID, Owner: owner, Repo: repo, Issue: number, Login: login,
		Body: body, CreatedAt: now, UpdatedAt: now,
	}
	s.nextID++
	s.comments[c.ID] = c
	k := key(owner, repo, number)
	s.order[k] = append(s.order[k], c.ID)
	return c
}

func (s *Server) deleteLocked(id int64) bool {
	c, ok := s.comments[id]
	if !ok {
		return false
	}
	delete(s.comments, id)
	k := key(c.Owner, c.Repo, c.Issue)
	s.order[k] = slices.DeleteFunc(s.order[k], func(x int64) bool { return x == id })
	return true
}

func (s *Server) commentJSON(r *http.Request, c *Comment) map[string]any {
	base := "http://" + r.Host + s.prefix
	kind := "issues"
	if _, ok := s.pulls[key(c.Owner, c.Repo, c.Issue)]; ok {
		kind = "pull"
	}
	return map[string]any{
		"id":         c.ID,
		"node_id":    fmt.Sprintf("IC_%d", c.ID),
		"url":        fmt.Sprintf("%s/repos/%s/%s/issues/comments/%d", base, c.Owner, c.Repo, c.ID),
		"html_url":   fmt.Sprintf("https://github.com/%s/%s/%s/%d#issuecomment-%d", c.Owner, c.Repo, kind, c.Issue, c.ID),
		"issue_url":  fmt.Sprintf("%s/repos/%s/%s/issues/%d", base, c.Owner, c.Repo, c.Issue),
		"body":       c.Body,
		"user":       s.userJSON(r, c.Login),
		"created_at": c.CreatedAt.Format(time.RFC3339),
		"updated_at": c.UpdatedAt.Format(time.RFC3339),
		// GitHub reports this relative to the repository; the fake keeps it simple.
		"author_association": "NONE",
	}
}

func userType(login string) string {
	if IsBot(login) {
		return "Bot"
	}
	return "User"
}

// userJSON is the simple user object GitHub nests in a comment.
func (s *Server) userJSON(r *http.Request, login string) map[string]any {
	id := userID(login)
	page := "https://github.com/" + login
	if slug, ok := strings.CutSuffix(login, "[bot]"); ok {
		page = "https://github.com/apps/" + slug
	}
	return map[string]any{
		"login":      login,
		"id":         id,
		"node_id":    fmt.Sprintf("U_%d", id),
		"url":        fmt.Sprintf("http://%s%s/users/%s", r.Host, s.prefix, url.PathEscape(login)),
		"html_url":   page,
		"type":       userType(login),
		"site_admin": false,
	}
}

// ---- who the token is ----

// authenticatedUser is GET /user: the person behind a personal access
// token; an installation token (GITHUB_TOKEN, a GitHub App's) gets 403.
func (s *Server) authenticatedUser(r *http.Request, login string) response {
	const route = "GET authenticated user"
	if IsBot(login) {
		resp := jsonResponse(http.StatusForbidden, errorJSON("Resource not accessible by integration",
			docsBase+"/users/users#get-the-authenticated-user", http.StatusForbidden))
		resp.route = route
		return resp
	}
	resp := jsonResponse(http.StatusOK, s.userJSON(r, login))
	resp.route = route
	return resp
}

// graphql answers "query { viewer { login } }" for every kind of token, as
// GitHub does; any other query is not a route the fake knows.
func (s *Server) graphql(login string, raw []byte) response {
	const route = "POST graphql"
	var req struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		resp := jsonResponse(http.StatusBadRequest, errorJSON("Problems parsing JSON", "https://docs.github.com/graphql", http.StatusBadRequest))
		resp.route = route
		return resp
	}
	q := strings.Join(strings.Fields(req.Query), "")
	if !reViewerQuery.MatchString(q) {
		// GitHub answers a query it cannot run with a 200 and errors.
		return jsonResponse(http.StatusOK, map[string]any{
			"errors": []map[string]string{{"message": "fakegithub answers only query { viewer { login } }"}},
		})
	}
	resp := jsonResponse(http.StatusOK, map[string]any{"data": map[string]any{"viewer": map[string]any{"login": login}}})
	resp.route = route
	return resp
}

func userID(login string) int64 {
	var h int64 = 7
	for _, c := range login {
		h = h*31 + int64(c)
	}
	if h < 0 {
		h = -h
	}
	return h%100_000_000 + 1
}

func (s *Server) listComments(r *http.Request, owner, repo string, n int) response {
	const route = "GET issue comments"
	k := key(owner, repo, n)
	if !s.issues[k] {
		return notFound(route)
	}
	ids := s.order[k]
	lo, hi, pageNo, _, last := page(r, len(ids))
	items := []map[string]any{}
	for _, id := range ids[lo:hi] {
		items = append(items, s.commentJSON(r, s.comments[id]))
	}
	resp := jsonResponse(http.StatusOK, items)
	resp.route = route
	if l := link(r, pageNo, last); l != "" {
		resp.header.Set("Link", l)
	}
	return resp
}

type commentRequest struct {
	Body *string `json:"body"`
}

// decodeComment validates a create/edit payload like GitHub: the JSON must
// parse, "body" must be present, and it may hold at most 65,536 characters.
func decodeComment(raw []byte, route, docs string) (string, *response) {
	var req commentRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		resp := jsonResponse(http.StatusBadRequest, errorJSON("Problems parsing JSON", docs, http.StatusBadRequest))
		resp.route = route
		return "", &resp
	}
	if req.Body == nil {
		resp := jsonResponse(http.StatusUnprocessableEntity, errorJSON("Invalid request.\n\n\"body\" wasn't supplied.", docs, http.StatusUnprocessableEntity))
		resp.route = route
		return "", &resp
	}
	if utf8.RuneCountInString(*req.Body) > MaxCommentLength {
		resp := jsonResponse(http.StatusUnprocessableEntity, map[string]any{
			"message": "Validation Failed",
			"errors": []map[string]string{{
				"resource": "IssueComment",
				"code":     "unprocessable",
				"field":    "data",
				"message":  fmt.Sprintf("Body is too long (maximum is %d characters)", MaxCommentLength),
			}},
			"documentation_url": docs,
			"status":            "422",
		})
		resp.route = route
		return "", &resp
	}
	return *req.Body, nil
}

func (s *Server) createComment(r *http.Request, owner, repo string, n int, login string, raw []byte) response {
	const route = "POST issue comment"
	if !s.issues[key(owner, repo, n)] {
		return notFound(route)
	}
	if _, pr := s.pulls[key(owner, repo, n)]; !pr {
		// An issue's comments need the issues permission.
		if bad := s.allowedLocked(r, login, "issues", true, route, docsBase+"/issues/comments#create-an-issue-comment"); bad != nil {
			return *bad
		}
	}
	body, bad := decodeComment(raw, route, docsBase+"/issues/comments#create-an-issue-comment")
	if bad != nil {
		return *bad
	}
	c := s.createLocked(owner, repo, n, login, body)
	j := s.commentJSON(r, c)
	resp := jsonResponse(http.StatusCreated, j)
	resp.header.Set("Location", j["url"].(string))
	resp.route = route
	return resp
}

// lookup finds a comment of owner/repo (GitHub answers 404 for a comment id
// of another repository).
func (s *Server) lookup(owner, repo string, id int64) (*Comment, bool) {
	c, ok := s.comments[id]
	if !ok || !strings.EqualFold(c.Owner, owner) || !strings.EqualFold(c.Repo, repo) {
		return nil, false
	}
	return c, true
}

func (s *Server) getComment(r *http.Request, owner, repo string, id int64) response {
	const route = "GET issue comment"
	c, ok := s.lookup(owner, repo, id)
	if !ok {
		return notFound(route)
	}
	resp := jsonResponse(http.StatusOK, s.commentJSON(r, c))
	resp.route = route
	return resp
}

func (s *Server) editComment(r *http.Request, owner, repo string, id int64, raw []byte) response {
	const route = "PATCH issue comment"
	c, ok := s.lookup(owner, repo, id)
	if !ok {
		return notFound(route)
	}
	body, bad := decodeComment(raw, route, docsBase+"/issues/comments#update-an-issue-comment")
	if bad != nil {
		return *bad
	}
	c.Body = body
	c.UpdatedAt = s.now().UTC().Truncate(time.Second)
	resp := jsonResponse(http.StatusOK, s.commentJSON(r, c))
	resp.route = route
	return resp
}

func (s *Server) deleteComment(owner, repo string, id int64) response {
	const route = "DELETE issue comment"
	if _, ok := s.lookup(owner, repo, id); !ok {
		return notFound(route)
	}
	s.deleteLocked(id)
	return response{status: http.StatusNoContent, header: http.Header{}, route: route}
}

// ---- pull requests ----

func repoJSON(fullName string) any {
	if fullName == "" {
		return nil
	}
	owner, name, _ := strings.Cut(fullName, "/")
	return map[string]any{
		"name":      name,
		"full_name": fullName,
		"owner":     map[string]any{"login": owner},
		"private":   false,
	}
}

func (s *Server) getPull(r *http.Request, owner, repo string, n int) response {
	const route = "GET pull request"
	k := key(owner, repo, n)
	pr, ok := s.pulls[k]
	if !ok {
		return notFound(route)
	}
	resp := jsonResponse(http.StatusOK, s.pullJSONLocked(r, owner, repo, n, pr))
	resp.route = route
	return resp
}

// pullJSONLocked is a pull request as the API serves it.
func (s *Server) pullJSONLocked(r *http.Request, owner, repo string, n int, pr PullRequest) map[string]any {
	k := key(owner, repo, n)
	headOwner, _, _ := strings.Cut(pr.HeadRepo, "/")
	baseOwner, _, _ := strings.Cut(pr.BaseRepo, "/")
	headRepo := repoJSON(pr.HeadRepo)
	if m, ok := headRepo.(map[string]any); ok {
		m["fork"] = !strings.EqualFold(pr.HeadRepo, pr.BaseRepo)
	}
	additions, deletions := 0, 0
	for _, f := range s.files[k] {
		additions += f.Additions
		deletions += f.Deletions
	}
	m := map[string]any{
		"id":            int64(n) + 500_000_000,
		"number":        n,
		"state":         pr.State,
		"title":         pr.Title,
		"url":           fmt.Sprintf("http://%s%s/repos/%s/%s/pulls/%d", r.Host, s.prefix, owner, repo, n),
		"html_url":      fmt.Sprintf("https://github.com/%s/%s/pull/%d", owner, repo, n),
		"changed_files": len(s.files[k]),
		"additions":     additions,
		"deletions":     deletions,
		"head": map[string]any{
			"label": headOwner + ":" + pr.HeadRef,
			"ref":   pr.HeadRef,
			"sha":   pr.HeadSHA,
			"repo":  headRepo,
		},
		"base": map[string]any{
			"label": baseOwner + ":" + pr.BaseRef,
			"ref":   pr.BaseRef,
			"sha":   pr.BaseSHA,
			"repo":  repoJSON(pr.BaseRepo),
		},
		"user":             s.userJSON(r, pr.Author),
		"merged":           pr.Merged,
		"merge_commit_sha": nil,
		"merged_at":        nil,
	}
	if pr.Merged {
		m["merge_commit_sha"] = pr.MergeCommitSHA
		m["merged_at"] = s.now().UTC().Format(time.RFC3339)
		m["state"] = "closed"
	}
	return m
}

// commitPulls lists the pull requests a commit belongs to, as GET
// /repos/{owner}/{repo}/commits/{sha}/pulls does: the merged one a merge
// commit came from, or open ones whose head it is.
func (s *Server) commitPulls(r *http.Request, owner, repo, sha string) response {
	const route = "GET commit pull requests"
	out := []map[string]any{}
	for k, pr := range s.pulls {
		if k != key(owner, repo, pr.Number) {
			continue
		}
		match := strings.EqualFold(pr.HeadSHA, sha) || (pr.Merged && strings.EqualFold(pr.MergeCommitSHA, sha))
		for _, c := range pr.Commits {
			match = match || strings.EqualFold(c, sha)
		}
		if match {
			out = append(out, s.pullJSONLocked(r, owner, repo, pr.Number, pr))
		}
	}
	slices.SortFunc(out, func(a, b map[string]any) int { return a["number"].(int) - b["number"].(int) })
	resp := jsonResponse(http.StatusOK, out)
	resp.route = route
	return resp
}

func (s *Server) listFiles(r *http.Request, owner, repo string, n int) response {
	const route = "GET pull request files"
	k := key(owner, repo, n)
	if _, ok := s.pulls[k]; !ok {
		return notFound(route)
	}
	files := s.files[k]
	if len(files) > MaxPullRequestFiles {
		files = files[:MaxPullRequestFiles]
	}
	lo, hi, pageNo, _, last := page(r, len(files))
	items := []map[string]any{}
	for _, f := range files[lo:hi] {
		status := f.Status
		if status == "" {
			status = "modified"
		}
		item := map[string]any{
			"sha":       fmt.Sprintf("%040x", userID(f.Filename)),
			"filename":  f.Filename,
			"status":    status,
			"additions": f.Additions,
			"deletions": f.Deletions,
			"changes":   f.Additions + f.Deletions,
		}
		if f.PreviousFilename != "" {
			item["previous_filename"] = f.PreviousFilename
		}
		items = append(items, item)
	}
	resp := jsonResponse(http.StatusOK, items)
	resp.route = route
	if l := link(r, pageNo, last); l != "" {
		resp.header.Set("Link", l)
	}
	return resp
}
