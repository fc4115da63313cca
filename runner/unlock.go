package runner

// This file is `konductor cancel`: clear a stack that an interrupted
// update left locked, then resolve the operations it left pending.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/containercraft/konductor-action/runner/backend"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/lock"
	"github.com/containercraft/konductor-action/runner/report"
	"github.com/containercraft/konductor-action/runner/result"
)

// Canceller is what cancelling needs of the engine besides Engine;
// *engine.Engine has it.
type Canceller interface {
	BackendURL(dir string) (string, error)
	ReadState(ctx context.Context, dir, stack string) (*engine.State, error)
	AdoptPendingCreates(ctx context.Context, dir, stack string, ids map[string]string) error
	KeepFieldManagers(ctx context.Context, dir, stack string, urns []string) (int, error)
	CancelUpdate(ctx context.Context, dir, stack string) error
	UpdateInProgress(ctx context.Context, dir, stack string) (time.Time, error)
}

var _ Canceller = (*engine.Engine)(nil)

// CancelRequest names the stack to clear.
type CancelRequest struct {
	Dir   string
	Stack string
	// SettingsFile is the konductor.yaml to use; empty: the one in Dir.
	SettingsFile string
	// OlderThan is the age from which a lock is stale and removed; a
	// younger one is kept, as its update may still be running.
	OlderThan time.Duration
	// Progress receives the refresh's progress text.
	Progress io.Writer
	// Now is the time ages are measured at (zero: the current time).
	Now time.Time
	// Force says how to clear a lock kept for being young, once a person
	// knows its run is gone (default: konductor cancel --older-than 0s).
	Force string
	// ClearPendingCreates drops the pending creates konductor cannot
	// check, once a person has: a create the provider made then exists
	// outside the state.
	ClearPendingCreates bool
}

// LockOutcome is one lock found on the stack, and what became of it.
type LockOutcome struct {
	Holder  string    `json:"holder"`
	Since   time.Time `json:"since,omitzero"`
	Removed bool      `json:"removed"`
	// Describe is Holder with since when and how long ago.
	Describe string `json:"describe"`
}

// CancelReport is what `konductor cancel` found and did on one stack.
type CancelReport struct {
	Stack     string        `json:"stack"`
	Backend   string        `json:"backend"`
	OlderThan time.Duration `json:"olderThanNs"`
	// Locks are a self-managed backend's locks on the stack.
	Locks []LockOutcome `json:"locks,omitempty"`
	// Cloud is set on Pulumi Cloud, whose lock is the update in progress;
	// CloudUpdate is when it started (zero: none), CloudCancelled whether
	// `pulumi cancel` ended it.
	Cloud          bool      `json:"cloud,omitempty"`
	CloudUpdate    time.Time `json:"cloudUpdate,omitzero"`
	CloudCancelled bool      `json:"cloudCancelled,omitempty"`
	// Kept says why the lock was left in place; the stack stays locked.
	Kept string `json:"kept,omitempty"`
	// Pending are the operations the interrupted update left in state.
	Pending []engine.PendingOperation `json:"pending,omitempty"`
	// Adopted are the pending creates recorded as resources for the
	// refresh to check (Kubernetes objects, whose ID is their name);
	// Found, those the refresh found made and kept.
	Adopted []string `json:"adopted,omitempty"`
	Found   []string `json:"found,omitempty"`
	// Cleared is set when pending creates were dropped on request.
	Cleared bool `json:"cleared,omitempty"`
	// Refreshed is set when a refresh ran to resolve them; RefreshError
	// says why it failed.
	Refreshed    bool   `json:"refreshed,omitempty"`
	RefreshError string `json:"refreshError,omitempty"`
	// Left are the operations still pending: for a person to resolve.
	Left []engine.PendingOperation `json:"left,omitempty"`
	// Error is a failure that stopped the cancel.
	Error string `json:"error,omitempty"`
}

// OK reports whether the stack is now unlocked with nothing pending.
func (c *CancelReport) OK() bool {
	return c.Kept == "" && c.Error == "" && c.RefreshError == "" && len(c.Left) == 0
}

