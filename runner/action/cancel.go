package action

// This file is command: cancel, konductor cancel as a workflow step: it
// clears the stacks input's stacks that an interrupted deploy left locked
// and resolves what that deploy left pending, for a workflow_dispatch run
// after a deploy was killed.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/backend"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/lock"
	"github.com/containercraft/konductor-action/runner/plan"
)

// canceller is what command cancel needs of the runner; *runner.Runner
// has it.
type canceller interface {
	Cancel(ctx context.Context, req runner.CancelRequest) (*runner.CancelReport, error)
}

var _ canceller = (*runner.Runner)(nil)

// cancel runs command cancel. Its error wraps ErrBadInput (or is
// config.Errors) for bad input, ErrFailed when a stack stays locked or
// keeps pending operations.
func (r *run) cancel() error {
	if ev := r.event.Name; ev == plan.EventPullRequest || ev == "pull_request_target" {
		// Whoever can open a pull request must not clear a deploy's lock.
		why := fmt.Sprintf("command cancel does not run on %s events: run it from workflow_dispatch; nothing was done", ev)
		r.log.Warningf("konductor: %s", why)
		return r.summary("### Konductor\n\n" + why + ".\n")
	}
	if len(r.in.Stacks) == 0 {
		// Clearing locks is deliberate: name the stacks, never "all".
		return badInput("input stacks: command cancel needs the stacks whose stale lock to clear (stacks: dev)")
	}
	var unknown []string
	for _, s := range r.in.Stacks {
		if !slices.Contains(r.stacks, s) {
			unknown = append(unknown, s)
		}
	}
	if len(unknown) > 0 {
		return badInput("input stacks: no stack %s in %s (stacks: %s)", strings.Join(unknown, ", "), r.in.WorkDir, strings.Join(r.stacks, ", "))
	}
	b, err := backend.Resolve(r.dir, r.getenv)
	if err != nil {
		return badInput("resolving the state backend: %w", err)
	}
	r.mask.Add(backend.Secrets(b.URL)...)
	r.backend = b
	if err := b.CheckWorkflow(CommandCancel, false); err != nil {
		return badInput("%w", err)
	}
	var invalid config.Errors
	for _, s := range r.in.Stacks {
		if err := runner.Preflight(r.getenv, b, r.dir, s); err != nil {
			var ce config.Errors
			if !errors.As(err, &ce) {
				return err
			}
			invalid = append(invalid, ce...)
		}
	}
	rn, err := r.getRunner()
	if err != nil {
		return err
	}
	if len(invalid) == 0 {
		// A refresh's error may quote the stack's config: mask it first.
		for _, s := range r.in.Stacks {
			secrets, err := rn.Secrets(r.ctx, r.dir, s)
			if err != nil {
				return fmt.Errorf("stack %s: reading its secret config to mask: %w", s, err)
			}
			r.mask.Add(secrets...)
		}
	}
	r.writeMasks()
	if len(invalid) > 0 {
		return invalid
	}
	c, ok := rn.(canceller)
	if !ok {
		return errors.New("command cancel: the runner cannot cancel")
	}
	r.log.Infof("konductor: state backend %s", b)
	r.log.Infof("konductor: %s (stale-lock-age %s)", r.plan.Reason, lock.Ago(r.in.StaleLockAge))

	var failed []string
	var errs []error
	for _, s := range r.in.Stacks {
		r.log.Group("cancel " + s)
		rep, err := c.Cancel(r.ctx, runner.CancelRequest{Dir: r.dir, Stack: s, SettingsFile: r.settings,
			OlderThan: r.in.StaleLockAge, Progress: r.out,
			Force: fmt.Sprintf("this workflow's `command: cancel` with `stacks: %s` and `stale-lock-age: 0s`", s)})
		if err != nil {
			_ = r.out.Flush()
			r.log.EndGroup()
			var ce config.Errors
			if errors.As(err, &ce) {
				invalid = append(invalid, ce...)
				continue
			}
			r.log.Errorf("stack %s: %v", s, err)
			failed = append(failed, s)
			continue
		}
		md := rep.Markdown()
		_, _ = io.WriteString(r.out, md)
		_ = r.out.Flush()
		r.log.EndGroup()
		if !rep.OK() {
			r.log.Errorf("stack %s: not cleared (see its section in the job summary)", s)
			failed = append(failed, s)
		}
		errs = append(errs, r.summary(md))
	}
	if len(invalid) > 0 {
		r.log.Errorf("%v", invalid)
		return invalid
	}
	if err := errors.Join(errs...); err != nil {
		failed = append(failed, "writing the job summary: "+err.Error())
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: cancel: %s", ErrFailed, strings.Join(failed, ", "))
	}
	return nil
}

// writeMasks writes the ::add-mask:: commands, before anything else, and
// then the version line.
func (r *run) writeMasks() {
	for _, v := range r.mask.Values() {
		r.Action.AddMask(v)
	}
	if r.AfterMasks != nil {
		r.AfterMasks()
	}
	if r.Version != "" {
		r.log.Infof("%s", r.Version)
	}
}
