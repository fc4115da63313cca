package action

// This file ties a push deploy to the pull request it came from: the
// preview reviewed there is what the deploy must match, and the pull
// request's comment hears how the deploy went.

import (
	"fmt"
	"sync"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/runner/plan"
	"github.com/containercraft/konductor-action/runner/report"
	"github.com/containercraft/konductor-action/runner/result"
)

// DeploySuffix names a stack's deploy section on the merged pull request:
// "<stack>/deploy", next to the stack's preview section.
const DeploySuffix = "/deploy"

// merged is the pull request a pushed commit came from, looked up once.
type merged struct {
	once     sync.Once
	pr       *github.PullRequest
	sections map[string]github.Section
	err      error
}

// pushDeploy reports whether the run deploys a pushed commit, the case a
// review applies to.
func (r *run) pushDeploy() bool {
	return r.event.Name == plan.EventPush && r.plan.Operation == result.Up && r.plan.PR == 0
}

// mergedPR finds, once, the merged pull request of the pushed commit and
// its sticky comment's sections.
func (r *run) mergedPR() (*github.PullRequest, map[string]github.Section, error) {
	m := &r.merged
	m.once.Do(func() {
		gh, err := r.github()
		if err != nil {
			m.err = err
			return
		}
		m.pr, m.err = gh.MergedPullRequest(r.pubCtx, r.owner, r.repo, r.plan.HeadSHA)
		if m.err != nil || m.pr == nil {
			return
		}
		secs, err := gh.Sections(r.pubCtx, r.owner, r.repo, m.pr.Number)
		if err != nil {
			m.err = err
			return
		}
		m.sections = map[string]github.Section{}
		for _, s := range secs {
			m.sections[s.Stack] = s
		}
	})
	return m.pr, m.sections, m.err
}

// reviewCheck is what a push deploy of stack compares itself with: the
// last preview of the stack on the merged pull request, when that preview
// is of the pull request's last commit.
func (r *run) reviewCheck(stack string) *runner.ReviewCheck {
	if !r.pushDeploy() {
		return nil
	}
	ss := r.cfg.Stacks[stack]
	rc := &runner.ReviewCheck{Fail: ss.Unreviewed() == "fail"}
	short := report.ShortSHA(r.plan.HeadSHA)
	pr, secs, err := r.mergedPR()
	switch {
	case err != nil:
		rc.Source = fmt.Sprintf("could not look up the pull request of commit %s: %v", short, err)
		return rc
	case pr == nil:
		rc.Source = fmt.Sprintf("no merged pull request has commit %s (a direct push)", short)
		return rc
	}
	s, ok := secs[stack]
	switch {
	case !ok:
		rc.Source = fmt.Sprintf("pull request #%d has no preview of this stack", pr.Number)
	case s.Review == "":
		rc.Source = fmt.Sprintf("pull request #%d's preview of this stack carries no review (it failed, or an older konductor wrote it)", pr.Number)
	case !github.IsCommitSHA(s.SHA) || !github.SameCommit(s.SHA, pr.HeadSHA):
		rc.Source = fmt.Sprintf("pull request #%d's last commit %s was not previewed for this stack (its last preview is of %s)",
			pr.Number, report.ShortSHA(pr.HeadSHA), report.ShortSHA(s.SHA))
	default:
		rv, err := result.DecodeReview(s.Review)
		if err != nil {
			rc.Source = fmt.Sprintf("pull request #%d's preview of this stack: %v", pr.Number, err)
			break
		}
		rc.Reviewed = &rv
		rc.Source = fmt.Sprintf("pull request #%d, preview of %s", pr.Number, report.ShortSHA(s.SHA))
	}
	return rc
}

// deploySection puts a push deploy's report on the merged pull request's
// comment; a direct push has none.
func (r *run) deploySection(res *result.Result) error {
	if !r.pushDeploy() || !r.in.CommentOnPR {
		return nil
	}
	pr, _, err := r.mergedPR()
	if err != nil || pr == nil {
		return nil // the summary says so; nothing to write to
	}
	body := report.Markdown(res, report.Options{Budget: (report.CommentLimit - 2048) / max(1, 2*len(r.stacks)), FullDiffAt: "the job summary"})
	return r.commentOn(pr.Number, github.Section{Stack: res.Stack + DeploySuffix, Body: body, Summary: github.SummaryOf(res)})
}
