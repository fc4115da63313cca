package action

// This file applies reviewers' policy overrides: on a pull request they
// let a mandatory violation through (still listed, with who and why); on
// the merge deploy the same overrides make those rules advisory for that
// deploy only.

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/runner/policy"
	"github.com/containercraft/konductor-action/runner/result"
)

// reviews are a pull request's override lines, read once per run.
type reviews struct {
	once     sync.Once
	ok       []github.Override
	rejected []github.Rejected
	err      error
}

func (r *run) overrideLines(pr int) ([]github.Override, []github.Rejected, error) {
	rv := &r.reviews
	rv.once.Do(func() {
		gh, err := r.github()
		if err != nil {
			rv.err = err
			return
		}
		rv.ok, rv.rejected, rv.err = gh.Overrides(r.pubCtx, r.owner, r.repo, pr)
	})
	return rv.ok, rv.rejected, rv.err
}

// overridePR is the pull request whose reviews may override: the run's
// own on a pull request event, the merged one on a push deploy.
func (r *run) overridePR() int {
	if r.plan.PR != 0 {
		return r.plan.PR
	}
	if r.pushDeploy() {
		if pr, _, err := r.mergedPR(); err == nil && pr != nil {
			return pr.Number
		}
	}
	return 0
}

// granted returns the overrides that count for stack: each rule's first
// override whose reviewer konductor.yaml lets override it, by
// "<pack>/<rule>" in lower case; and notes on those that do not count.
// only, when not nil, limits it to those rules.
func (r *run) granted(stack string, only map[string]bool) (map[string]result.Override, []string) {
	pr := r.overridePR()
	if pr == 0 {
		return nil, nil
	}
	ok, rejected, err := r.overrideLines(pr)
	if err != nil {
		return nil, []string{fmt.Sprintf("overrides of pull request #%d could not be read, so none counts: %v", pr, err)}
	}
	st := &config.Stack{Name: stack, Settings: r.cfg}
	gh, err := r.github()
	if err != nil {
		return nil, nil
	}
	out := map[string]result.Override{}
	var notes []string
	for _, o := range ok {
		key := strings.ToLower(o.Pack + "/" + o.Rule)
		switch {
		case only != nil && !only[key]:
			notes = append(notes, fmt.Sprintf("override of %s by @%s did not count: no mandatory violation of that rule here", key, o.By))
			continue
		case !o.Covers(o.Pack, o.Rule, stack):
			if only != nil {
				notes = append(notes, fmt.Sprintf("override of %s by @%s did not count: it is for stack %s", key, o.By, o.Stack))
			}
			continue
		}
		if _, done := out[key]; done {
			continue
		}
		allowed, by := policy.Overridable(st, o.Pack, o.Rule)
		if !allowed {
			notes = append(notes, fmt.Sprintf("override of %s by @%s did not count: konductor.yaml sets the rule to override: never", key, o.By))
			continue
		}
		yes, err := github.OverrideAllowed(r.pubCtx, by, o.By, gh.InTeam)
		switch {
		case err != nil:
			notes = append(notes, fmt.Sprintf("override of %s by @%s did not count: %v", key, o.By, err))
			continue
		case !yes:
			notes = append(notes, fmt.Sprintf("override of %s by @%s did not count: konductor.yaml lets only %s override it (override_by)", key, o.By, strings.Join(by, ", ")))
			continue
		}
		out[key] = result.Override{By: o.By, Reason: o.Reason, URL: o.URL}
	}
	for _, rj := range rejected {
		key := strings.ToLower(rj.Pack + "/" + rj.Rule)
		if rj.Pack != "" && (only != nil && !only[key] || rj.Stack != "" && !strings.EqualFold(rj.Stack, stack)) {
			continue
		}
		notes = append(notes, rj.String())
	}
	return out, notes
}

// overrideViolations marks the mandatory violations of a pull request
// preview that a counted override covers, and notes the override lines
// that did not count.
func (r *run) overrideViolations(res *result.Result) {
	if r.plan.PR == 0 || res == nil || res.MandatoryViolations() == 0 {
		return
	}
	rules := map[string]bool{}
	for _, v := range res.Violations {
		if v.Mandatory() {
			rules[strings.ToLower(v.Pack+"/"+v.Rule)] = true
		}
	}
	granted, notes := r.granted(res.Stack, rules)
	markOverridden(res, granted)
	res.OverrideNotes = append(res.OverrideNotes, notes...)
	slices.Sort(res.OverrideNotes)
	res.OverrideNotes = slices.Compact(res.OverrideNotes)
	if res.Status == result.Blocked && res.MandatoryViolations() == 0 && strings.Contains(res.Error, "mandatory policy violation(s) block this") {
		// A preview stopped only by what is now overridden.
		res.Status, res.Error = result.Succeeded, ""
	}
}

// markOverridden marks the mandatory violations of granted rules.
func markOverridden(res *result.Result, granted map[string]result.Override) {
	for i, v := range res.Violations {
		if o, ok := granted[strings.ToLower(v.Pack+"/"+v.Rule)]; ok && v.Level == "mandatory" {
			res.Violations[i].Overridden = &o
		}
	}
}
