package github

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// Comment is the sticky comment after an upsert.
type Comment struct {
	ID   int64
	URL  string // html_url
	Body string
	// Created is true when this call created the comment, Updated when it
	// edited it; both false when the comment already held the sections.
	Created, Updated bool
	// Superseded names the sections not written because the comment holds
	// the same stack for the pull request's newer head commit (or, when the
	// head is unknown, for another commit).
	Superseded []string
}

// UpsertSection writes one section into the pull request's sticky comment
// and settles it: UpsertSections with one section.
func (c *Client) UpsertSection(ctx context.Context, owner, repo string, pr int, section Section) (*Comment, error) {
	return c.UpsertSections(ctx, owner, repo, pr, []Section{section}, true)
}

// UpsertSections writes sections, this writer's own, into the pull
// request's sticky comment and leaves every other section as it is.
//
// The comment is the oldest comment of the pull request whose body starts
// with CommentMarker and that the token's account wrote, looked for on every
// page; comments without the marker are never touched, and neither are
// newer marked comments nor marked comments of other accounts (see the
// package documentation for how the account is known). If there is none,
// one is created; a duplicate this client created while another writer
// created the oldest is deleted.
//
// Every write follows the protocol in the package documentation
// ("Concurrent writers"): it is composed from a read at most the freshness
// bound old, sent once (never replayed: a failed write re-reads and
// re-composes), and, when settle is true, the comment is read again once no
// write composed before ours can still be in flight, and written again
// until it holds these sections. Call with settle false while a run is
// still producing sections, and once with settle true at the end.
//
// Sections named in a section's Replaces are removed, unless they are of a
// newer commit. When a section has a SHA, the pull request's head commit,
// read after the comment, decides what is outdated: sections of another
// commit are marked as superseded by the head (not removed), and a section
// for an old commit never replaces the head's.
func (c *Client) UpsertSections(ctx context.Context, owner, repo string, pr int, sections []Section, settle bool) (*Comment, error) {
	for _, s := range sections {
		if err := ValidateSection(s); err != nil {
			return nil, err
		}
	}
	own := make([]Section, len(sections))
	for i, s := range sections {
		s.SupersededBy, s.Digest = "", ""
		own[i] = s
	}
	own = normalize(own)

	t := c.thread(owner, repo, pr)
	// One writer per comment per process: the run's own writes never race.
	t.mu.Lock()
	defer t.mu.Unlock()
	w := &writer{c: c, t: t, owner: owner, repo: repo, pr: pr, own: own, settle: settle, skipped: map[int64]bool{}}
	var last error
	for attempt := 1; attempt <= c.upsertAttempts; attempt++ {
		if attempt > 1 {
			wait := c.pause()
			var rl *RateLimitError
			if errors.As(last, &rl) {
				wait = max(wait, rl.Until.Sub(c.clock.Now()))
			}
			if err := c.sleep(ctx, wait); err != nil {
				return nil, errors.Join(err, last)
			}
		}
		res, err := w.try(ctx)
		switch {
		case err == nil && res != nil:
			return res, nil
		case err != nil && !retryable(err):
			return nil, err
		case err != nil:
			last = err
			c.log.Info("github: writing the sticky comment failed; re-reading it to try again",
				"pr", pr, "attempt", attempt, "error", err)
		default:
			last = errLostRace
			c.log.Info("github: the sticky comment changed while writing; re-reading it to try again",
				"pr", pr, "attempt", attempt)
		}
	}
	if last == errLostRace {
		return nil, fmt.Errorf("github: could not write %s of the sticky comment on %s/%s#%d: other writers changed it %d times in a row",
			sectionNames(own), owner, repo, pr, c.upsertAttempts)
	}
	return nil, fmt.Errorf("github: could not write %s of the sticky comment on %s/%s#%d after %d attempts: %w",
		sectionNames(own), owner, repo, pr, c.upsertAttempts, last)
}

var errLostRace = errors.New("github: lost a race with another writer")

func sectionNames(secs []Section) string {
	names := make([]string, len(secs))
	for i, s := range secs {
		names[i] = s.Stack
	}
	if len(names) == 1 {
		return "section " + names[0]
	}
	return "sections " + strings.Join(names, ", ")
}

// retryable says whether a failed write or read is worth a fresh attempt:
// GitHub's 5xx, a rate limit it names an end to, a write not sent because
// its read got too old, a network error or time-out. Other 4xx are final.
func retryable(err error) bool {
	if errors.Is(err, ErrBudget) || errors.Is(err, context.Canceled) {
		return false
	}
	var rl *RateLimitError
	if errors.As(err, &rl) || errors.Is(err, errStale) {
		return true
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode >= 500
	}
	return true
}

