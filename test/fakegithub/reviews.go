package fakegithub

// This file serves what deciding a policy override needs: a pull
// request's reviews (GET pulls/{n}/reviews, paginated, oldest first as
// GitHub lists them), a user's permission on a repository (GET
// collaborators/{user}/permission) and a user's team membership (GET
// orgs/{org}/teams/{team}/memberships/{user}).

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Review states as the API serves them. A dismissed review keeps its
// place in the list with the state DISMISSED.
const (
	ReviewApproved         = "APPROVED"
	ReviewChangesRequested = "CHANGES_REQUESTED"
	ReviewCommented        = "COMMENTED"
	ReviewDismissed        = "DISMISSED"
)

// Repository roles (SetCollaborator), weakest first.
const (
	RoleRead     = "read"
	RoleTriage   = "triage"
	RoleWrite    = "write"
	RoleMaintain = "maintain"
	RoleAdmin    = "admin"
)

// Review is a submitted pull request review.
type Review struct {
	ID    int64  // assigned when 0
	User  string // the reviewer's login
	State string // ReviewApproved, ReviewChangesRequested, ReviewCommented or ReviewDismissed
	// CommitID is the commit reviewed: the pull request's head when
	// empty, as when a review is submitted in the web interface.
	CommitID string
	Body     string
	// SubmittedAt is the server's clock when zero. Reviews are listed in
	// the order they were added, as GitHub lists them chronologically.
	SubmittedAt time.Time
}

var (
	rePullReviews      = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/pulls/([0-9]+)/reviews$`)
	reCollabPermission = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/collaborators/([^/]+)/permission$`)
	reTeamMembership   = regexp.MustCompile(`^/orgs/([^/]+)/teams/([^/]+)/memberships/([^/]+)$`)
)

const firstReviewID = 2_000_000_001

// AddReview submits a review of an existing pull request and returns it
// with its ID, commit and time filled in. It panics, as a test's mistake,
// on an unknown pull request or state, and on what GitHub refuses: the
// pull request's author approving or requesting changes on it (422 "Can
// not approve your own pull request").
func (s *Server) AddReview(owner, repo string, number int, rv Review) Review {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, ok := s.pulls[key(owner, repo, number)]
	if !ok {
		panic(fmt.Sprintf("fakegithub: AddReview: no pull request %s/%s#%d", owner, repo, number))
	}
	switch rv.State {
	case ReviewApproved, ReviewChangesRequested:
		if strings.EqualFold(rv.User, pr.Author) {
			panic(fmt.Sprintf("fakegithub: AddReview: GitHub does not let %s, the author of %s/%s#%d, %s it", rv.User, owner, repo, number, rv.State))
		}
	case ReviewCommented, ReviewDismissed:
	default:
		panic(fmt.Sprintf("fakegithub: AddReview: unknown state %q", rv.State))
	}
	if rv.ID == 0 {
		s.nextReviewID = max(s.nextReviewID, firstReviewID)
		rv.ID = s.nextReviewID
		s.nextReviewID++
	}
	if rv.CommitID == "" {
		rv.CommitID = pr.HeadSHA
	}
	if rv.SubmittedAt.IsZero() {
		rv.SubmittedAt = s.now().UTC().Truncate(time.Second)
	}
	if s.reviews == nil {
		s.reviews = map[issueKey][]*Review{}
	}
	k := key(owner, repo, number)
	s.reviews[k] = append(s.reviews[k], &rv)
	return rv
}

// DismissReview dismisses a review, as a maintainer does from the pull
// request's page: its state becomes DISMISSED. False when there is no
// such review or it is neither approving nor requesting changes (GitHub
// answers 422 "Can not dismiss a commented pull request review").
func (s *Server) DismissReview(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rvs := range s.reviews {
		for _, rv := range rvs {
			if rv.ID != id {
				continue
			}
			if rv.State != ReviewApproved && rv.State != ReviewChangesRequested {
				return false
			}
			rv.State = ReviewDismissed
			return true
		}
	}
	return false
}

