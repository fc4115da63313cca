package github

// This file keeps one issue per drifted stack: opened when a drift check
// finds the stack's resources differ from its configuration, updated on
// each later drift check, closed with a comment once the stack is clean.
//
// An issue is konductor's when its body starts with the stack's drift
// marker AND the token's account wrote it, as for the sticky comment (see
// "Whose comment is the sticky comment"): anyone can paste the marker, and
// an issue someone else wrote is never edited, commented on or closed.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// The labels every drift issue carries; konductor finds its issues by
// them, so a drift issue whose labels were removed is not found again.
const (
	LabelKonductor = "konductor"
	LabelDrift     = "drift"
)

// driftLabels are created in a repository that lacks them, before the
// first drift issue: GitHub does not promise to create unknown labels.
var driftLabels = []*gh.Label{
	{Name: gh.String(LabelKonductor), Color: gh.String("5319e7"), Description: gh.String("Opened and kept up to date by konductor")},
	{Name: gh.String(LabelDrift), Color: gh.String("d93f0b"), Description: gh.String("A stack's resources differ from its configuration")},
}

// ErrIssuesPermission is wrapped when GitHub refuses an issue call with a
// 403 (not a rate limit): the job's token lacks issues: write.
var ErrIssuesPermission = errors.New("the token may not write issues: give the job `permissions: issues: write`")

// ErrIssuesDisabled is wrapped when GitHub answers 410 Gone: the
// repository's issues are turned off in its settings.
var ErrIssuesDisabled = errors.New("the repository's issues are turned off (Settings → Features → Issues)")

// MaxIssueBody is GitHub's limit on an issue body, in characters.
const MaxIssueBody = 65536

// reDriftMarker is the first line of a drift issue's body; first-seen and
// first-run are kept there, so every update says since when the stack
// has drifted.
var reDriftMarker = regexp.MustCompile(`^<!-- konductor:drift stack=(\S+) first-seen=(\S+)(?: first-run=(\S+))? -->`)

// Drift is what a drift check found for one stack.
type Drift struct {
	Stack string
	// Report is the stack's markdown report, already masked; its end is
	// cut if the issue body would exceed MaxIssueBody.
	Report string
	// RunURL links the workflow run that checked ("" when unknown).
	RunURL string
}

// DriftIssue is a stack's drift issue after ReportDrift or ResolveDrift.
type DriftIssue struct {
	Number int
	URL    string
	// Created, Updated and Closed say what this call did.
	Created, Updated, Closed bool
	// FirstSeen is when a drift check first found this drift.
	FirstSeen time.Time
	// Duplicates are newer drift issues of the same stack, closed as
	// duplicates of this one (one created by a call that failed after it
	// took effect).
	Duplicates []int
}

// DriftIssueTitle is the title of a stack's drift issue.
func DriftIssueTitle(stack string) string { return "Drift in stack " + stack }

