package fakegithub

// This file serves issues and labels: create, list (state, labels and
// creator filters, pagination, pull requests included as GitHub includes
// them), get and edit an issue, and get and create a label. Writes need
// the token's issues permission (SetPermission), as GITHUB_TOKEN's job
// permissions decide on GitHub.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	reIssues = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues$`)
	reIssue  = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/issues/([0-9]+)$`)
	reLabels = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/labels$`)
	reLabel  = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/labels/([^/]+)$`)
)

// NoPermissionMessage is GitHub's answer to an installation token (such
// as GITHUB_TOKEN) whose permissions do not cover a request.
const NoPermissionMessage = "Resource not accessible by integration"

type repoKey struct{ owner, repo string }

func rkey(owner, repo string) repoKey { return repoKey{strings.ToLower(owner), strings.ToLower(repo)} }

// SetPermission sets what token may do in scope ("issues"): PermissionNone
// (no reads, no writes), PermissionRead or PermissionWrite (the default),
// as a job's `permissions:` does for GITHUB_TOKEN. A request the token may
// not make gets GitHub's 403 "Resource not accessible by integration".
// Comments on a pull request need the pull request permission instead,
// which the fake does not restrict.
func (s *Server) SetPermission(token, scope, level string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perms == nil {
		s.perms = map[string]map[string]string{}
	}
	if s.perms[token] == nil {
		s.perms[token] = map[string]string{}
	}
	s.perms[token][scope] = level
}

// DisableIssues turns a repository's issues off, as its settings can:
// GitHub then answers its issue routes with 410 Gone.
func (s *Server) DisableIssues(owner, repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.disabled == nil {
		s.disabled = map[repoKey]bool{}
	}
	s.disabled[rkey(owner, repo)] = true
}

// gone is GitHub's answer on an issue route of a repository whose issues
// are off.
func gone(route string) response {
	resp := jsonResponse(http.StatusGone, errorJSON("Issues are disabled for this repo", docsBase+"/issues/issues", http.StatusGone))
	resp.route = route
	return resp
}

// SeedIssue adds an issue as login wrote it (open unless State says
// otherwise), with its labels created if missing, and returns it with its
// number.
func (s *Server) SeedIssue(is Issue) Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is.State == "" {
		is.State = "open"
	}
	for _, l := range is.Labels {
		if _, ok := s.labelLocked(is.Owner, is.Repo, l); !ok {
			s.addLabelLocked(is.Owner, is.Repo, Label{Name: l, Color: "ededed"})
		}
	}
	return *s.newIssueLocked(is)
}

// Issues returns the repository's issues (not pull requests), oldest first.
func (s *Server) Issues(owner, repo string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Issue
	for _, is := range s.issuesLocked(owner, repo) {
		if !s.isPullLocked(is) {
			c := *is
			c.Labels = slices.Clone(is.Labels)
			out = append(out, c)
		}
	}
	return out
}

// Labels returns the repository's labels, by name.
func (s *Server) Labels(owner, repo string) []Label {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Label
	for _, l := range s.labels[rkey(owner, repo)] {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// EditIssue changes an issue as a person would, through edit.
func (s *Server) EditIssue(owner, repo string, number int, edit func(*Issue)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issueData[key(owner, repo, number)]
	if ok {
		edit(is)
		is.UpdatedAt = s.now().UTC().Truncate(time.Second)
	}
	return ok
}

func (s *Server) labelLocked(owner, repo, name string) (Label, bool) {
	l, ok := s.labels[rkey(owner, repo)][strings.ToLower(name)]
	return l, ok
}

func (s *Server) addLabelLocked(owner, repo string, l Label) {
	if s.labels == nil {
		s.labels = map[repoKey]map[string]Label{}
	}
	k := rkey(owner, repo)
	if s.labels[k] == nil {
		s.labels[k] = map[string]Label{}
	}
	s.labels[k][strings.ToLower(l.Name)] = l
}

// newIssueLocked stores is under the repository's next number (issues and
// pull requests share the numbers).
func (s *Server) newIssueLocked(is Issue) *Issue {
	if s.issueData == nil {
		s.issueData = map[issueKey]*Issue{}
	}
	n := 0
	for k := range s.issues {
		if k.owner == strings.ToLower(is.Owner) && k.repo == strings.ToLower(is.Repo) {
			n = max(n, k.number)
		}
	}
	now := s.now().UTC().Truncate(time.Second)
	is.Number = n + 1
	if is.CreatedAt.IsZero() {
		is.CreatedAt = now
	}
	is.UpdatedAt = is.CreatedAt
	if is.State == "closed" && is.ClosedAt.IsZero() {
		is.ClosedAt = now
	}
	is.Labels = slices.Clone(is.Labels)
	k := key(is.Owner, is.Repo, is.Number)
	s.issues[k] = true
	s.issueData[k] = &is
	return &is
}

// issuesLocked is every issue and pull request of the repository, by
// number: an issue made to exist by AddIssue or AddPullRequest alone
// gets a record on first use.
func (s *Server) issuesLocked(owner, repo string) []*Issue {
	if s.issueData == nil {
		s.issueData = map[issueKey]*Issue{}
	}
	var out []*Issue
	for k := range s.issues {
		if k.owner != strings.ToLower(owner) || k.repo != strings.ToLower(repo) {
			continue
		}
		out = append(out, s.recordLocked(k, owner, repo))
	}
	slices.SortFunc(out, func(a, b *Issue) int { return a.Number - b.Number })
	return out
}

func (s *Server) recordLocked(k issueKey, owner, repo string) *Issue {
	if s.issueData == nil {
		s.issueData = map[issueKey]*Issue{}
	}
	is, ok := s.issueData[k]
	if !ok {
		is = &Issue{Owner: owner, Repo: repo, Number: k.number, Title: fmt.Sprintf("issue %d", k.number),
			Login: "octocat", State: "open", CreatedAt: s.now().UTC().Truncate(time.Second)}
		is.UpdatedAt = is.CreatedAt
		if pr, ok := s.pulls[k]; ok {
			is.Title, is.State, is.Login = pr.Title, pr.State, pr.Author
		}
		s.issueData[k] = is
	}
	return is
}

func (s *Server) isPullLocked(is *Issue) bool {
	_, ok := s.pulls[key(is.Owner, is.Repo, is.Number)]
	return ok
}

// tokenOf is the token a request authenticated with.
func tokenOf(r *http.Request) string {
	_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.TrimSpace(token)
}

// allowedLocked answers GitHub's 403 when the request's token may not do
// this (write: a write) in scope; nil when it may.
func (s *Server) allowedLocked(r *http.Request, login, scope string, write bool, route, docs string) *response {
	level := s.perms[tokenOf(r)][scope]
	if level == "" || level == PermissionWrite || (level == PermissionRead && !write) {
		return nil
	}
	msg := NoPermissionMessage
	if !IsBot(login) {
		msg = "Resource not accessible by personal access token"
	}
	resp := jsonResponse(http.StatusForbidden, errorJSON(msg, docs, http.StatusForbidden))
	need := "read"
	if write {
		need = "write"
	}
	resp.header.Set("X-Accepted-GitHub-Permissions", scope+"="+need)
	resp.route = route
	return &resp
}

func (s *Server) routeIssues(r *http.Request, path, login string, body []byte) (response, bool) {
	if m := reIssues.FindStringSubmatch(path); m != nil {
		if s.disabled[rkey(m[1], m[2])] {
			return gone(r.Method + " repository issues"), true
		}
		switch r.Method {
		case http.MethodGet:
			return s.listIssues(r, m[1], m[2], login), true
		case http.MethodPost:
			return s.createIssue(r, m[1], m[2], login, body), true
		}
		return notFound(""), true
	}
	if m := reIssue.FindStringSubmatch(path); m != nil {
		var n int
		fmt.Sscan(m[3], &n)
		if s.disabled[rkey(m[1], m[2])] {
			return gone(r.Method + " issue"), true
		}
		switch r.Method {
		case http.MethodGet:
			return s.getIssue(r, m[1], m[2], n, login), true
		case http.MethodPatch:
			return s.editIssue(r, m[1], m[2], n, login, body), true
		}
		return notFound(""), true
	}
	if m := reLabels.FindStringSubmatch(path); m != nil && r.Method == http.MethodPost {
		return s.createLabel(r, m[1], m[2], login, body), true
	}
	if m := reLabel.FindStringSubmatch(path); m != nil && r.Method == http.MethodGet {
		name, err := url.PathUnescape(m[3])
		if err != nil {
			return notFound(""), true
		}
		return s.getLabel(r, m[1], m[2], name, login), true
	}
	return response{}, false
}

func (s *Server) labelJSON(r *http.Request, owner, repo string, l Label) map[string]any {
	id := userID("label:" + strings.ToLower(owner+"/"+repo+"/"+l.Name))
	var desc any
	if l.Description != "" {
		desc = l.Description
	}
	return map[string]any{
		"id":          id,
		"node_id":     fmt.Sprintf("LA_%d", id),
		"url":         fmt.Sprintf("http://%s%s/repos/%s/%s/labels/%s", r.Host, s.prefix, owner, repo, url.PathEscape(l.Name)),
		"name":        l.Name,
		"color":       l.Color,
		"description": desc,
		"default":     false,
	}
}

func (s *Server) issueJSON(r *http.Request, is *Issue) map[string]any {
	base := "http://" + r.Host + s.prefix
	labels := []map[string]any{}
	for _, name := range is.Labels {
		l, ok := s.labelLocked(is.Owner, is.Repo, name)
		if !ok {
			l = Label{Name: name, Color: "ededed"}
		}
		labels = append(labels, s.labelJSON(r, is.Owner, is.Repo, l))
	}
	comments := len(s.order[key(is.Owner, is.Repo, is.Number)])
	j := map[string]any{
		"id":                 int64(is.Number) + 700_000_000,
		"node_id":            fmt.Sprintf("I_%d", is.Number),
		"number":             is.Number,
		"title":              is.Title,
		"body":               is.Body,
		"state":              is.State,
		"state_reason":       nil,
		"locked":             false,
		"labels":             labels,
		"user":               s.userJSON(r, is.Login),
		"comments":           comments,
		"url":                fmt.Sprintf("%s/repos/%s/%s/issues/%d", base, is.Owner, is.Repo, is.Number),
		"repository_url":     fmt.Sprintf("%s/repos/%s/%s", base, is.Owner, is.Repo),
		"html_url":           fmt.Sprintf("https://github.com/%s/%s/issues/%d", is.Owner, is.Repo, is.Number),
		"created_at":         is.CreatedAt.Format(time.RFC3339),
		"updated_at":         is.UpdatedAt.Format(time.RFC3339),
		"closed_at":          nil,
		"author_association": "NONE",
	}
	if is.StateReason != "" {
		j["state_reason"] = is.StateReason
	}
	if !is.ClosedAt.IsZero() && is.State == "closed" {
		j["closed_at"] = is.ClosedAt.Format(time.RFC3339)
	}
	if s.isPullLocked(is) {
		j["html_url"] = fmt.Sprintf("https://github.com/%s/%s/pull/%d", is.Owner, is.Repo, is.Number)
		j["pull_request"] = map[string]any{
			"url":      fmt.Sprintf("%s/repos/%s/%s/pulls/%d", base, is.Owner, is.Repo, is.Number),
			"html_url": j["html_url"],
		}
	}
	return j
}

// listIssues is GET /repos/{owner}/{repo}/issues: state (open, closed,
// all; open by default), labels (a comma-separated list, every one
// required), creator, newest first (GitHub's default sort), paginated.
// Pull requests are included, with "pull_request" set, as on GitHub.
func (s *Server) listIssues(r *http.Request, owner, repo, login string) response {
	const route = "GET repository issues"
	if bad := s.allowedLocked(r, login, "issues", false, route, docsBase+"/issues/issues#list-repository-issues"); bad != nil {
		return *bad
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if state != "open" && state != "closed" && state != "all" {
		resp := jsonResponse(http.StatusUnprocessableEntity, errorJSON("Validation Failed", docsBase+"/issues/issues#list-repository-issues", http.StatusUnprocessableEntity))
		resp.route = route
		return resp
	}
	var want []string
	for _, l := range strings.Split(q.Get("labels"), ",") {
		if l = strings.TrimSpace(l); l != "" {
			want = append(want, strings.ToLower(l))
		}
	}
	creator := q.Get("creator")
	var match []*Issue
	for _, is := range s.issuesLocked(owner, repo) {
		if state != "all" && is.State != state {
			continue
		}
		if creator != "" && !strings.EqualFold(is.Login, creator) {
			continue
		}
		has := map[string]bool{}
		for _, l := range is.Labels {
			has[strings.ToLower(l)] = true
		}
		if !all(want, func(l string) bool { return has[l] }) {
			continue
		}
		match = append(match, is)
	}
	if q.Get("direction") != "asc" {
		slices.Reverse(match)
	}
	lo, hi, pageNo, _, last := page(r, len(match))
	items := []map[string]any{}
	for _, is := range match[lo:hi] {
		items = append(items, s.issueJSON(r, is))
	}
	resp := jsonResponse(http.StatusOK, items)
	resp.route = route
	if l := link(r, pageNo, last); l != "" {
		resp.header.Set("Link", l)
	}
	return resp
}

func all[T any](xs []T, f func(T) bool) bool {
	for _, x := range xs {
		if !f(x) {
			return false
		}
	}
	return true
}

type issueRequest struct {
	Title       *string   `json:"title"`
	Body        *string   `json:"body"`
	State       *string   `json:"state"`
	StateReason *string   `json:"state_reason"`
	Labels      *[]string `json:"labels"`
}

func validationFailed(route, docs, resource, field, code, message string) response {
	e := map[string]string{"resource": resource, "field": field, "code": code}
	if message != "" {
		e["message"] = message
	}
	resp := jsonResponse(http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed", "errors": []map[string]string{e}, "documentation_url": docs, "status": "422",
	})
	resp.route = route
	return resp
}

// decodeIssue validates a create or edit payload like GitHub: JSON that
// parses, a body of at most 65,536 characters, a known state and state
// reason, and labels that exist. The fake is stricter than GitHub may be
// about labels: an unknown one is refused, so a client must create its
// labels first (GitHub's documentation does not promise to create them).
func (s *Server) decodeIssue(raw []byte, owner, repo, route, docs string) (issueRequest, *response) {
	var req issueRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		resp := jsonResponse(http.StatusBadRequest, errorJSON("Problems parsing JSON", docs, http.StatusBadRequest))
		resp.route = route
		return req, &resp
	}
	if req.Body != nil && utf8.RuneCountInString(*req.Body) > MaxCommentLength {
		resp := validationFailed(route, docs, "Issue", "body", "custom", fmt.Sprintf("body is too long (maximum is %d characters)", MaxCommentLength))
		return req, &resp
	}
	if req.Title != nil && strings.TrimSpace(*req.Title) == "" {
		resp := validationFailed(route, docs, "Issue", "title", "missing_field", "")
		return req, &resp
	}
	if req.State != nil && *req.State != "open" && *req.State != "closed" {
		resp := validationFailed(route, docs, "Issue", "state", "invalid", "")
		return req, &resp
	}
	if req.StateReason != nil && !slices.Contains([]string{"completed", "not_planned", "reopened"}, *req.StateReason) {
		resp := validationFailed(route, docs, "Issue", "state_reason", "invalid", "")
		return req, &resp
	}
	if req.Labels != nil {
		for _, l := range *req.Labels {
			if _, ok := s.labelLocked(owner, repo, l); !ok {
				resp := validationFailed(route, docs, "Label", "name", "invalid", fmt.Sprintf("label %q does not exist (fakegithub refuses unknown labels)", l))
				return req, &resp
			}
		}
	}
	return req, nil
}

func (s *Server) createIssue(r *http.Request, owner, repo, login string, raw []byte) response {
	const route = "POST issue"
	docs := docsBase + "/issues/issues#create-an-issue"
	if bad := s.allowedLocked(r, login, "issues", true, route, docs); bad != nil {
		return *bad
	}
	req, bad := s.decodeIssue(raw, owner, repo, route, docs)
	if bad != nil {
		return *bad
	}
	if req.Title == nil {
		return validationFailed(route, docs, "Issue", "title", "missing_field", "")
	}
	is := Issue{Owner: owner, Repo: repo, Title: *req.Title, Login: login, State: "open"}
	if req.Body != nil {
		is.Body = *req.Body
	}
	if req.Labels != nil {
		is.Labels = *req.Labels
	}
	created := s.newIssueLocked(is)
	j := s.issueJSON(r, created)
	resp := jsonResponse(http.StatusCreated, j)
	resp.header.Set("Location", j["url"].(string))
	resp.route = route
	return resp
}

func (s *Server) getIssue(r *http.Request, owner, repo string, n int, login string) response {
	const route = "GET issue"
	if bad := s.allowedLocked(r, login, "issues", false, route, docsBase+"/issues/issues#get-an-issue"); bad != nil {
		return *bad
	}
	k := key(owner, repo, n)
	if !s.issues[k] {
		return notFound(route)
	}
	resp := jsonResponse(http.StatusOK, s.issueJSON(r, s.recordLocked(k, owner, repo)))
	resp.route = route
	return resp
}

func (s *Server) editIssue(r *http.Request, owner, repo string, n int, login string, raw []byte) response {
	const route = "PATCH issue"
	docs := docsBase + "/issues/issues#update-an-issue"
	if bad := s.allowedLocked(r, login, "issues", true, route, docs); bad != nil {
		return *bad
	}
	k := key(owner, repo, n)
	if !s.issues[k] {
		return notFound(route)
	}
	req, bad := s.decodeIssue(raw, owner, repo, route, docs)
	if bad != nil {
		return *bad
	}
	is := s.recordLocked(k, owner, repo)
	now := s.now().UTC().Truncate(time.Second)
	if req.Title != nil {
		is.Title = *req.Title
	}
	if req.Body != nil {
		is.Body = *req.Body
	}
	if req.Labels != nil {
		is.Labels = slices.Clone(*req.Labels)
	}
	if req.State != nil && *req.State != is.State {
		is.State = *req.State
		if is.State == "closed" {
			is.ClosedAt, is.StateReason = now, "completed"
		} else {
			is.ClosedAt, is.StateReason = time.Time{}, "reopened"
		}
	}
	if req.StateReason != nil {
		is.StateReason = *req.StateReason
	}
	is.UpdatedAt = now
	resp := jsonResponse(http.StatusOK, s.issueJSON(r, is))
	resp.route = route
	return resp
}

func (s *Server) getLabel(r *http.Request, owner, repo, name, login string) response {
	const route = "GET label"
	if bad := s.allowedLocked(r, login, "issues", false, route, docsBase+"/issues/labels#get-a-label"); bad != nil {
		return *bad
	}
	l, ok := s.labelLocked(owner, repo, name)
	if !ok {
		return notFound(route)
	}
	resp := jsonResponse(http.StatusOK, s.labelJSON(r, owner, repo, l))
	resp.route = route
	return resp
}

var reColor = regexp.MustCompile(`^[0-9a-fA-F]{6}$`)

func (s *Server) createLabel(r *http.Request, owner, repo, login string, raw []byte) response {
	const route = "POST label"
	docs := docsBase + "/issues/labels#create-a-label"
	if bad := s.allowedLocked(r, login, "issues", true, route, docs); bad != nil {
		return *bad
	}
	var req struct {
		Name        *string `json:"name"`
		Color       *string `json:"color"`
		Description *string `json:"description"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		resp := jsonResponse(http.StatusBadRequest, errorJSON("Problems parsing JSON", docs, http.StatusBadRequest))
		resp.route = route
		return resp
	}
	if req.Name == nil || strings.TrimSpace(*req.Name) == "" {
		return validationFailed(route, docs, "Label", "name", "missing_field", "")
	}
	if _, ok := s.labelLocked(owner, repo, *req.Name); ok {
		return validationFailed(route, docs, "Label", "name", "already_exists", "")
	}
	l := Label{Name: *req.Name, Color: "ededed"}
	if req.Color != nil {
		if !reColor.MatchString(*req.Color) {
			return validationFailed(route, docs, "Label", "color", "invalid", "")
		}
		l.Color = *req.Color
	}
	if req.Description != nil {
		if utf8.RuneCountInString(*req.Description) > 100 {
			return validationFailed(route, docs, "Label", "description", "custom", "description is too long (maximum is 100 characters)")
		}
		l.Description = *req.Description
	}
	s.addLabelLocked(owner, repo, l)
	resp := jsonResponse(http.StatusCreated, s.labelJSON(r, owner, repo, l))
	resp.route = route
	return resp
}
