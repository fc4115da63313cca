package github

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// Comment is the sticky comment after UpsertSection.
type Comment struct {
	ID   int64
	URL  string // html_url
	Body string
	// Created is true when this call created the comment, Updated when it
	// edited it; both false when the comment already held the section.
	Created, Updated bool
}

// UpsertSection writes section into the pull request's sticky comment and
// leaves every other section as it is.
//
// The comment is the oldest comment of the pull request whose body starts
// with CommentMarker and that the token's account wrote, looked for on every
// page; comments without the marker are never touched, and neither are
// newer marked comments nor marked comments of other accounts (see the
// package documentation for how the account is known). It is re-read
// right before writing, only this section is replaced or inserted, and the
// body is PATCHed only when it changed. If it was deleted meanwhile a new one
// is created. GitHub has no conditional update, so after writing the comment
// is read back (after the verify delay) to check that this section is there
// and that no section seen before was dropped by a concurrent writer; if one
// was, the whole upsert starts over, up to the upsert attempts.
//
// Sections named in section.Replaces are removed.
//
// When section.SHA is set, the pull request's head commit decides what is
// outdated: sections of another commit are marked as superseded by the head
// (not removed), and a section for an old commit never replaces one for the
// head.
func (c *Client) UpsertSection(ctx context.Context, owner, repo string, pr int, section Section) (*Comment, error) {
	if err := ValidateSection(section); err != nil {
		return nil, err
	}
	section.SupersededBy = ""
	section.Digest = ""
	section = normalize([]Section{section})[0]

	head := ""
	if section.SHA != "" {
		p, err := c.PullRequest(ctx, owner, repo, pr)
		switch {
		case err != nil:
			c.log.Warn("github: cannot tell the pull request's head commit; assuming this section's", "stack", section.Stack, "error", err)
			head = section.SHA
		default:
			head = p.HeadSHA
		}
	}

	u := &upsert{c: c, owner: owner, repo: repo, pr: pr, section: section, head: head, known: map[string]Section{}, skipped: map[int64]bool{}}
	for attempt := 1; attempt <= c.upsertAttempts; attempt++ {
		if attempt > 1 {
			if err := c.clock.Sleep(ctx, c.pause()); err != nil {
				return nil, err
			}
		}
		res, err := u.try(ctx)
		if err != nil {
			return nil, err
		}
		if res != nil {
			return res, nil
		}
		c.log.Info("github: sticky comment changed while writing, starting over",
			"stack", section.Stack, "pr", pr, "attempt", attempt)
	}
	return nil, fmt.Errorf("github: could not write section %q of the sticky comment on %s/%s#%d: other writers changed it %d times in a row",
		section.Stack, owner, repo, pr, c.upsertAttempts)
}

// pause is a jittered wait between upsert attempts, so racing writers drift
// apart.
func (c *Client) pause() time.Duration {
	j := rand.Float64
	if c.jitter != nil {
		j = c.jitter
	}
	return c.verifyDelay/2 + time.Duration(j()*float64(c.verifyDelay))
}

type upsert struct {
	c           *Client
	owner, repo string
	pr          int
	section     Section
	head        string
	// known is every section seen during this upsert, latest version, so
	// a section dropped by a racing writer is put back.
	known map[string]Section
	// skipped holds the marked comments find took for another account's;
	// one of them turning out ours means the account was unknown or
	// configured wrong, not that a race was lost.
	skipped map[int64]bool
	// retried is set once create went straight back to try for that.
	retried bool
}

// try makes one attempt; a nil Comment and nil error mean "start over".
func (u *upsert) try(ctx context.Context) (*Comment, error) {
	existing, err := u.find(ctx, 0)
	if err != nil {
		return nil, err
	}
	if existing == nil {
		return u.create(ctx)
	}
	cur, _, err := u.c.issues.GetComment(ctx, u.owner, u.repo, existing.GetID())
	if isNotFound(err) {
		return nil, nil // deleted since the listing
	}
	if err != nil {
		return nil, fmt.Errorf("github: read comment %d: %w", existing.GetID(), err)
	}
	_, secs, ok := Parse(cur.GetBody())
	if !ok {
		return nil, nil // someone rewrote it without our marker
	}
	u.remember(secs)
	merged, stale := u.merge(secs)
	if stale {
		u.c.log.Info("github: the sticky comment already has this stack for a newer commit; not replacing it",
			"stack", u.section.Stack, "sha", u.section.SHA, "head", u.head)
		return commentFrom(cur, false, false), nil
	}
	body := Compose(u.c.header, merged, u.c.limit)
	if body == cur.GetBody() {
		return commentFrom(cur, false, false), nil
	}
	edited, _, err := u.c.issues.EditComment(ctx, u.owner, u.repo, cur.GetID(), &gh.IssueComment{Body: gh.String(body)})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("github: edit comment %d: %w", cur.GetID(), err)
	}
	return u.verify(ctx, edited.GetID(), body, false)
}