// ReportDrift opens the stack's drift issue, or updates the open one: its
// body is the report, with when the drift was first and last seen and
// links to those runs. Only an issue the token's account wrote is updated;
// the labels are created first if the repository lacks them.
func (c *Client) ReportDrift(ctx context.Context, owner, repo string, d Drift) (*DriftIssue, error) {
	if err := checkStack(d.Stack); err != nil {
		return nil, err
	}
	now := c.clock.Now().UTC()
	mine, unsure, err := c.driftIssues(ctx, owner, repo, d.Stack)
	if err != nil {
		return nil, err
	}
	if len(mine) == 0 {
		created, err := c.createDriftIssue(ctx, owner, repo, d, now)
		if err != nil || !unsure {
			return created, err
		}
		// The token's account was unknown while issues by an unknown
		// author carried the marker; the created issue's author now
		// tells. If one of those was ours after all, the older one is
		// kept and the new one closed as its duplicate.
		if mine, _, err = c.driftIssues(ctx, owner, repo, d.Stack); err != nil {
			return nil, err
		}
		if len(mine) == 0 || mine[0].GetNumber() == created.Number {
			return created, nil
		}
	}
	keep := mine[0]
	res := &DriftIssue{Number: keep.GetNumber(), URL: keep.GetHTMLURL()}
	for _, dup := range mine[1:] {
		if err := c.closeDuplicate(ctx, owner, repo, dup.GetNumber(), keep.GetNumber()); err != nil {
			return nil, err
		}
		res.Duplicates = append(res.Duplicates, dup.GetNumber())
	}
	first, firstRun := seen(keep)
	res.FirstSeen = first
	body := driftBody(d, first, firstRun, now)
	if body == keep.GetBody() && keep.GetTitle() == DriftIssueTitle(d.Stack) {
		return res, nil
	}
	edited, _, err := c.issues.Edit(ctx, owner, repo, keep.GetNumber(), &gh.IssueRequest{
		Title: gh.String(DriftIssueTitle(d.Stack)), Body: gh.String(body)})
	if err != nil {
		return nil, issueErr(fmt.Sprintf("update drift issue %s/%s#%d", owner, repo, keep.GetNumber()), err)
	}
	res.URL, res.Updated = edited.GetHTMLURL(), true
	return res, nil
}

// ResolveDrift closes the stack's open drift issue, with a comment saying
// the stack matches its configuration again (linking runURL); nil when
// the stack has none. Only an issue the token's account wrote is closed.
func (c *Client) ResolveDrift(ctx context.Context, owner, repo, stack, runURL string) (*DriftIssue, error) {
	if err := checkStack(stack); err != nil {
		return nil, err
	}
	mine, _, err := c.driftIssues(ctx, owner, repo, stack)
	if err != nil || len(mine) == 0 {
		return nil, err
	}
	now := c.clock.Now().UTC()
	run := ""
	if link := runLink(runURL); link != "" {
		run = " (" + link + ")"
	}
	msg := fmt.Sprintf("✅ The drift check of %s%s found stack `%s` matching its configuration again. Closing.", when(now), run, stack)
	var res *DriftIssue
	// Normally one; any duplicates are closed with it.
	for _, is := range mine {
		if err := c.closeIssue(ctx, owner, repo, is.GetNumber(), msg, "completed"); err != nil {
			return nil, err
		}
		if res == nil {
			first, _ := seen(is)
			res = &DriftIssue{Number: is.GetNumber(), URL: is.GetHTMLURL(), Closed: true, FirstSeen: first}
		} else {
			res.Duplicates = append(res.Duplicates, is.GetNumber())
		}
	}
	return res, nil
}

// checkStack refuses a stack name that cannot stand in the marker.
func checkStack(stack string) error {
	if stack == "" || strings.ContainsAny(stack, " \t\r\n<>\"") || strings.Contains(stack, "--") {
		return fmt.Errorf("github: stack name %q cannot name a drift issue", stack)
	}
	return nil
}

