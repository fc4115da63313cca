package action

// This file keeps a drift check's issues: one open issue per drifted
// stack, updated on every drift check while the stack stays drifted, and
// closed with a comment once a check finds it clean. A stack whose check
// did not complete keeps its issue as it is: a failed preview proves
// neither drift nor its end.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/runner/plan"
	"github.com/containercraft/konductor-action/runner/report"
	"github.com/containercraft/konductor-action/runner/result"
)

// drifted reports whether res is a drift check that found the stack's
// resources differ from its configuration. A preview blocked by a
// mandatory policy still shows the changes it found; a failed one shows
// nothing reliable.
func drifted(p *plan.Plan, res *result.Result) bool {
	return p != nil && p.Drift && (res.Status == result.Succeeded || res.Status == result.Blocked) && res.HasChanges()
}

// driftedStacks lists the drifted stacks of results, in their order
// (never nil: the output is a JSON list).
func driftedStacks(p *plan.Plan, results []*result.Result) []string {
	out := []string{}
	for _, res := range results {
		if drifted(p, res) {
			out = append(out, res.Stack)
		}
	}
	return out
}

// driftIssues opens or updates the issue of each drifted stack and closes
// the issue of each clean one, then says what it did in the log and the
// job summary. Without issues: write it says that permission is missing,
// and in a repository with issues turned off it says so: a warning, not a
// failure, as the summary and outputs hold the drift. Other GitHub errors
// are returned.
func (r *run) driftIssues(results []*result.Result) []error {
	if len(results) == 0 {
		return nil
	}
	gh, err := r.github()
	if err != nil {
		return []error{fmt.Errorf("drift issues: %w", err)}
	}
	var lines []string
	var errs []error
	var denied error
	for _, res := range results {
		stack := res.Stack
		if denied != nil {
			if drifted(r.plan, res) {
				lines = append(lines, fmt.Sprintf("- `%s`: drifted; no issue opened or updated", stack))
			}
			continue
		}
		var iss *github.DriftIssue
		switch {
		case drifted(r.plan, res):
			body := report.Markdown(res, report.Options{Budget: report.CommentLimit - 4096, FullDiffAt: "the workflow run's job summary"})
			iss, err = gh.ReportDrift(r.pubCtx, r.owner, r.repo, github.Drift{Stack: stack, Report: r.mask.String(body), RunURL: r.runURL})
		case res.Status == result.Succeeded:
			iss, err = gh.ResolveDrift(r.pubCtx, r.owner, r.repo, stack, r.runURL)
		default:
			lines = append(lines, fmt.Sprintf("- `%s`: the drift check did not complete (%s); its issue, if any, is left as it is", stack, res.Status))
			continue
		}
		switch {
		case errors.Is(err, github.ErrIssuesPermission) || errors.Is(err, github.ErrIssuesDisabled):
			denied = err
			if drifted(r.plan, res) {
				lines = append(lines, fmt.Sprintf("- `%s`: drifted; no issue opened or updated", stack))
			}
		case err != nil:
			errs = append(errs, fmt.Errorf("drift issue of %s: %w", stack, err))
			lines = append(lines, fmt.Sprintf("- `%s`: its drift issue could not be written: %s", stack, report.Escape(err.Error())))
		case iss == nil:
			// Clean, and no issue was open.
		default:
			verb := "updated"
			switch {
			case iss.Created:
				verb = "opened"
			case iss.Closed:
				verb = "closed: the stack matches its configuration again"
			}
			r.log.Infof("drift issue of %s %s: %s", stack, verb, iss.URL)
			lines = append(lines, fmt.Sprintf("- `%s`: [#%d](%s) %s", stack, iss.Number, iss.URL, verb))
			for _, d := range iss.Duplicates {
				r.log.Infof("drift issue of %s: closed #%d, a duplicate of #%d", stack, d, iss.Number)
			}
		}
	}
	var b strings.Builder
	b.WriteString("### Drift issues\n\n")
	if denied != nil {
		msg := "the job's token may not write issues, so no drift issue was opened, updated or closed; " +
			"add `issues: write` to the job's `permissions:`. The drift is in this summary and in the drifted-stacks output"
		if errors.Is(denied, github.ErrIssuesDisabled) {
			msg = "the repository's issues are turned off, so no drift issue was opened, updated or closed. " +
				"The drift is in this summary and in the drifted-stacks output"
		}
		r.log.WithFieldsMap(map[string]string{"title": "Drift issues not written"}).Warningf("%s (%v)", msg, denied)
		b.WriteString("> [!WARNING]\n> " + strings.ToUpper(msg[:1]) + msg[1:] + ".\n\n")
	}
	if len(lines) == 0 && denied == nil {
		return errs // nothing drifted and nothing was open
	}
	b.WriteString(strings.Join(lines, "\n"))
	if err := r.summary(b.String()); err != nil {
		errs = append(errs, err)
	}
	return errs
}
