package action

// This file reports: the pull request comment, the job summary,
// annotations, and the notes of a run with nothing to do or only bad input.

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containercraft/konductor-action/runner/backend"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/runner/plan"
	"github.com/containercraft/konductor-action/runner/report"
	"github.com/containercraft/konductor-action/runner/result"
)

// planOnly reports the plan and runs nothing (command: plan): the plan and
// matrix outputs, the planned stacks in the job summary, and, for a pull
// request that affects no stack, the same note a run leaves.
func (r *run) planOnly() error {
	p := r.plan
	r.log.Infof("konductor plan: %s", p.Reason)
	var errs []error
	if p.NothingToDo {
		errs = append(errs, r.nothingToDo())
	} else {
		var b strings.Builder
		fmt.Fprintf(&b, "### Konductor plan\n\n%s: %s of %d stack%s.\n\n| stack | why |\n|---|---|\n", p.Reason, p.Operation, len(p.Stacks), report.Plural(len(p.Stacks)))
		for _, s := range p.Stacks {
			r.log.Infof("  %s: %s", s.Name, s.Reason)
			fmt.Fprintf(&b, "| `%s` | %s |\n", s.Name, report.Escape(s.Reason))
		}
		errs = append(errs, r.summary(b.String()))
	}
	errs = append(errs, r.writeOutputs([][2]string{{OutputPlan, r.mask.JSON(p)}, {OutputMatrix, r.mask.JSON(p.Matrix())}}))
	if err := errors.Join(errs...); err != nil {
		if !errors.Is(err, ErrFailed) {
			r.log.Errorf("%v", err)
			err = fmt.Errorf("%w: %w", ErrFailed, err)
		}
		return err
	}
	return nil
}

// nothingToDo reports a plan with nothing to run.
func (r *run) nothingToDo() error {
	p, ev := r.plan, r.event
	var errs []error
	switch {
	case p.Fork && ev.NeedsChangedFiles():
		// The token of a fork's run is read-only: no comment, a notice.
		r.log.WithFieldsMap(map[string]string{"title": "Fork pull request not previewed"}).Noticef("%s", p.Reason)
		errs = append(errs, r.summary("### Konductor\n\nNothing was previewed: "+p.Reason+".\n"))
	case p.PR != 0 && ev.NeedsChangedFiles():
		body := fmt.Sprintf("### ✅ No stacks affected\n\nThis pull request changes nothing that affects a stack in `%s` (%s). Nothing was previewed.",
			r.in.WorkDir, strings.Join(r.stacks, ", "))
		if len(r.stacks) == 0 {
			body = fmt.Sprintf("### ✅ No stacks affected\n\nThere is no Pulumi.<stack>.yaml in `%s`. Nothing was previewed.", r.in.WorkDir)
		}
		if err := r.comment(NoStacksSection, body+r.footer(""), &github.Summary{Status: github.StatusNote}, ""); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, r.summary("### Konductor\n\n"+p.Reason+". Nothing was previewed.\n"))
	default:
		errs = append(errs, r.summary("### Konductor\n\nNothing to do: "+p.Reason+".\n"))
	}
	errs = append(errs, r.outputs(nil))
	if err := errors.Join(errs...); err != nil {
		r.log.Errorf("%v", err)
		return fmt.Errorf("%w: %w", ErrFailed, err)
	}
	return nil
}

// refuse reports that every planned stack cannot run because its
// configuration or environment is wrong; nothing runs.
func (r *run) refuse(invalid map[string]error) error {
	var all config.Errors
	var results []*result.Result
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(invalid)) {
		res, ce := r.invalidResult(name, invalid[name])
		all = append(all, ce...)
		results = append(results, res)
		if err := r.publish(plan.StackPlan{Name: name, Reason: "invalid"}, res); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, r.summary(r.summaryMarkdown(res)))
	}
	if err := errors.Join(append(errs, r.outputs(results))...); err != nil {
		r.log.Errorf("%v", err)
	}
	r.log.Errorf("nothing was run: fix the configuration above")
	return all
}

