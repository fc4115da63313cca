package github

// Policy overrides (issue 15): a reviewer with write access lets a pull
// request through a mandatory policy violation by approving its head
// commit with a line
//
//	konductor override <pack>/<rule> [stack] : <reason>
//
// in the review's body. Overrides finds those lines and says which count
// and, for each one that does not, why; what they override is the
// action's business.
//
// # What counts
//
// A line counts when all of these hold, checked in this order (the first
// that fails is the reason given):
//
//   - its author is not the pull request's author;
//   - it is well formed, with a reason after the ':';
//   - it is in a review, not in a comment;
//   - the review is APPROVED (a DISMISSED one no longer is);
//   - the review is of the pull request's head commit: a new commit needs
//     a new approval;
//   - the reviewer's latest review still approves. Reviews are listed
//     oldest first; as in GitHub's own tally of a reviewer's state, a later
//     COMMENTED review leaves an approval standing, while a later
//     CHANGES_REQUESTED review replaces it. A later review that was
//     dismissed withdraws it too: dismissing is how a maintainer takes an
//     approval back, and an older approval of the same reviewer must not
//     come back with it;
//   - the reviewer's role on the repository (the collaborator permission
//     API's role_name) is write, maintain or admin; a user who is not a
//     collaborator (404) cannot override. A custom role counts by the
//     permission it is based on.
//
// override_by (a rule's list of users and org/team slugs) is checked by
// OverrideAllowed, per rule, on the overrides that count.
//
// # Which lines are override lines
//
// A line is one when, trimmed of surrounding white space, it starts with
// "konductor override" (any case). A quoted line ("> konductor
// override ...") is someone quoting an override, and a line inside a
// fenced code block is an example: neither is one. Backticks around the
// pack/rule and the stack are allowed.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	gh "github.com/google/go-github/v62/github"
)

// Override is an override line that counts.
type Override struct {
	Pack, Rule string
	// Stack limits the override to one stack; empty: every stack.
	Stack  string
	Reason string
	// By is the reviewer's login.
	By string
	// ReviewID is the review holding the line (0 for a comment), Commit
	// the commit it reviewed, URL its page.
	ReviewID int64
	Commit   string
	URL      string
}

// Covers reports whether o overrides the rule pack/rule on stack. Names
// compare case-insensitively: a reviewer types them.
func (o Override) Covers(pack, rule, stack string) bool {
	return strings.EqualFold(o.Pack, pack) && strings.EqualFold(o.Rule, rule) &&
		(o.Stack == "" || strings.EqualFold(o.Stack, stack))
}

// Rejected is an override line that does not count, and why. The fields
// of Override are what could be read of the line.
type Rejected struct {
	Override
	// Line is the line as written, trimmed.
	Line string
	// Why is a sentence for a person, such as "the review is COMMENTED,
	// not APPROVED".
	Why string
}

// String says which override did not count and why, for the report.
func (r Rejected) String() string {
	what := fmt.Sprintf("%q", r.Line)
	if r.Pack != "" {
		what = r.Pack + "/" + r.Rule
		if r.Stack != "" {
			what += " (stack " + r.Stack + ")"
		}
	}
	by := ""
	if r.By != "" {
		by = " by @" + r.By
	}
	return fmt.Sprintf("override of %s%s did not count: %s", what, by, r.Why)
}

// ErrTeamsUnreadable is wrapped by InTeam's error when GitHub refuses the
// token a look at team membership.
var ErrTeamsUnreadable = errors.New("github: the token cannot read team membership " +
	"(GITHUB_TOKEN never can; use a GitHub App token with the organization's Members: read permission, " +
	"or a personal access token with read:org)")

