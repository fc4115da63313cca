package engine

// This file names a stack's lock when an operation finds it locked, and
// gives `konductor cancel` what it needs: the state's pending operations,
// Pulumi Cloud's cancel, and the update in progress there.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/opthistory"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

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
	// Inputs are the resource's inputs as the provider checked them
	// (secrets still encrypted).
	Inputs map[string]any `json:"-"`
}

// Name is the resource's name, the URN's last part.
func (p PendingOperation) Name() string {
	return p.URN[strings.LastIndex(p.URN, "::")+2:]
}

// State is what cancelling reads of a stack's state.
type State struct {
	// Resources are the URNs of the resources the state holds.
	Resources []string
	Pending   []PendingOperation
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

// deployment is the part of an exported state cancelling reads and edits;
// the rest passes through untouched.
type deployment struct {
	Resources []json.RawMessage  `json:"resources"`
	Pending   []pendingOperation `json:"pending_operations"`
}

type pendingOperation struct {
	Resource json.RawMessage `json:"resource"`
	Type     string          `json:"type"`
}

type stateResource struct {
	URN    string         `json:"urn"`
	Type   string         `json:"type"`
	Inputs map[string]any `json:"inputs"`
}

// export reads the stack's state (`pulumi stack export`, which takes no
// lock): the deployment whole and its parts.
func (e *Engine) export(ctx context.Context, dir, stack string) (auto.Stack, apitype.UntypedDeployment, map[string]json.RawMessage, *deployment, error) {
	s, err := e.existing(ctx, dir, stack)
	if err != nil {
		return s, apitype.UntypedDeployment{}, nil, nil, err
	}
	dep, err := s.Export(ctx)
	if err != nil {
		return s, dep, nil, nil, fmt.Errorf("stack %s: reading its state: %w", stack, err)
	}
	whole := map[string]json.RawMessage{}
	var d deployment
	if len(dep.Deployment) > 0 {
		if err := json.Unmarshal(dep.Deployment, &whole); err != nil {
			return s, dep, nil, nil, fmt.Errorf("stack %s: reading its state: %w", stack, err)
		}
		if err := json.Unmarshal(dep.Deployment, &d); err != nil {
			return s, dep, nil, nil, fmt.Errorf("stack %s: reading its state: %w", stack, err)
		}
	}
	return s, dep, whole, &d, nil
}

// ReadState reads the stack's resources and pending operations.
func (e *Engine) ReadState(ctx context.Context, dir, stack string) (*State, error) {
	_, _, _, d, err := e.export(ctx, dir, stack)
	if err != nil {
		return nil, err
	}
	st := &State{}
	for _, raw := range d.Resources {
		var r stateResource
		if json.Unmarshal(raw, &r) == nil {
			st.Resources = append(st.Resources, r.URN)
		}
	}
	for _, p := range d.Pending {
		var r stateResource
		if err := json.Unmarshal(p.Resource, &r); err != nil {
			return nil, fmt.Errorf("stack %s: reading its pending operations: %w", stack, err)
		}
		st.Pending = append(st.Pending, PendingOperation{URN: r.URN, Type: r.Type, Kind: p.Type, Inputs: r.Inputs})
	}
	return st, nil
}

// AdoptPendingCreates records pending creates as resources of the state
// with the IDs given by URN, so that a refresh reads each back from its
// provider: one the provider made is kept, with what it reports, and one
// it never made is dropped. The resource keeps the inputs the provider
// checked (the Kubernetes provider's field manager among them), so the
// next update owns what the interrupted create applied. The stack must not
// be locked (`pulumi stack import` takes the lock).
func (e *Engine) AdoptPendingCreates(ctx context.Context, dir, stack string, ids map[string]string) error {
	s, dep, whole, d, err := e.export(ctx, dir, stack)
	if err != nil {
		return err
	}
	var keep []pendingOperation
	for _, p := range d.Pending {
		var r map[string]any
		if err := json.Unmarshal(p.Resource, &r); err != nil {
			return fmt.Errorf("stack %s: reading its pending operations: %w", stack, err)
		}
		urn, _ := r["urn"].(string)
		id, ok := ids[urn]
		if p.Type != "creating" || !ok {
			keep = append(keep, p)
			continue
		}
		r["id"] = id
		if _, ok := r["outputs"]; !ok {
			r["outputs"] = r["inputs"]
		}
		raw, err := json.Marshal(r)
		if err != nil {
			return err
		}
		// Appended: what depends on an interrupted create was never made,
		// so the state's order (dependencies first) holds.
		d.Resources = append(d.Resources, raw)
	}
	if whole["resources"], err = json.Marshal(d.Resources); err != nil {
		return err
	}
	if whole["pending_operations"], err = json.Marshal(keep); err != nil {
		return err
	}
	if len(keep) == 0 {
		delete(whole, "pending_operations")
	}
	raw, err := json.Marshal(whole)
	if err != nil {
		return err
	}
	if err := s.Import(ctx, apitype.UntypedDeployment{Version: dep.Version, Deployment: raw}); err != nil {
		return fmt.Errorf("stack %s: writing its state: %w", stack, err)
	}
	return nil
}

// KeepFieldManagers gives each adopted Kubernetes object in urns the
// server-side apply field manager that applied it, as its live
// managedFields name it: the interrupted create chose one at random and
// recorded it nowhere else, so without it the next update would apply as
// a stranger and conflict with every field it changes.
func (e *Engine) KeepFieldManagers(ctx context.Context, dir, stack string, urns []string) (int, error) {
	s, dep, whole, d, err := e.export(ctx, dir, stack)
	if err != nil {
		return 0, err
	}
	n := 0
	for i, raw := range d.Resources {
		var r map[string]any
		if json.Unmarshal(raw, &r) != nil || !slices.Contains(urns, fmt.Sprint(r["urn"])) {
			continue
		}
		out, _ := r["outputs"].(map[string]any)
		meta, _ := out["metadata"].(map[string]any)
		fields, _ := meta["managedFields"].([]any)
		for _, f := range fields {
			m, _ := f.(map[string]any)
			if name, _ := m["manager"].(string); m["operation"] == "Apply" && strings.HasPrefix(name, "pulumi-kubernetes-") {
				out["__fieldManager"] = name
				n++
				break
			}
		}
		if d.Resources[i], err = json.Marshal(r); err != nil {
			return 0, err
		}
	}
	if n == 0 {
		return 0, nil
	}
	if whole["resources"], err = json.Marshal(d.Resources); err != nil {
		return 0, err
	}
	raw, err := json.Marshal(whole)
	if err != nil {
		return 0, err
	}
	if err := s.Import(ctx, apitype.UntypedDeployment{Version: dep.Version, Deployment: raw}); err != nil {
		return 0, fmt.Errorf("stack %s: writing its state: %w", stack, err)
	}
	return n, nil
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