// Cancel clears a stack an interrupted update left behind. On a
// self-managed backend it removes each lock at least OlderThan old and
// keeps younger ones (their update may still run: then nothing else is
// done); on Pulumi Cloud it cancels the update in progress unless it began
// less than OlderThan ago. Then it reads the operations the update left
// pending and, if any, resolves them as Pulumi does: a refresh reads the
// interrupted updates and deletes back from the provider and drops the
// pending creates (--clear-pending-creates); what is still pending after
// it is listed for a person. A stack with no lock says so and is still
// checked. The error is for what stopped it before it could report:
// config.Errors for an unknown stack or invalid configuration.
func (r *Runner) Cancel(ctx context.Context, req CancelRequest) (*CancelReport, error) {
	names, err := config.ListStacks(req.Dir)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(names, req.Stack) {
		return nil, config.Errors{{File: config.StackFile(req.Dir, req.Stack),
			Reason: fmt.Sprintf("no stack %q here: no such file (stacks: %s)", req.Stack, strings.Join(orNone(names), ", "))}}
	}
	st, err := r.Load(req.Dir, req.Stack, req.SettingsFile)
	if err != nil {
		return nil, err
	}
	c, ok := r.Engine.(Canceller)
	if !ok {
		return nil, errors.New("runner: the engine cannot cancel")
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	url, err := c.BackendURL(req.Dir)
	if err != nil {
		return nil, err
	}
	rep := &CancelReport{Stack: req.Stack, Backend: backend.Redact(url), OlderThan: req.OlderThan}

	// The stack must exist: reading its state first proves that before
	// any lock is touched.
	if _, err := c.ReadState(ctx, req.Dir, req.Stack); errors.Is(err, engine.ErrNoStack) {
		return nil, config.Errors{{File: st.File, Reason: err.Error() + ": nothing to cancel"}}
	}

	if lock.Supported(url) {
		if err := r.clearLocks(ctx, url, st.Project, req, now, rep); err != nil {
			rep.Error = err.Error()
			return rep, nil
		}
	} else {
		rep.Cloud = true
		if err := cancelCloud(ctx, c, req, now, rep); err != nil {
			rep.Error = err.Error()
			return rep, nil
		}
	}

	state, err := c.ReadState(ctx, req.Dir, req.Stack)
	if err != nil {
		rep.Error = err.Error()
		return rep, nil
	}
	rep.Pending = state.Pending
	if rep.Kept != "" || len(state.Pending) == 0 {
		// Under a kept lock they may be in flight still: not ours to touch.
		rep.Left = state.Pending
		return rep, nil
	}
	// A pending create is checked where it can be: a Kubernetes object's
	// ID is its name, so the refresh reads it back. Elsewhere the ID comes
	// from the provider's answer, lost with the update: a person decides.
	ids := map[string]string{}
	for _, p := range state.Pending {
		if id, ok := kubernetesID(p); ok && p.Kind == "creating" {
			ids[p.URN] = id
			rep.Adopted = append(rep.Adopted, p.URN)
		}
	}
	if len(ids) > 0 {
		if err := c.AdoptPendingCreates(ctx, req.Dir, req.Stack, ids); err != nil {
			rep.Error = err.Error()
			return rep, nil
		}
	}
	res, err := r.Run(ctx, Request{Operation: result.Refresh, Dir: req.Dir, Stack: req.Stack,
		SettingsFile: req.SettingsFile, Progress: req.Progress, ClearPendingCreates: req.ClearPendingCreates})
	rep.Refreshed, rep.Cleared = true, req.ClearPendingCreates
	switch {
	case err != nil:
		rep.RefreshError = err.Error()
	case res.Status != result.Succeeded:
		rep.RefreshError = res.Error
	}
	after, err := c.ReadState(ctx, req.Dir, req.Stack)
	if err != nil {
		rep.Error = err.Error()
		return rep, nil
	}
	rep.Left = after.Pending
	for _, urn := range rep.Adopted {
		if slices.Contains(after.Resources, urn) {
			rep.Found = append(rep.Found, urn)
		}
	}
	if len(rep.Found) > 0 && rep.RefreshError == "" {
		if _, err := c.KeepFieldManagers(ctx, req.Dir, req.Stack, rep.Found); err != nil {
			rep.Error = err.Error()
		}
	}
	return rep, nil
}

// kubernetesID is the ID the Kubernetes provider gives an object:
// namespace/name, or name for a cluster-wide one.
func kubernetesID(p engine.PendingOperation) (string, bool) {
	if !strings.HasPrefix(p.Type, "kubernetes:") {
		return "", false
	}
	meta, _ := p.Inputs["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if name == "" {
		return "", false // computed, or a secret: not known here
	}
	if ns, _ := meta["namespace"].(string); ns != "" {
		return ns + "/" + name, true
	}
	return name, true
}

func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"none"}
	}
	return s
}

// clearLocks removes the stack's stale locks from a self-managed backend.
func (r *Runner) clearLocks(ctx context.Context, url, project string, req CancelRequest, now time.Time, rep *CancelReport) error {
	s, err := lock.Open(ctx, url)
	if err != nil {
		return err
	}
	defer s.Close()
	ls, err := s.List(ctx, project, req.Stack)
	if err != nil {
		return err
	}
	var young []string
	for _, l := range ls {
		o := LockOutcome{Holder: l.Holder(), Since: l.Time, Describe: l.Describe(now)}
		if l.Age(now) >= req.OlderThan {
			if err := s.Remove(ctx, l); err != nil {
				return err
			}
			o.Removed = true
		} else {
			young = append(young, lock.Ago(l.Age(now)))
		}
		rep.Locks = append(rep.Locks, o)
	}
	if len(young) > 0 {
		rep.Kept = fmt.Sprintf("a lock %s old is younger than the stale age (%s): its update may still be running. "+
			"If that run is gone (check the workflow run or the host), clear it now with %s",
			strings.Join(young, ", "), age(req.OlderThan), req.force())
	}
	return nil
}