// pause is a jittered wait between upsert attempts, so racing writers drift
// apart.
func (c *Client) pause() time.Duration {
	j := rand.Float64
	if c.jitter != nil {
		j = c.jitter
	}
	return c.fresh/2 + time.Duration(j()*float64(c.fresh))
}

// thread is what this client knows of one pull request's sticky comment.
type thread struct {
	mu sync.Mutex
	// wrote is when the last write of this client ended (in any way: a
	// failed write may still have landed); zero when it never wrote.
	wrote time.Time
	// created holds the comments this client created, to delete those
	// that turn out to be duplicates.
	created []int64
}

func (c *Client) thread(owner, repo string, pr int) *thread {
	key := fmt.Sprintf("%s/%s#%d", strings.ToLower(owner), strings.ToLower(repo), pr)
	t, _ := c.threads.LoadOrStore(key, &thread{})
	return t.(*thread)
}

type writer struct {
	c           *Client
	t           *thread
	owner, repo string
	pr          int
	own         []Section
	settle      bool
	// skipped holds the marked comments find took for another account's;
	// one of them turning out ours means the account was unknown or
	// configured wrong, not that a race was lost.
	skipped map[int64]bool
	// retried is set once create went straight back to try for that.
	retried bool
}

// try makes one attempt; a nil Comment and nil error mean "lost a race,
// start over".
func (w *writer) try(ctx context.Context) (*Comment, error) {
	existing, err := w.find(ctx)
	if err != nil {
		return nil, err
	}
	if existing == nil {
		return w.create(ctx)
	}
	id := existing.GetID()
	readAt := w.c.clock.Now()
	cur, _, err := w.c.issues.GetComment(ctx, w.owner, w.repo, id)
	if isNotFound(err) {
		return nil, nil // deleted since the listing
	}
	if err != nil {
		return nil, fmt.Errorf("github: read comment %d: %w", id, err)
	}
	_, secs, ok := Parse(cur.GetBody())
	if !ok {
		return nil, nil // someone rewrote it without our marker
	}
	head := w.head(ctx)
	merged, superseded := w.merge(secs, head)
	body := Compose(w.c.header, merged, w.c.limit)
	wrote := false
	if body != cur.GetBody() {
		edited, err := w.edit(ctx, id, body, readAt)
		if isNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		cur, wrote = edited, true
	}
	if !w.settle {
		return w.result(cur, false, wrote, superseded), nil
	}
	cur, err = w.reread(ctx, id)
	if err != nil || cur == nil {
		return nil, err
	}
	if !w.holds(cur, w.head(ctx)) {
		return nil, nil
	}
	return w.result(cur, false, wrote, superseded), nil
}

// head is the pull request's head commit, read anew on every attempt and
// after the comment: every commit whose section the comment held when read
// was pushed before, so it is the head or older. Empty when no section has
// a SHA or GitHub cannot tell; then no section is relabelled.
func (w *writer) head(ctx context.Context) string {
	if !slices.ContainsFunc(w.own, func(s Section) bool { return s.SHA != "" }) {
		return ""
	}
	p, err := w.c.PullRequest(ctx, w.owner, w.repo, w.pr)
	if err != nil {
		w.c.log.Warn("github: cannot tell the pull request's head commit; leaving other commits' sections and labels as they are",
			"pr", w.pr, "error", err)
		return ""
	}
	return p.HeadSHA
}

// edit sends one PATCH composed from a read at readAt: never replayed, and
// not sent at all once the read is older than the freshness bound.
func (w *writer) edit(ctx context.Context, id int64, body string, readAt time.Time) (*gh.IssueComment, error) {
	edited, _, err := w.c.issues.EditComment(withSendBy(ctx, readAt.Add(w.c.fresh)), w.owner, w.repo, id, &gh.IssueComment{Body: gh.String(body)})
	if !errors.Is(err, errStale) {
		w.t.wrote = w.c.clock.Now() // it may have landed even if it failed
	}
	if err != nil {
		return nil, fmt.Errorf("github: edit comment %d: %w", id, err)
	}
	return edited, nil
}