// driftIssues lists the open issues labelled konductor and drift, every
// page, and returns the stack's drift issues the token's account wrote,
// oldest first. unsure says issues carried the marker while GitHub could
// not tell the token's account. Issues by others are named once in a
// warning.
func (c *Client) driftIssues(ctx context.Context, owner, repo, stack string) (mine []*gh.Issue, unsure bool, err error) {
	var marked []*gh.Issue
	opts := &gh.IssueListByRepoOptions{State: "open", Labels: []string{LabelKonductor, LabelDrift},
		Sort: "created", Direction: "asc", ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		page, resp, err := c.issues.ListByRepo(ctx, owner, repo, opts)
		if err != nil {
			return nil, false, issueErr(fmt.Sprintf("list the drift issues of %s/%s (page %d)", owner, repo, max(opts.Page, 1)), err)
		}
		for _, is := range page {
			// GitHub lists pull requests among the issues.
			if is.IsPullRequest() {
				continue
			}
			if m := reDriftMarker.FindStringSubmatch(is.GetBody()); m != nil && m[1] == stack {
				marked = append(marked, is)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(marked) == 0 {
		return nil, false, nil // no need to know who we are
	}
	me, err := c.whoami(ctx)
	if err != nil {
		return nil, false, err
	}
	for _, is := range marked {
		if isMe(is.GetUser().GetLogin(), me) {
			mine = append(mine, is)
			continue
		}
		c.ignoreIssue(owner, repo, is, me)
	}
	slices.SortFunc(mine, func(a, b *gh.Issue) int { return a.GetNumber() - b.GetNumber() })
	return mine, me == "", nil
}

type issueRef struct {
	owner, repo string
	number      int
}

// ignoreIssue says, once per issue and client, that an issue carrying a
// drift marker is left alone because another account wrote it.
func (c *Client) ignoreIssue(owner, repo string, is *gh.Issue, me string) {
	if me == "" {
		c.log.Warn("github: cannot tell which account the token writes as, so an issue with konductor's drift marker is left alone",
			"issue", is.GetNumber(), "author", is.GetUser().GetLogin())
		return
	}
	ref := issueRef{strings.ToLower(owner), strings.ToLower(repo), is.GetNumber()}
	if _, seen := c.ignored.LoadOrStore(ref, true); seen {
		return
	}
	c.log.Warn("github: leaving alone an issue that starts with konductor's drift marker but was not written by this token's account",
		"issue", is.GetNumber(), "url", is.GetHTMLURL(),
		"author", is.GetUser().GetLogin(), "author_type", is.GetUser().GetType(), "token_account", me)
}

func (c *Client) createDriftIssue(ctx context.Context, owner, repo string, d Drift, now time.Time) (*DriftIssue, error) {
	if err := c.ensureLabels(ctx, owner, repo); err != nil {
		return nil, err
	}
	created, _, err := c.issues.Create(ctx, owner, repo, &gh.IssueRequest{
		Title:  gh.String(DriftIssueTitle(d.Stack)),
		Body:   gh.String(driftBody(d, now, d.RunURL, now)),
		Labels: &[]string{LabelKonductor, LabelDrift},
	})
	if err != nil {
		return nil, issueErr(fmt.Sprintf("open a drift issue for stack %s in %s/%s", d.Stack, owner, repo), err)
	}
	// The author of what the client created is the token's account.
	c.learn(created.GetUser().GetLogin())
	return &DriftIssue{Number: created.GetNumber(), URL: created.GetHTMLURL(), Created: true, FirstSeen: now}, nil
}

// ensureLabels creates the drift labels the repository lacks.
func (c *Client) ensureLabels(ctx context.Context, owner, repo string) error {
	for _, l := range driftLabels {
		_, _, err := c.issues.GetLabel(ctx, owner, repo, l.GetName())
		if err == nil {
			continue
		}
		if !isNotFound(err) {
			return issueErr(fmt.Sprintf("read label %s of %s/%s", l.GetName(), owner, repo), err)
		}
		_, _, err = c.issues.CreateLabel(ctx, owner, repo, l)
		if err != nil && !isStatus(err, http.StatusUnprocessableEntity) { // 422: created meanwhile
			return issueErr(fmt.Sprintf("create label %s in %s/%s", l.GetName(), owner, repo), err)
		}
		c.log.Info("github: created a label for drift issues", "label", l.GetName(), "repo", owner+"/"+repo)
	}
	return nil
}

func (c *Client) closeDuplicate(ctx context.Context, owner, repo string, dup, keep int) error {
	c.log.Info("github: closing a duplicate drift issue", "duplicate", dup, "kept", keep)
	return c.closeIssue(ctx, owner, repo, dup,
		fmt.Sprintf("Duplicate of #%d: konductor keeps one drift issue per stack.", keep), "not_planned")
}

// closeIssue comments on an issue, then closes it: the comment says why
// right above the close in the issue's timeline.
func (c *Client) closeIssue(ctx context.Context, owner, repo string, number int, comment, reason string) error {
	if _, _, err := c.issues.CreateComment(ctx, owner, repo, number, &gh.IssueComment{Body: gh.String(comment)}); err != nil {
		return issueErr(fmt.Sprintf("comment on issue %s/%s#%d", owner, repo, number), err)
	}
	if _, _, err := c.issues.Edit(ctx, owner, repo, number, &gh.IssueRequest{State: gh.String("closed"), StateReason: gh.String(reason)}); err != nil {
		return issueErr(fmt.Sprintf("close issue %s/%s#%d", owner, repo, number), err)
	}
	return nil
}

// seen reads when and in which run a drift issue's drift was first seen
// from its marker; the issue's creation when the marker lacks it.
func seen(is *gh.Issue) (time.Time, string) {
	m := reDriftMarker.FindStringSubmatch(is.GetBody())
	if m != nil {
		if t, err := time.Parse(time.RFC3339, m[2]); err == nil {
			return t.UTC(), m[3]
		}
	}
	return is.GetCreatedAt().Time.UTC(), ""
}

// driftBody is a drift issue's body: the marker, when the drift was
// first and last seen, and the report, cut to fit MaxIssueBody.
func driftBody(d Drift, first time.Time, firstRun string, last time.Time) string {
	if !safeURL(firstRun) {
		firstRun = ""
	}
	lastRun := d.RunURL
	if !safeURL(lastRun) {
		lastRun = ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- konductor:drift stack=%s first-seen=%s", d.Stack, first.UTC().Format(time.RFC3339))
	if firstRun != "" {
		b.WriteString(" first-run=" + firstRun)
	}
	b.WriteString(" -->\n")
	fmt.Fprintf(&b, "A scheduled drift check (a preview with refresh) found that the resources of stack `%s` differ from its configuration.\n\n", d.Stack)
	fmt.Fprintf(&b, "- **First seen:** %s%s\n", when(first), paren(runLink(firstRun)))
	fmt.Fprintf(&b, "- **Last seen:** %s%s\n\n", when(last), paren(runLink(lastRun)))
	b.WriteString("To resolve it, deploy the configuration, or change the configuration to match what is deployed. " +
		"konductor updates this issue on every drift check and closes it once the stack matches its configuration again; " +
		"it finds the issue by its labels `" + LabelKonductor + "` and `" + LabelDrift + "`, so leave them on.\n\n---\n\n")
	head := b.String()
	report := strings.TrimRight(d.Report, "\n")
	if room := MaxIssueBody - runes(head) - 1; runes(report) > room {
		// The caller renders the report within budget; this is the
		// backstop, cut at a line and closing what it leaves open.
		report = truncateBody(report, room, MaxIssueBody)
	}
	return head + report + "\n"
}

func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func runLink(u string) string {
	if u == "" || !safeURL(u) {
		return ""
	}
	return "[workflow run](" + u + ")"
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// safeURL says whether u can stand in the marker and a markdown link.
func safeURL(u string) bool {
	return u != "" && (strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) &&
		!strings.ContainsAny(u, " \t\r\n\"<>()") && !strings.Contains(u, "--")
}

// issueErr wraps a failed issue call; a 403 that is not a rate limit (the
// transport turns those into *RateLimitError) is the missing permission,
// a 410 issues turned off.
func issueErr(what string, err error) error {
	var er *gh.ErrorResponse
	switch {
	case isStatus(err, http.StatusForbidden) && errors.As(err, &er):
		return fmt.Errorf("github: %s: %w (GitHub answered 403 %q)", what, ErrIssuesPermission, er.Message)
	case isStatus(err, http.StatusGone) && errors.As(err, &er):
		return fmt.Errorf("github: %s: %w (GitHub answered 410 %q)", what, ErrIssuesDisabled, er.Message)
	}
	return fmt.Errorf("github: %s: %w", what, err)
}

func isStatus(err error, status int) bool {
	var er *gh.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == status
}