// invalidResult is the result of a stack whose configuration or
// environment is wrong, and its errors; it logs the error.
func (r *run) invalidResult(name string, err error) (*result.Result, config.Errors) {
	text := strings.ReplaceAll(err.Error(), r.dir+string(filepath.Separator), "")
	var ce config.Errors
	if !errors.As(err, &ce) {
		ce = config.Errors{&config.FieldError{File: "Pulumi." + name + ".yaml", Reason: err.Error()}}
	}
	r.log.WithFieldsMap(map[string]string{"title": name + " not run"}).Errorf("%s", text)
	return r.mask.Result(r.notRunResult(name, result.Invalid, text)), ce
}

func (r *run) notRunResult(stack string, status result.Status, why string) *result.Result {
	project, _ := config.ProjectName(r.dir)
	return &result.Result{Project: project, Stack: stack, Operation: r.plan.Operation, Status: status,
		Commit: r.plan.HeadSHA, Counts: map[result.Op]int{}, Error: why}
}

// publish reports one stack's result: its comment section and
// annotations (the job summary is written in plan order by runAll).
func (r *run) publish(sp plan.StackPlan, res *result.Result) error {
	var errs []error
	if r.plan.PR != 0 {
		budget := (report.CommentLimit - 2048) / max(1, len(r.stacks))
		body := report.Markdown(res, report.Options{Budget: budget - 512, FullDiffAt: "the job summary"})
		if err := r.comment(sp.Name, strings.TrimRight(body, "\n")+r.embeddedNote()+r.footer(sp.Reason), github.SummaryOf(res), res.Review); err != nil {
			if r.plan.Fork {
				// A fork's token is read-only: the summary has it all.
				r.log.Warningf("could not write the pull request comment (a fork's token is read-only): %v", err)
			} else {
				errs = append(errs, err)
			}
		}
	}
	if err := r.deploySection(res); err != nil {
		errs = append(errs, err)
	}
	r.annotate(res)
	return errors.Join(errs...)
}

// summaryMarkdown is a stack's part of the job summary: the full report
// within its share of the summary's budget.
func (r *run) summaryMarkdown(res *result.Result) string {
	return strings.TrimRight(report.Markdown(res, report.Options{Budget: report.SummaryLimit / max(1, 2*len(r.plan.Stacks)),
		FullDiffAt: fmt.Sprintf("`konductor %s --stack %s --json`", res.Operation, res.Stack)}), "\n") + r.embeddedNote()
}

// embeddedNote says plainly that a preview ran against no deployed state.
func (r *run) embeddedNote() string {
	if !r.backend.Embedded() {
		return ""
	}
	return "\n\n> [!WARNING]\n> **No state backend is configured**, so this preview ran against konductor's embedded file backend, " +
		"created empty for this run: it shows everything as new, not what would change in your deployed stack. " +
		"To preview against real state, " + backend.HowToConfigure + "."
}

func (r *run) footer(reason string) string {
	var parts []string
	if reason != "" && r.plan.PR != 0 {
		parts = append(parts, "why: "+reason)
	}
	if r.runURL != "" {
		parts = append(parts, "[workflow run]("+r.runURL+")")
	}
	if len(parts) == 0 {
		return ""
	}
	return "\n\n<sub>" + strings.Join(parts, " · ") + "</sub>"
}

// comment writes a section of the pull request's sticky comment, with the
// run's sections written before it; settleComment settles them at the end.
// sum is what the table of stacks above the sections says of it, review
// what a deploy of the merged commit must match.
func (r *run) comment(stack, body string, sum *github.Summary, review string) error {
	if !r.in.CommentOnPR || r.plan.PR == 0 {
		return nil
	}
	sec := github.Section{Stack: stack, Body: body, Summary: sum, Review: review}
	if stack == NoStacksSection {
		sec.Note = true
	} else {
		// The note from an earlier commit that affected no stack is wrong now.
		sec.Replaces = []string{NoStacksSection}
	}
	if github.IsCommitSHA(r.plan.HeadSHA) {
		sec.SHA = r.plan.HeadSHA
	}
	return r.commentOn(r.plan.PR, sec)
}