// reread waits until no write composed before this client's last one can
// still land, then reads comment id; nil when it is gone.
func (w *writer) reread(ctx context.Context, id int64) (*gh.IssueComment, error) {
	if !w.t.wrote.IsZero() {
		if err := w.c.sleep(ctx, w.t.wrote.Add(w.c.fresh+w.c.inFlight).Sub(w.c.clock.Now())); err != nil {
			return nil, err
		}
	}
	cur, _, err := w.c.issues.GetComment(ctx, w.owner, w.repo, id)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("github: read back comment %d: %w", id, err)
	}
	return cur, nil
}

// find lists every page of comments and returns the oldest that starts with
// our marker and is ours: written by the token's account, or created by this
// client (ours even while the account is unknown). Every newer one of ours
// is a duplicate and is deleted, whoever created it: one whose create
// failed after it took effect is known to no writer, and a writer that
// created one still in use finds the oldest when it settles and writes
// there. Nil when there is none.
func (w *writer) find(ctx context.Context) (*gh.IssueComment, error) {
	mine, err := w.mine(ctx)
	if err != nil || len(mine) == 0 {
		return nil, err
	}
	oldest := mine[0]
	for _, cm := range mine[1:] {
		if err := w.drop(ctx, cm.GetID(), oldest.GetID()); err != nil {
			return nil, err
		}
	}
	w.t.created = slices.DeleteFunc(w.t.created, func(id int64) bool { return id != oldest.GetID() })
	return oldest, nil
}

// list returns the oldest marked comment of ours without changing any.
func (w *writer) list(ctx context.Context) (*gh.IssueComment, error) {
	mine, err := w.mine(ctx)
	if err != nil || len(mine) == 0 {
		return nil, err
	}
	return mine[0], nil
}