// find lists every page of comments and returns the oldest that starts with
// our marker and is ours: written by the token's account, or the comment
// created (0 for none), which is ours even while the account is unknown.
// Nil when there is none.
func (u *upsert) find(ctx context.Context, created int64) (*gh.IssueComment, error) {
	var marked []*gh.IssueComment
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		page, resp, err := u.c.issues.ListComments(ctx, u.owner, u.repo, u.pr, opts)
		if err != nil {
			return nil, fmt.Errorf("github: list comments of %s/%s#%d (page %d): %w", u.owner, u.repo, u.pr, max(opts.Page, 1), err)
		}
		for _, cm := range page {
			if _, _, ok := Parse(cm.GetBody()); ok {
				marked = append(marked, cm)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if len(marked) == 0 {
		return nil, nil // no need to know who we are
	}
	me, err := u.c.whoami(ctx)
	if err != nil {
		return nil, err
	}
	var oldest *gh.IssueComment
	for _, cm := range marked {
		if cm.GetID() != created && !ours(cm, me) {
			u.skipped[cm.GetID()] = true
			u.c.ignore(cm, me)
			continue
		}
		if oldest == nil || cm.GetID() < oldest.GetID() {
			oldest = cm
		}
	}
	return oldest, nil
}

func (u *upsert) remember(secs []Section) {
	for _, s := range secs {
		u.known[s.Stack] = s
	}
}

// merge puts our section into secs (and back any known section missing),
// then marks what the head commit supersedes. stale is true when secs hold
// our stack for the head commit and our section is for another commit.
func (u *upsert) merge(secs []Section) (merged []Section, stale bool) {
	byStack := map[string]Section{}
	for _, s := range u.known {
		byStack[s.Stack] = s
	}
	for _, s := range secs {
		byStack[s.Stack] = s
	}
	if ex, ok := byStack[u.section.Stack]; ok && u.head != "" &&
		sameCommit(ex.SHA, u.head) && !sameCommit(u.section.SHA, u.head) {
		return nil, true
	}
	byStack[u.section.Stack] = u.section
	for _, r := range u.section.Replaces {
		if r != u.section.Stack {
			delete(byStack, r)
		}
	}
	for stack, s := range byStack {
		if u.head != "" {
			s.SupersededBy = ""
			if s.SHA != "" && !sameCommit(s.SHA, u.head) {
				s.SupersededBy = u.head
			}
		}
		merged = append(merged, s)
		byStack[stack] = s
	}
	return merged, false
}

// create posts a new comment, learns the token's account from its author,
// then checks that no other writer of that account created one first: if
// one did, ours is deleted (it is a duplicate this call just made) and the
// upsert starts over to write into the oldest.
func (u *upsert) create(ctx context.Context) (*Comment, error) {
	merged, _ := u.merge(nil)
	body := Compose(u.c.header, merged, u.c.limit)
	created, _, err := u.c.issues.CreateComment(ctx, u.owner, u.repo, u.pr, &gh.IssueComment{Body: gh.String(body)})
	if err != nil {
		return nil, fmt.Errorf("github: create comment on %s/%s#%d: %w", u.owner, u.repo, u.pr, err)
	}
	u.c.learn(created.GetUser().GetLogin())
	if err := u.c.clock.Sleep(ctx, u.c.verifyDelay); err != nil {
		return nil, err
	}
	oldest, err := u.find(ctx, created.GetID())
	if err != nil {
		return nil, err
	}
	if oldest != nil && oldest.GetID() != created.GetID() {
		relearned := u.skipped[oldest.GetID()] && !u.retried
		if relearned {
			u.c.log.Info("github: the token's account already has a sticky comment; removing the one created to learn the account",
				"account", created.GetUser().GetLogin(), "created", created.GetID(), "sticky", oldest.GetID())
		} else {
			u.c.log.Info("github: another writer created the sticky comment first; removing ours",
				"ours", created.GetID(), "theirs", oldest.GetID())
		}
		if _, err := u.c.issues.DeleteComment(ctx, u.owner, u.repo, created.GetID()); err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("github: delete duplicate comment %d: %w", created.GetID(), err)
		}
		if relearned {
			// No race was lost: write into the older comment now rather
			// than spend an attempt and a pause (once per upsert).
			u.retried = true
			return u.try(ctx)
		}
		return nil, nil
	}
	if oldest == nil {
		return nil, nil // deleted already
	}
	return u.check(oldest, body, true), nil
}

// verify waits, reads comment id back and checks our write survived.
func (u *upsert) verify(ctx context.Context, id int64, wrote string, created bool) (*Comment, error) {
	if err := u.c.clock.Sleep(ctx, u.c.verifyDelay); err != nil {
		return nil, err
	}
	cur, _, err := u.c.issues.GetComment(ctx, u.owner, u.repo, id)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("github: read back comment %d: %w", id, err)
	}
	return u.check(cur, wrote, created), nil
}

// check returns the comment when cur holds our section as we wrote it (or
// a newer commit's) and every known section; nil otherwise.
func (u *upsert) check(cur *gh.IssueComment, wrote string, created bool) *Comment {
	_, secs, ok := Parse(cur.GetBody())
	if !ok {
		return nil
	}
	_, ours, _ := Parse(wrote)
	var want Section
	for _, s := range ours {
		if s.Stack == u.section.Stack {
			want = s
		}
	}
	present := map[string]bool{}
	found := false
	for _, s := range secs {
		present[s.Stack] = true
		if s.Stack != u.section.Stack {
			continue
		}
		switch {
		case s.Digest == want.Digest && s.SHA == want.SHA:
			found = true
		case u.head != "" && sameCommit(s.SHA, u.head) && !sameCommit(u.section.SHA, u.head):
			found = true // a newer commit's section replaced ours: fine
		}
	}
	if !found {
		return nil
	}
	var missing []string
	for stack := range u.known {
		if !present[stack] && !slices.Contains(u.section.Replaces, stack) {
			missing = append(missing, stack)
		}
	}
	if len(missing) > 0 {
		u.c.log.Info("github: a concurrent writer dropped sections; restoring them",
			"sections", strings.Join(missing, ","))
		return nil
	}
	u.remember(secs)
	return commentFrom(cur, created, !created)
}

func commentFrom(c *gh.IssueComment, created, updated bool) *Comment {
	return &Comment{ID: c.GetID(), URL: c.GetHTMLURL(), Body: c.GetBody(), Created: created, Updated: updated}
}
