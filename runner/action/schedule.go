package action

// This file runs the planned stacks: it prepares them (validation, the
// backend's preflight, secrets to mask), runs them at most the parallel
// input at once, and waits out a locked stack.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/lock"
	"github.com/containercraft/konductor-action/runner/plan"
	"github.com/containercraft/konductor-action/runner/result"
)

// prepare validates every planned stack, checks that the secrets its
// backend needs are there, and collects its secret values to mask. It
// writes nothing. notRun maps a stack that cannot run to why; invalid maps
// a stack whose configuration or environment is wrong to the problem.
func (r *run) prepare() (notRun map[string]string, invalid map[string]error) {
	notRun, invalid = map[string]string{}, map[string]error{}
	if r.plan.NothingToDo {
		return
	}
	for _, sp := range r.plan.Stacks {
		if err := runner.Preflight(r.getenv, r.backend, r.dir, sp.Name); err != nil {
			invalid[sp.Name] = err
			continue
		}
		rn, err := r.getRunner()
		if err != nil {
			notRun[sp.Name] = err.Error()
			continue
		}
		if _, err := rn.Load(r.dir, sp.Name, r.settings); err != nil {
			var ce config.Errors
			if errors.As(err, &ce) {
				invalid[sp.Name] = ce
			} else {
				notRun[sp.Name] = err.Error()
			}
			continue
		}
		secrets, err := rn.Secrets(r.ctx, r.dir, sp.Name)
		if err != nil {
			notRun[sp.Name] = "could not read the stack's secret config: " + err.Error()
			continue
		}
		r.mask.Add(secrets...)
	}
	return
}

// runAll runs the planned stacks, at most the parallel input at once, and
// reports each: a stack whose configuration is invalid or that cannot run
// gets its section without running, and one stack's failure never stops
// the others. Each stack's log (the engine's progress included) is one
// group: streamed live when stacks run one at a time, else held and
// written whole when the stack finishes, so stacks never interleave. The
// comment section is upserted as each stack finishes (sections are ordered
// by name in the comment); the job summary and the results follow the
// plan's order whatever the finishing order.
func (r *run) runAll(notRun map[string]string, invalid map[string]error) ([]*result.Result, []error) {
	stacks := r.plan.Stacks
	results := make([]*result.Result, len(stacks))
	var errs []error
	summarized := 0
	finish := func(i int, res *result.Result) {
		results[i] = r.mask.Result(res)
		if err := r.publish(stacks[i], results[i]); err != nil {
			errs = append(errs, err)
		}
		for summarized < len(stacks) && results[summarized] != nil {
			errs = append(errs, r.summary(r.summaryMarkdown(results[summarized])))
			summarized++
		}
	}
	var runnable []int
	for i, sp := range stacks {
		if err, ok := invalid[sp.Name]; ok {
			res, _ := r.invalidResult(sp.Name, err)
			finish(i, res)
			continue
		}
		if why, ok := notRun[sp.Name]; ok {
			finish(i, r.notRunResult(sp.Name, result.Failed, why))
			continue
		}
		runnable = append(runnable, i)
	}

	if r.in.Parallel <= 1 || len(runnable) <= 1 {
		for _, i := range runnable {
			r.log.Group(stacks[i].Name)
			res := r.runStack(stacks[i], r.out)
			_ = r.out.Flush()
			r.log.EndGroup()
			finish(i, res)
		}
		return results, errs
	}

	type done struct {
		i   int
		res *result.Result
		log *bytes.Buffer
	}
	finished := make(chan done)
	go runner.Each(r.ctx, r.in.Parallel, len(runnable), func(k int) {
		i := runnable[k]
		var log bytes.Buffer
		res := r.runStack(stacks[i], &log)
		finished <- done{i, res, &log}
	}, func(k int, err error) {
		i := runnable[k]
		finished <- done{i, r.notRunResult(stacks[i].Name, result.Failed, "cancelled before it started: "+err.Error()), &bytes.Buffer{}}
	})
	r.log.Infof("running %d stacks, %d at a time", len(runnable), min(r.in.Parallel, len(runnable)))
	for range runnable {
		d := <-finished
		sp, res := stacks[d.i], d.res
		r.log.Group(fmt.Sprintf("%s (%s %s, %s)", sp.Name, res.Operation, res.Status, res.Duration.Round(100*time.Millisecond)))
		_, _ = r.out.Write(d.log.Bytes())
		_ = r.out.Flush()
		r.log.EndGroup()
		finish(d.i, res)
	}
	return results, errs
}

