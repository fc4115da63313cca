package engine

// This file names a stack's lock when an operation finds it locked, and
// gives `konductor cancel` what it needs: the state's pending operations,
// Pulumi Cloud's cancel, and the update in progress there.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/opthistory"

	"github.com/containercraft/konductor-action/runner/backend"
	"github.com/containercraft/konductor-action/runner/lock"
	"github.com/containercraft/konductor-action/runner/result"
)

// ErrNoStack is wrapped when a stack does not exist in the backend.
var ErrNoStack = errors.New("no such stack in the backend")

// CancelHint is what to run when the update holding a stack's lock is gone.
func CancelHint(stack string) string {
	return fmt.Sprintf("`konductor cancel --stack %s`", stack)
}

// explainLock replaces the CLI's lock error (which suggests `pulumi
// cancel`, removing every lock unasked) with who holds the lock, since
// when, and how to clear it if its run is gone; it records the holder
// and the newest lock's time for a caller deciding whether to wait.
func explainLock(ctx context.Context, backendURL, project, stack string, r *result.Result) {
	hint := "if that run is gone: " + CancelHint(stack)
	if !lock.Supported(backendURL) {
		r.Error = fmt.Sprintf("stack %s is locked by another update in progress on %s (its page there names it); if that update is gone: %s",
			stack, backend.Redact(backendURL), CancelHint(stack))
		return
	}
	ls, err := lock.Read(ctx, backendURL, project, stack)
	if err != nil || len(ls) == 0 {
		// Released meanwhile, or unreadable: the CLI's own words.
		r.Error += "\n" + hint
		return
	}
	now := time.Now()
	var held []string
	for _, l := range ls {
		held = append(held, l.Describe(now))
	}
	newest := ls[len(ls)-1]
	r.LockedSince = newest.Time
	r.LockedBy = newest.Holder()
	if len(ls) == 1 {
		r.Error = fmt.Sprintf("stack %s is locked by %s; %s", stack, held[0], hint)
		return
	}
	r.Error = fmt.Sprintf("stack %s is locked by %d updates: %s; if those runs are gone: %s", stack, len(ls), strings.Join(held, "; "), CancelHint(stack))
}

// PendingOperation is an operation an interrupted update left in the
// stack's state: the engine began it and never recorded its end.
type PendingOperation struct {
	URN  string `json:"urn"`
	Type string `json:"type"`
	// Kind is Pulumi's: creating, updating, deleting, reading, importing.
	Kind string `json:"kind"`
}

// Name is the resource's name, the URN's last part.
func (p PendingOperation) Name() string {
	return p.URN[strings.LastIndex(p.URN, "::")+2:]
}

// existing selects a stack that must already exist: cancelling must not
// create one.
func (e *Engine) existing(ctx context.Context, dir, name string) (auto.Stack, error) {
	env, err := e.Env(dir)
	if err != nil {
		return auto.Stack{}, err
	}
	ws, err := auto.NewLocalWorkspace(ctx, auto.Pulumi(e.cmd), auto.WorkDir(dir), auto.EnvVars(env))
	if err != nil {
		return auto.Stack{}, err
	}
	s, err := auto.SelectStack(ctx, name, ws)
	if auto.IsSelectStack404Error(err) {
		return auto.Stack{}, fmt.Errorf("%w: stack %s does not exist in %s", ErrNoStack, name, backend.Redact(env[EnvBackendURL]))
	}
	return s, err
}

// BackendURL is the backend the CLI uses for the project in dir.
func (e *Engine) BackendURL(dir string) (string, error) {
	env, err := e.Env(dir)
	if err != nil {
		return "", err
	}
	return env[EnvBackendURL], nil
}

// PendingOperations reads the stack's pending operations from its state
// (`pulumi stack export`, which takes no lock).
func (e *Engine) PendingOperations(ctx context.Context, dir, stack string) ([]PendingOperation, error) {
	s, err := e.existing(ctx, dir, stack)
	if err != nil {
		return nil, err
	}
	dep, err := s.Export(ctx)
	if err != nil {
		return nil, fmt.Errorf("stack %s: reading its state: %w", stack, err)
	}
	var d struct {
		Pending []struct {
			Resource struct {
				URN  string `json:"urn"`
				Type string `json:"type"`
			} `json:"resource"`
			Type string `json:"type"`
		} `json:"pending_operations"`
	}
	if len(dep.Deployment) > 0 {
		if err := json.Unmarshal(dep.Deployment, &d); err != nil {
			return nil, fmt.Errorf("stack %s: reading its state: %w", stack, err)
		}
	}
	var out []PendingOperation
	for _, p := range d.Pending {
		out = append(out, PendingOperation{URN: p.Resource.URN, Type: p.Resource.Type, Kind: p.Type})
	}
	return out, nil
}

// CancelUpdate cancels the stack's update in progress (`pulumi cancel`):
// on Pulumi Cloud the service ends it; on a self-managed backend it would
// delete every lock, old or new, so konductor removes stale locks itself.
func (e *Engine) CancelUpdate(ctx context.Context, dir, stack string) error {
	s, err := e.existing(ctx, dir, stack)
	if err != nil {
		return err
	}
	if err := s.Cancel(ctx); err != nil {
		return fmt.Errorf("stack %s: pulumi cancel: %w", stack, err)
	}
	return nil
}

// UpdateInProgress returns when the stack's update in progress started,
// as its history says (Pulumi Cloud lists a running update); zero when
// none is.
func (e *Engine) UpdateInProgress(ctx context.Context, dir, stack string) (time.Time, error) {
	s, err := e.existing(ctx, dir, stack)
	if err != nil {
		return time.Time{}, err
	}
	h, err := s.History(ctx, 1, 1, opthistory.ShowSecrets(false))
	if err != nil || len(h) == 0 || h[0].Result != "in-progress" {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339, h[0].StartTime)
}