// Overrides reads the override lines of a pull request's reviews (every
// page) and comments, and sorts them into the ones that count and the
// ones that do not (see "What counts" above), each in the order GitHub
// lists them. It asks GitHub for each reviewer's permission at most once.
// An error means it could not tell: nothing counts then.
func (c *Client) Overrides(ctx context.Context, owner, repo string, pr int) ([]Override, []Rejected, error) {
	p, _, err := c.pulls.Get(ctx, owner, repo, pr)
	if err != nil {
		return nil, nil, fmt.Errorf("github: get pull request %s/%s#%d: %w", owner, repo, pr, err)
	}
	head, author := p.GetHead().GetSHA(), p.GetUser().GetLogin()
	reviews, err := c.reviews(ctx, owner, repo, pr)
	if err != nil {
		return nil, nil, err
	}
	// The latest review of each reviewer that approves or takes an
	// approval back; COMMENTED reviews change nothing.
	latest := map[string]*gh.PullRequestReview{}
	for _, rv := range reviews {
		switch rv.GetState() {
		case "APPROVED", "CHANGES_REQUESTED", "DISMISSED":
			latest[strings.ToLower(rv.GetUser().GetLogin())] = rv
		}
	}

	var ok []Override
	var rejected []Rejected
	roles := map[string]string{} // lower-case login → why not ("" when allowed)
	for _, rv := range reviews {
		login := rv.GetUser().GetLogin()
		for _, l := range overrideLines(rv.GetBody()) {
			o := l.o
			o.By, o.ReviewID, o.Commit, o.URL = login, rv.GetID(), rv.GetCommitID(), rv.GetHTMLURL()
			why := reviewWhy(rv, l, author, head, latest[strings.ToLower(login)])
			if why == "" {
				w, seen := roles[strings.ToLower(login)]
				if !seen {
					if w, err = c.roleWhy(ctx, owner, repo, login); err != nil {
						return nil, nil, err
					}
					roles[strings.ToLower(login)] = w
				}
				why = w
			}
			if why != "" {
				rejected = append(rejected, Rejected{Override: o, Line: l.line, Why: why})
				continue
			}
			ok = append(ok, o)
		}
	}

	// Lines in comments never count; they are listed so that whoever wrote
	// one learns why nothing happened.
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		page, resp, err := c.issues.ListComments(ctx, owner, repo, pr, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("github: list comments of %s/%s#%d (page %d): %w", owner, repo, pr, max(opts.Page, 1), err)
		}
		for _, cm := range page {
			if _, _, marked := Parse(cm.GetBody()); marked {
				continue // konductor's own comment, which may show how to override
			}
			login := cm.GetUser().GetLogin()
			for _, l := range overrideLines(cm.GetBody()) {
				o := l.o
				o.By, o.URL = login, cm.GetHTMLURL()
				why := authorWhy(login, author)
				if why == "" {
					why = "in a comment; an override goes in the body of an approving review"
				}
				rejected = append(rejected, Rejected{Override: o, Line: l.line, Why: why})
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return ok, rejected, nil
}

// reviews lists every review of a pull request, oldest first.
func (c *Client) reviews(ctx context.Context, owner, repo string, pr int) ([]*gh.PullRequestReview, error) {
	var all []*gh.PullRequestReview
	opts := &gh.ListOptions{PerPage: 100}
	for {
		page, resp, err := c.pulls.ListReviews(ctx, owner, repo, pr, opts)
		if err != nil {
			return nil, fmt.Errorf("github: list reviews of %s/%s#%d (page %d): %w", owner, repo, pr, max(opts.Page, 1), err)
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			return all, nil
		}
		opts.Page = resp.NextPage
	}
}

func authorWhy(login, author string) string {
	switch {
	case login == "":
		return "by a deleted account"
	case strings.EqualFold(login, author):
		return "by @" + login + ", the pull request's author, who cannot override their own pull request"
	}
	return ""
}

// reviewWhy says why a line of review rv does not count, short of the
// reviewer's role; "" when it counts so far. latest is the reviewer's
// latest approving, changes-requesting or dismissed review.
func reviewWhy(rv *gh.PullRequestReview, l overrideLine, author, head string, latest *gh.PullRequestReview) string {
	login := rv.GetUser().GetLogin()
	if why := authorWhy(login, author); why != "" {
		return why
	}
	if l.problem != "" {
		return l.problem
	}
	switch st := rv.GetState(); st {
	case "APPROVED":
	case "DISMISSED":
		return "review dismissed"
	default:
		return "the review is " + st + ", not APPROVED"
	}
	if commit := rv.GetCommitID(); !SameCommit(commit, head) {
		return fmt.Sprintf("approval is on commit %s, not the head %s: a new commit needs a new approval", short(commit), short(head))
	}
	if latest != nil && latest.GetID() != rv.GetID() {
		switch latest.GetState() {
		case "CHANGES_REQUESTED":
			return "@" + login + " requested changes after this approval"
		case "DISMISSED":
			return "a later review by @" + login + " was dismissed, which withdraws this approval"
		}
	}
	return ""
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// roleWhy says why login's role on owner/repo does not let them
// override; "" when it does.
func (c *Client) roleWhy(ctx context.Context, owner, repo, login string) (string, error) {
	const need = "an override needs write, maintain or admin"
	role, perm, found, err := c.permission(ctx, owner, repo, login)
	switch {
	case err != nil:
		return "", err
	case !found:
		return fmt.Sprintf("@%s is not a collaborator on %s/%s; %s", login, owner, repo, need), nil
	}
	switch role {
	case "write", "maintain", "admin":
		return "", nil
	case "read", "triage", "":
	default:
		// A custom role: what counts is the base role's permission.
		if perm == "write" || perm == "admin" {
			return "", nil
		}
	}
	if role == "" {
		role = perm
	}
	return fmt.Sprintf("@%s has %s permission on %s/%s; %s", login, role, owner, repo, need), nil
}

// permission is GET /repos/{owner}/{repo}/collaborators/{username}/
// permission: role_name (read, triage, write, maintain, admin or a custom
// role), and the legacy permission (admin, write, read or none), which
// cannot tell maintain from write or triage from read. go-github's
// GetPermissionLevel drops role_name, hence the request by hand.
func (c *Client) permission(ctx context.Context, owner, repo, login string) (role, perm string, found bool, err error) {
	u := fmt.Sprintf("repos/%s/%s/collaborators/%s/permission", url.PathEscape(owner), url.PathEscape(repo), url.PathEscape(login))
	req, err := c.api.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return "", "", false, fmt.Errorf("github: permission of @%s on %s/%s: %w", login, owner, repo, err)
	}
	var out struct {
		Permission string `json:"permission"`
		RoleName   string `json:"role_name"`
	}
	if _, err := c.api.Do(ctx, req, &out); err != nil {
		if isNotFound(err) {
			return "", "", false, nil
		}
		return "", "", false, fmt.Errorf("github: permission of @%s on %s/%s: %w", login, owner, repo, err)
	}
	return out.RoleName, out.Permission, true, nil
}

// InTeam reports whether login is an active member of the team org/team
// (team is the slug): a pending invitation is not membership, and GitHub's
// 404 means not a member (or no such team). When GitHub refuses the token
// (403) the error wraps ErrTeamsUnreadable. Answers are kept for the
// client's life.
func (c *Client) InTeam(ctx context.Context, org, team, login string) (bool, error) {
	k := strings.ToLower(org + "/" + team + "/" + login)
	if v, ok := c.teams.Load(k); ok {
		return v.(bool), nil
	}
	m, _, err := c.api.Teams.GetTeamMembershipBySlug(ctx, org, team, login)
	var er *gh.ErrorResponse
	switch {
	case isNotFound(err):
	case errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusForbidden:
		return false, fmt.Errorf("%w: team %s/%s: %w", ErrTeamsUnreadable, org, team, err)
	case err != nil:
		return false, fmt.Errorf("github: membership of @%s in team %s/%s: %w", login, org, team, err)
	}
	in := err == nil && m.GetState() == "active"
	c.teams.Store(k, in)
	return in, nil
}

// OverrideAllowed reports whether a rule's override_by list lets login
// override it. An empty list lets anyone (Overrides already required
// write, maintain or admin); otherwise an entry "org/team" (a team slug)
// lets the team's active members, asked of inTeam (Client.InTeam), and
// any other entry is a login ("@" optional), compared case-insensitively.
// Logins are compared first, so a listed user costs no request. An error
// is returned only when no entry allowed login and a team could not be
// checked.
func OverrideAllowed(ctx context.Context, by []string, login string, inTeam func(ctx context.Context, org, team, login string) (bool, error)) (bool, error) {
	if len(by) == 0 {
		return true, nil
	}
	var teams [][2]string
	for _, e := range by {
		e = strings.TrimPrefix(strings.TrimSpace(e), "@")
		if org, team, ok := strings.Cut(e, "/"); ok {
			teams = append(teams, [2]string{org, team})
		} else if e != "" && strings.EqualFold(e, login) {
			return true, nil
		}
	}
	var errs []error
	for _, t := range teams {
		if inTeam == nil {
			errs = append(errs, fmt.Errorf("github: no way to check team %s/%s", t[0], t[1]))
			continue
		}
		in, err := inTeam(ctx, t[0], t[1], login)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if in {
			return true, nil
		}
	}
	return false, errors.Join(errs...)
}

type overrideLine struct {
	o    Override // Pack, Rule, Stack and Reason, as far as they could be read
	line string
	// problem says what is wrong with the line; "" when nothing is.
	problem string
}

var reOverride = regexp.MustCompile(`(?i)^konductor\s+override\b(.*)$`)

const overrideSyntax = "not `konductor override <pack>/<rule> [stack] : <reason>`"

// overrideLines finds the override lines of a review's or comment's body
// (see "Which lines are override lines" above).
func overrideLines(body string) []overrideLine {
	var out []overrideLine
	fenced := false
	for _, raw := range strings.Split(body, "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "```") || strings.HasPrefix(line, "~~~") {
			fenced = !fenced
			continue
		}
		m := reOverride.FindStringSubmatch(line)
		if fenced || m == nil {
			continue
		}
		l := overrideLine{line: line}
		target, reason, colon := strings.Cut(m[1], ":")
		fields := strings.Fields(strings.ReplaceAll(target, "`", ""))
		l.o.Reason = strings.TrimSpace(reason)
		if len(fields) > 0 {
			l.o.Pack, l.o.Rule, _ = strings.Cut(fields[0], "/")
		}
		if len(fields) > 1 {
			l.o.Stack = fields[1]
		}
		switch {
		case len(fields) == 0 || len(fields) > 2:
			l.problem = overrideSyntax
		case l.o.Pack == "" || l.o.Rule == "" || strings.Contains(l.o.Rule, "/"):
			l.problem = fmt.Sprintf("%q is not <pack>/<rule>", fields[0])
		case !colon:
			l.problem = "no ': <reason>' after the rule; the reason is required"
		case l.o.Reason == "":
			l.problem = "no reason after ':'"
		}
		out = append(out, l)
	}
	return out
}