// cancelCloud cancels Pulumi Cloud's update in progress, unless it is
// younger than the stale age.
func cancelCloud(ctx context.Context, c Canceller, req CancelRequest, now time.Time, rep *CancelReport) error {
	started, err := c.UpdateInProgress(ctx, req.Dir, req.Stack)
	if err != nil {
		return err
	}
	rep.CloudUpdate = started
	if started.IsZero() {
		return nil
	}
	if a := max(now.Sub(started), 0); a < req.OlderThan {
		rep.Kept = fmt.Sprintf("the update in progress began %s ago, less than the stale age (%s): it may still be running. "+
			"If it is gone, cancel it now with %s", lock.Ago(a), age(req.OlderThan), req.force())
		return nil
	}
	if err := c.CancelUpdate(ctx, req.Dir, req.Stack); err != nil {
		return err
	}
	rep.CloudCancelled = true
	return nil
}

func (req CancelRequest) force() string {
	if req.Force != "" {
		return req.Force
	}
	return fmt.Sprintf("`konductor cancel --stack %s --older-than 0s`", req.Stack)
}

// age renders a stale age as the user wrote it.
func age(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	return lock.Ago(d)
}

// Markdown renders the report for the job summary and the terminal.
func (c *CancelReport) Markdown() string {
	var b strings.Builder
	icon, status := "✅", "cleared"
	switch {
	case c.Kept != "":
		icon, status = "🔒", "lock kept"
	case !c.OK():
		icon, status = "⚠️", "needs a person"
	case len(c.Locks) == 0 && !c.CloudCancelled && len(c.Pending) == 0:
		status = "not locked, nothing pending"
	}
	fmt.Fprintf(&b, "### %s `%s` — cancel: %s\n\n", icon, c.Stack, status)
	fmt.Fprintf(&b, "- Backend: `%s`\n", c.Backend)
	switch {
	case c.Cloud && c.CloudCancelled:
		fmt.Fprintf(&b, "- Update in progress since %s (%s ago): cancelled on Pulumi Cloud\n", c.CloudUpdate.UTC().Format(time.RFC3339), lock.Ago(max(time.Since(c.CloudUpdate), 0)))
	case c.Cloud && c.CloudUpdate.IsZero():
		b.WriteString("- Lock: none (no update in progress on Pulumi Cloud)\n")
	case c.Cloud:
		fmt.Fprintf(&b, "- Update in progress since %s: kept\n", c.CloudUpdate.UTC().Format(time.RFC3339))
	case len(c.Locks) == 0:
		b.WriteString("- Lock: none\n")
	}
	for _, l := range c.Locks {
		what := "kept"
		if l.Removed {
			what = "removed"
		}
		fmt.Fprintf(&b, "- Lock %s: %s\n", what, report.Escape(l.Describe))
	}
	if c.Kept != "" {
		fmt.Fprintf(&b, "- **Kept**: %s\n", c.Kept)
	}
	if c.Error != "" {
		fmt.Fprintf(&b, "- **Error**: %s\n", report.Escape(c.Error))
	}
	switch {
	case len(c.Pending) == 0 && c.Error == "":
		b.WriteString("- Pending operations: none\n")
	case len(c.Pending) > 0:
		fmt.Fprintf(&b, "- Pending operations left by the interrupted update: %d\n", len(c.Pending))
		for _, p := range c.Pending {
			fmt.Fprintf(&b, "  - %s `%s` **%s**: %s\n", p.Kind, p.Type, report.Escape(p.Name()), c.fate(p))
		}
	}
	if c.Refreshed {
		if c.RefreshError != "" {
			fmt.Fprintf(&b, "- Refresh failed: %s\n", report.Escape(firstLine(c.RefreshError)))
		} else {
			b.WriteString("- Refresh: succeeded\n")
		}
	}
	if len(c.Left) > 0 && c.Kept == "" {
		b.WriteString("\nStill pending, for a person: check each resource at its provider first. " +
			"The state is edited with `pulumi stack export` and `pulumi stack import` if anything else is needed.\n")
	}
	if c.OK() {
		fmt.Fprintf(&b, "\nThe stack is free: the next deploy (`konductor up --stack %s`) runs.\n", c.Stack)
	}
	return b.String()
}

// fate says what became of one pending operation.
func (c *CancelReport) fate(p engine.PendingOperation) string {
	left := slices.ContainsFunc(c.Left, func(l engine.PendingOperation) bool { return l.URN == p.URN && l.Kind == p.Kind })
	switch {
	case c.Kept != "":
		return "may still be in flight under the kept lock"
	case left && p.Kind == "creating":
		return "still pending: konductor cannot tell whether the provider made it. Check there; if it was not made " +
			"(or once you deleted what was), drop it with `konductor cancel --stack " + c.Stack + " --clear-pending-creates`"
	case left:
		return "still pending: check it at its provider"
	case slices.Contains(c.Found, p.URN):
		return "made before the interruption: read back by the refresh and kept in the state"
	case slices.Contains(c.Adopted, p.URN):
		return "never made: the refresh found no such object and dropped it"
	case p.Kind == "creating" && c.Cleared:
		return "dropped (--clear-pending-creates): if the provider made it, it exists outside the state"
	default:
		return "resolved by the refresh (the state now holds what the provider reports)"
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