// commentOn writes sec, masked, into pull request pr's comment with the
// run's other sections (a run writes to one pull request).
func (r *run) commentOn(pr int, sec github.Section) error {
	if sec.Summary != nil {
		for i, f := range sec.Summary.Findings {
			sec.Summary.Findings[i] = r.mask.String(f) // masked as the body is, to match its lines
		}
	}
	sec.Body = r.mask.String(sec.Body)
	r.commentPR = pr
	r.sections = append(slices.DeleteFunc(r.sections, func(s github.Section) bool { return s.Stack == sec.Stack }), sec)
	return r.writeComment(false)
}

// settleComment settles the run's sections once all are written: the
// comment is read again after any concurrent write can have landed, and
// written again until it holds them (see runner/github). A cancelled run
// has no time for that inside GitHub's window: its sections were written
// once, and the run that superseded it writes its own.
func (r *run) settleComment() error {
	if len(r.sections) == 0 {
		return nil
	}
	if r.ctx.Err() != nil {
		r.log.Infof("pull request comment: written, not settled (the run was cancelled)")
		return nil
	}
	err := r.writeComment(true)
	if err != nil && r.plan.Fork {
		// A fork's token is read-only: the summary has it all.
		r.log.Warningf("could not write the pull request comment (a fork's token is read-only): %v", err)
		return nil
	}
	return err
}

func (r *run) writeComment(settle bool) error {
	gh, err := r.github()
	if err != nil {
		return err
	}
	names := make([]string, len(r.sections))
	for i, s := range r.sections {
		names[i] = s.Stack
	}
	c, err := gh.UpsertSections(r.pubCtx, r.owner, r.repo, r.commentPR, r.sections, settle)
	switch {
	case errors.Is(err, github.ErrBudget):
		return fmt.Errorf("pull request comment not updated (%s): GitHub took longer than konductor allows a run's GitHub calls; "+
			"the job summary has the full report: %w", strings.Join(names, ", "), err)
	case err != nil:
		return fmt.Errorf("pull request comment, %s: %w", strings.Join(names, ", "), err)
	}
	if len(c.Superseded) > 0 {
		r.log.Infof("pull request comment: %s left as it is: the comment already shows a newer commit there", strings.Join(c.Superseded, ", "))
	}
	verb := "unchanged"
	switch {
	case c.Created:
		verb = "created"
	case c.Updated:
		verb = "updated"
	}
	if settle {
		verb += " and settled"
	}
	if c.URL != "" {
		r.log.Infof("pull request comment %s: %s", verb, c.URL)
	}
	return nil
}

// summary appends markdown to the job summary, masked.
func (r *run) summary(md string) error {
	path := r.getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	return appendFile(path, r.mask.String(strings.TrimRight(md, "\n")+"\n\n"))
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// annotate turns policy violations, failures and drift into annotations.
func (r *run) annotate(res *result.Result) {
	for _, v := range res.Violations {
		where := v.Name
		if v.Type != "" {
			where = fmt.Sprintf("%s (%s)", v.Name, v.Type)
		}
		if where == "" {
			where = "stack " + res.Stack
		}
		a := r.log.WithFieldsMap(map[string]string{"title": v.Rule})
		msg := fmt.Sprintf("%s: %s", where, strings.Join(strings.Fields(v.Message), " "))
		if v.Mandatory() {
			a.Errorf("%s", msg)
		} else {
			a.Warningf("%s", msg)
		}
	}
	switch {
	case res.Status == result.Failed || res.Status == result.Blocked:
		first, _, _ := strings.Cut(strings.TrimSpace(res.Error), "\n")
		r.log.WithFieldsMap(map[string]string{"title": res.Stack + " " + string(res.Status)}).
			Errorf("%s %s: %s", res.Operation, res.Status, first)
	case r.plan.Drift && res.HasChanges():
		r.log.WithFieldsMap(map[string]string{"title": "Drift in " + res.Stack}).
			Warningf("stack %s has drifted from its configuration: %s", res.Stack, countsText(res))
	}
}

func countsText(res *result.Result) string {
	var parts []string
	for _, op := range result.Ops {
		if n := res.Counts[op]; n > 0 && op != result.OpSame {
			parts = append(parts, fmt.Sprintf("%d to %s", n, op))
		}
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}