// SetCollaborator gives login a role on the repository: RoleRead,
// RoleTriage, RoleWrite, RoleMaintain or RoleAdmin; "" removes it. Users
// without a role are not collaborators: the permission API answers 404
// for them. (SetPermission is about what a token may do, not a user.)
func (s *Server) SetCollaborator(owner, repo, login, role string) {
	switch role {
	case "", RoleRead, RoleTriage, RoleWrite, RoleMaintain, RoleAdmin:
	default:
		panic(fmt.Sprintf("fakegithub: SetCollaborator: unknown role %q", role))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.collaborators == nil {
		s.collaborators = map[repoKey]map[string]string{}
	}
	k := rkey(owner, repo)
	if s.collaborators[k] == nil {
		s.collaborators[k] = map[string]string{}
	}
	if role == "" {
		delete(s.collaborators[k], strings.ToLower(login))
		return
	}
	s.collaborators[k][strings.ToLower(login)] = role
}

// AddTeamMember makes login a member of the team org/team (its slug) in
// state "active" or "pending" (invited, not yet accepted).
func (s *Server) AddTeamMember(org, team, login, state string) {
	if state != "active" && state != "pending" {
		panic(fmt.Sprintf("fakegithub: AddTeamMember: unknown state %q", state))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.teams == nil {
		s.teams = map[string]map[string]string{}
	}
	k := strings.ToLower(org + "/" + team)
	if s.teams[k] == nil {
		s.teams[k] = map[string]string{}
	}
	s.teams[k][strings.ToLower(login)] = state
}

func (s *Server) routeReviews(r *http.Request, path, login string) (response, bool) {
	if r.Method != http.MethodGet {
		return response{}, false
	}
	if m := rePullReviews.FindStringSubmatch(path); m != nil {
		n, _ := strconv.Atoi(m[3])
		return s.listReviews(r, m[1], m[2], n), true
	}
	if m := reCollabPermission.FindStringSubmatch(path); m != nil {
		return s.collaboratorPermission(r, m[1], m[2], m[3], login), true
	}
	if m := reTeamMembership.FindStringSubmatch(path); m != nil {
		return s.teamMembership(r, m[1], m[2], m[3], login), true
	}
	return response{}, false
}

func (s *Server) listReviews(r *http.Request, owner, repo string, n int) response {
	const route = "GET pull request reviews"
	k := key(owner, repo, n)
	if _, ok := s.pulls[k]; !ok {
		return notFound(route)
	}
	rvs := s.reviews[k]
	lo, hi, pageNo, _, last := page(r, len(rvs))
	items := []map[string]any{}
	for _, rv := range rvs[lo:hi] {
		items = append(items, s.reviewJSON(r, owner, repo, n, rv))
	}
	resp := jsonResponse(http.StatusOK, items)
	resp.route = route
	if l := link(r, pageNo, last); l != "" {
		resp.header.Set("Link", l)
	}
	return resp
}

func (s *Server) reviewJSON(r *http.Request, owner, repo string, n int, rv *Review) map[string]any {
	assoc := "NONE"
	if _, ok := s.collaborators[rkey(owner, repo)][strings.ToLower(rv.User)]; ok {
		assoc = "COLLABORATOR"
	}
	return map[string]any{
		"id":                 rv.ID,
		"node_id":            fmt.Sprintf("PRR_%d", rv.ID),
		"user":               s.userJSON(r, rv.User),
		"body":               rv.Body,
		"state":              rv.State,
		"html_url":           fmt.Sprintf("https://github.com/%s/%s/pull/%d#pullrequestreview-%d", owner, repo, n, rv.ID),
		"pull_request_url":   fmt.Sprintf("http://%s%s/repos/%s/%s/pulls/%d", r.Host, s.prefix, owner, repo, n),
		"submitted_at":       rv.SubmittedAt.UTC().Format(time.RFC3339),
		"commit_id":          rv.CommitID,
		"author_association": assoc,
	}
}

// legacyPermission is the "permission" field GitHub still serves beside
// "role_name": it knows only admin, write and read, so maintain reads as
// write and triage as read.
func legacyPermission(role string) string {
	switch role {
	case RoleAdmin:
		return "admin"
	case RoleMaintain, RoleWrite:
		return "write"
	case RoleTriage, RoleRead:
		return "read"
	}
	return "none"
}

// collaboratorPermission is GET /repos/{owner}/{repo}/collaborators/
// {username}/permission: the user's role for a collaborator, 404 for
// anyone else. A personal access token whose own user is a collaborator
// below write gets GitHub's 403, as only people with push access may ask.
func (s *Server) collaboratorPermission(r *http.Request, owner, repo, user, login string) response {
	const route = "GET collaborator permission"
	docs := docsBase + "/collaborators/collaborators#get-repository-permissions-for-a-user"
	roles := s.collaborators[rkey(owner, repo)]
	if own, ok := roles[strings.ToLower(login)]; ok && !IsBot(login) && legacyPermission(own) == "read" {
		resp := jsonResponse(http.StatusForbidden, errorJSON("Must have push access to view collaborator permission.", docs, http.StatusForbidden))
		resp.route = route
		return resp
	}
	role, ok := roles[strings.ToLower(user)]
	if !ok {
		resp := jsonResponse(http.StatusNotFound, errorJSON("Not Found", docs, http.StatusNotFound))
		resp.route = route
		return resp
	}
	perm := legacyPermission(role)
	u := s.userJSON(r, user)
	u["role_name"] = role
	u["permissions"] = map[string]bool{
		"admin":    role == RoleAdmin,
		"maintain": role == RoleAdmin || role == RoleMaintain,
		"push":     perm == "admin" || perm == "write",
		"triage":   role != RoleRead,
		"pull":     true,
	}
	resp := jsonResponse(http.StatusOK, map[string]any{"permission": perm, "role_name": role, "user": u})
	resp.route = route
	return resp
}

// teamMembership is GET /orgs/{org}/teams/{team_slug}/memberships/
// {username}: the membership's state and role, 404 when the user is not
// in the team (or there is no such team). GITHUB_TOKEN (DefaultLogin)
// gets 403: a workflow's token has no organization permissions. Other
// tokens need "members" read (SetPermission), which they have unless set
// otherwise.
func (s *Server) teamMembership(r *http.Request, org, team, user, login string) response {
	const route = "GET team membership"
	docs := docsBase + "/teams/members#get-team-membership-for-a-user"
	if login == DefaultLogin {
		resp := jsonResponse(http.StatusForbidden, errorJSON(NoPermissionMessage, docs, http.StatusForbidden))
		resp.header.Set("X-Accepted-GitHub-Permissions", "members=read")
		resp.route = route
		return resp
	}
	if bad := s.allowedLocked(r, login, "members", false, route, docs); bad != nil {
		return *bad
	}
	state, ok := s.teams[strings.ToLower(org+"/"+team)][strings.ToLower(user)]
	if !ok {
		resp := jsonResponse(http.StatusNotFound, errorJSON("Not Found", docs, http.StatusNotFound))
		resp.route = route
		return resp
	}
	resp := jsonResponse(http.StatusOK, map[string]any{
		"url":   fmt.Sprintf("http://%s%s/teams/%d/memberships/%s", r.Host, s.prefix, userID(org+"/"+team), url.PathEscape(user)),
		"role":  "member",
		"state": state,
	})
	resp.route = route
	return resp
}