// mine lists the marked comments that are ours, oldest first.
func (w *writer) mine(ctx context.Context) ([]*gh.IssueComment, error) {
	var marked []*gh.IssueComment
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		page, resp, err := w.c.issues.ListComments(ctx, w.owner, w.repo, w.pr, opts)
		if err != nil {
			return nil, fmt.Errorf("github: list comments of %s/%s#%d (page %d): %w", w.owner, w.repo, w.pr, max(opts.Page, 1), err)
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
	me, err := w.c.whoami(ctx)
	if err != nil {
		return nil, err
	}
	var mine []*gh.IssueComment
	for _, cm := range marked {
		if !slices.Contains(w.t.created, cm.GetID()) && !ours(cm, me) {
			w.skipped[cm.GetID()] = true
			w.c.ignore(cm, me)
			continue
		}
		mine = append(mine, cm)
	}
	slices.SortFunc(mine, func(a, b *gh.IssueComment) int { return cmp.Compare(a.GetID(), b.GetID()) })
	return mine, nil
}

// drop deletes id, a duplicate of the sticky comment keep.
func (w *writer) drop(ctx context.Context, id, keep int64) error {
	switch {
	case slices.Contains(w.t.created, id) && w.skipped[keep] && !w.retried:
		w.c.log.Info("github: the token's account already has a sticky comment; removing the one created to learn the account",
			"created", id, "sticky", keep)
	case slices.Contains(w.t.created, id):
		w.c.log.Info("github: another writer created the sticky comment first; removing ours", "ours", id, "theirs", keep)
	default:
		w.c.log.Info("github: removing a duplicate of the sticky comment", "duplicate", id, "sticky", keep)
	}
	if _, err := w.c.issues.DeleteComment(withSendBy(ctx, time.Time{}), w.owner, w.repo, id); err != nil && !isNotFound(err) {
		return fmt.Errorf("github: delete duplicate comment %d: %w", id, err)
	}
	return nil
}

// merge puts our sections into secs and marks what the head commit
// supersedes. superseded names our sections left out: the comment holds
// that stack for the head while ours is older, or, with the head unknown,
// for another commit.
func (w *writer) merge(secs []Section, head string) (merged []Section, superseded []string) {
	byStack := map[string]Section{}
	for _, s := range secs {
		byStack[s.Stack] = s
	}
	headSection := slices.ContainsFunc(secs, func(s Section) bool { return head != "" && SameCommit(s.SHA, head) })
	for _, s := range w.own {
		if newerThan(byStack[s.Stack], s, head) || (s.Note && head != "" && !SameCommit(s.SHA, head) && headSection) ||
			(s.Note && head == "" && slices.ContainsFunc(secs, func(x Section) bool { return x.SHA != "" && !SameCommit(x.SHA, s.SHA) })) {
			superseded = append(superseded, s.Stack)
			continue
		}
		byStack[s.Stack] = s
		for _, r := range s.Replaces {
			if ex, ok := byStack[r]; ok && r != s.Stack && !newerThan(ex, s, head) {
				delete(byStack, r)
			}
		}
	}
	for _, s := range byStack {
		if head != "" {
			s.SupersededBy = ""
			if s.SHA != "" && !SameCommit(s.SHA, head) {
				s.SupersededBy = head
			}
		}
		merged = append(merged, s)
	}
	return merged, superseded
}

// newerThan says whether ex, a section in the comment, must not be
// replaced or removed by ours: ex is for the head and ours is not, or,
// with the head unknown, ex is for another commit (which is newer cannot
// be told, so what is there stays).
func newerThan(ex, ours Section, head string) bool {
	if ex.Stack == "" || ex.SHA == "" || SameCommit(ex.SHA, ours.SHA) {
		return false
	}
	if head == "" {
		return ours.SHA != ""
	}
	return SameCommit(ex.SHA, head)
}

// create posts a new comment and learns the token's account from its
// author. A writer that created one first wins: find deletes ours on a
// later attempt or when settling.
func (w *writer) create(ctx context.Context) (*Comment, error) {
	head := w.head(ctx)
	merged, superseded := w.merge(nil, head)
	if len(merged) == 0 {
		return &Comment{Superseded: superseded}, nil
	}
	body := Compose(w.c.header, merged, w.c.limit)
	created, _, err := w.c.issues.CreateComment(withSendBy(ctx, time.Time{}), w.owner, w.repo, w.pr, &gh.IssueComment{Body: gh.String(body)})
	w.t.wrote = w.c.clock.Now()
	if err != nil {
		return nil, fmt.Errorf("github: create comment on %s/%s#%d: %w", w.owner, w.repo, w.pr, err)
	}
	w.t.created = append(w.t.created, created.GetID())
	w.c.learn(created.GetUser().GetLogin())
	if !w.settle {
		return w.result(created, true, false, superseded), nil
	}
	if err := w.c.sleep(ctx, w.t.wrote.Add(w.c.fresh+w.c.inFlight).Sub(w.c.clock.Now())); err != nil {
		return nil, err
	}
	oldest, err := w.find(ctx)
	if err != nil {
		return nil, err
	}
	if oldest == nil {
		return nil, nil // deleted already
	}
	if oldest.GetID() != created.GetID() {
		if w.skipped[oldest.GetID()] && !w.retried {
			// No race was lost: the account was unknown. Write into the
			// older comment now rather than spend an attempt and a pause
			// (once per upsert).
			w.retried = true
			return w.try(ctx)
		}
		return nil, nil
	}
	cur, _, err := w.c.issues.GetComment(ctx, w.owner, w.repo, oldest.GetID())
	if err != nil {
		return nil, fmt.Errorf("github: read back comment %d: %w", oldest.GetID(), err)
	}
	if !w.holds(cur, w.head(ctx)) {
		return nil, nil
	}
	return w.result(cur, true, false, superseded), nil
}

// holds says whether cur has each of our sections as we wrote them (or
// the stack for a commit that legitimately won over ours), correctly
// labelled, and none of the sections ours replace.
func (w *writer) holds(cur *gh.IssueComment, head string) bool {
	_, secs, ok := Parse(cur.GetBody())
	if !ok {
		return false
	}
	byStack := map[string]Section{}
	for _, s := range secs {
		byStack[s.Stack] = s
	}
	headSection := slices.ContainsFunc(secs, func(s Section) bool { return head != "" && SameCommit(s.SHA, head) })
	for _, want := range w.own {
		got, ok := byStack[want.Stack]
		switch {
		case ok && newerThan(got, want, head):
			continue // superseded: the newer commit's writer settles it
		case want.Note && head != "" && !SameCommit(want.SHA, head) && headSection:
			continue
		case !ok || got.Digest != want.Digest || got.SHA != want.SHA:
			return false
		case head != "" && SameCommit(got.SHA, head) && got.SupersededBy != "":
			return false // labelled outdated by a writer that did not know the head yet
		}
		for _, r := range want.Replaces {
			if ex, ok := byStack[r]; ok && r != want.Stack && !newerThan(ex, want, head) {
				return false
			}
		}
	}
	return true
}

func (w *writer) result(c *gh.IssueComment, created, updated bool, superseded []string) *Comment {
	return &Comment{ID: c.GetID(), URL: c.GetHTMLURL(), Body: c.GetBody(), Created: created, Updated: updated, Superseded: superseded}
}

// sleep waits d on the client's clock within the budget for GitHub calls.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if err := c.budget.take(d); err != nil {
		return err
	}
	return c.clock.Sleep(ctx, d)
}