// runStack runs one stack, waiting out a locked stack; its progress and
// log lines go to log.
func (r *run) runStack(sp plan.StackPlan, log io.Writer) *result.Result {
	p := r.plan
	rn, err := r.getRunner()
	if err != nil {
		return r.notRunResult(sp.Name, result.Failed, err.Error())
	}
	req := runner.Request{Operation: p.Operation, Dir: r.dir, Stack: sp.Name, Commit: p.HeadSHA, Refresh: p.Refresh,
		PolicyPacks: r.policyPacks(), SettingsFile: r.settings, Progress: log,
		Review: r.reviewCheck(sp.Name), Mask: r.mask.Result}
	var notes []string
	if r.pushDeploy() {
		// The merged pull request's overrides hold for this deploy only.
		req.Overrides, notes = r.granted(sp.Name, nil)
	}
	deadline := r.Clock.Now().Add(r.LockTimeout)
	delay := firstLockDelay
	for {
		res, err := rn.Run(r.ctx, req)
		if !locked(res, err) {
			if err != nil {
				return r.notRunResult(sp.Name, result.Failed, err.Error())
			}
			res.OverrideNotes = append(res.OverrideNotes, notes...)
			r.overrideViolations(res)
			return res
		}
		if res != nil && !res.LockedSince.IsZero() {
			// A lock this old outlived its update, most likely killed:
			// waiting would only fail later. Say so and how to clear it.
			if age := r.Clock.Now().Sub(res.LockedSince); age >= r.in.StaleLockAge {
				res.Error = fmt.Sprintf("not waiting: the lock is %s old, at least stale-lock-age (%s), so its update is most likely gone\n%s%s",
					lock.Ago(age), lock.Ago(r.in.StaleLockAge), res.Error, cancelInWorkflow(sp.Name))
				return res
			}
		}
		if r.Clock.Now().Add(delay).After(deadline) {
			why := fmt.Sprintf("the stack is still locked by another update after waiting %s", r.LockTimeout)
			if res == nil {
				return r.notRunResult(sp.Name, result.Failed, why+": "+err.Error())
			}
			res.Error = why + "\n" + res.Error + cancelInWorkflow(sp.Name)
			return res
		}
		holder := "another update"
		if res != nil && res.LockedBy != "" {
			holder = fmt.Sprintf("%s since %s (%s ago)", res.LockedBy, res.LockedSince.UTC().Format(time.RFC3339),
				lock.Ago(max(r.Clock.Now().Sub(res.LockedSince), 0)))
		}
		fmt.Fprintf(log, "stack %s is locked by %s; retrying in %s (waiting up to %s)\n", sp.Name, holder, delay, r.LockTimeout)
		if err := r.Clock.Sleep(r.ctx, delay); err != nil {
			return r.notRunResult(sp.Name, result.Failed, "cancelled while waiting for the stack lock: "+err.Error())
		}
		delay = min(2*delay, maxLockDelay)
	}
}

// cancelInWorkflow says how to clear a stale lock from a workflow.
func cancelInWorkflow(stack string) string {
	return fmt.Sprintf("; from a workflow: run it with `command: cancel` and `stacks: %s`", stack)
}

// locked reports whether a run failed because another update holds the
// stack's lock.
func locked(res *result.Result, err error) bool {
	if errors.Is(err, engine.ErrConcurrentUpdate) {
		return true
	}
	return err == nil && res != nil && res.Status == result.Failed && res.Locked
}

func (r *run) policyPacks() []string {
	var out []string
	for _, p := range r.in.PolicyPacks {
		if !filepath.IsAbs(p) {
			p = filepath.Join(r.dir, p)
		}
		out = append(out, p)
	}
	return out
}

func (r *run) getRunner() (Runner, error) {
	if r.runner != nil {
		return r.runner, nil
	}
	rn, err := r.NewRunner(r.out)
	if err != nil {
		return nil, err
	}
	r.runner = rn
	return rn, nil
}
