// Package engine runs Pulumi operations through the Automation API with the
// pinned CLI, on the user's own project directory, and turns the engine's
// event stream into a result.Result.
package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/runner/backend"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/result"
)

// Environment variables the engine reads.
const (
	EnvPulumiRoot = "KONDUCTOR_PULUMI_ROOT" // dir holding bin/pulumi
	EnvPluginPath = "KONDUCTOR_PLUGIN_PATH" // dirs holding pulumi-resource-* plugins
	EnvBackendURL = "PULUMI_BACKEND_URL"
	EnvPassphrase = "PULUMI_CONFIG_PASSPHRASE"
)

// LocalStateDir is where the embedded default backend keeps state, under the
// work dir, when no backend is configured (backend.Resolve).
const LocalStateDir = backend.StateDir

// Options configure an Engine.
type Options struct {
	// PulumiRoot is the dir holding bin/pulumi; empty: KONDUCTOR_PULUMI_ROOT,
	// else the install tree konductor runs from (see InstallTree), else
	// `pulumi` on PATH.
	PulumiRoot string
	// PluginPath is prepended to PATH so the engine finds provider plugins;
	// empty: KONDUCTOR_PLUGIN_PATH, else the install tree's plugins dir.
	PluginPath string
	// Environ is the environment the CLI runs with (KEY=value); nil uses
	// the process's own. Tests pass a complete, private one.
	Environ []string
	// Progress receives the CLI's own progress text, if set.
	Progress io.Writer
	Log      *slog.Logger
}

// Engine runs operations. One Engine serves many stacks, at once too, and
// pays once for what they share: the CLI is resolved (`pulumi version`)
// once, and a stack is selected or created (`pulumi stack select`) once per
// process however many operations run on it.
type Engine struct {
	cmd    auto.PulumiCommand
	opts   Options
	vars   map[string]string
	getenv func(string) string
	log    *slog.Logger
	// selected holds the stacks (backend, work dir, name) known to exist.
	selected sync.Map
}

// New resolves the Pulumi CLI once.
func New(opts Options) (*Engine, error) {
	if opts.Environ == nil {
		opts.Environ = os.Environ()
	}
	vars := map[string]string{}
	for _, kv := range opts.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	getenv := func(k string) string { return vars[k] }
	if opts.PulumiRoot == "" {
		opts.PulumiRoot = getenv(EnvPulumiRoot)
	}
	if opts.PluginPath == "" {
		opts.PluginPath = getenv(EnvPluginPath)
	}
	if opts.PulumiRoot == "" || opts.PluginPath == "" {
		root, plugins := InstallTree()
		if opts.PulumiRoot == "" {
			opts.PulumiRoot = root
		}
		if opts.PluginPath == "" {
			opts.PluginPath = plugins
		}
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: opts.PulumiRoot, SkipVersionCheck: true})
	if err != nil {
		where := "on PATH"
		if opts.PulumiRoot != "" {
			where = "in " + opts.PulumiRoot + "/bin"
		}
		return nil, fmt.Errorf("pulumi CLI not usable %s (build it with `make tools`, or set %s): %w", where, EnvPulumiRoot, err)
	}
	log.Debug("pulumi CLI", "version", cmd.Version().String(), "root", opts.PulumiRoot)
	return &Engine{cmd: newCommand(cmd, opts.PulumiRoot), opts: opts, vars: vars, getenv: getenv, log: log}, nil
}

// Request is one operation on one stack.
type Request struct {
	Operation result.Operation
	Stack     *config.Stack
	Program   pulumi.RunFunc
	// PolicyPacks are absolute paths of policy pack binaries.
	PolicyPacks []string
	// PolicyConfigs are policy-pack config JSON files, one per pack.
	PolicyConfigs []string
	// Refresh refreshes state from the cloud before the operation.
	Refresh bool
	// Progress receives this operation's progress text instead of
	// Options.Progress: stacks run side by side each keep their own.
	Progress io.Writer
	// ClearPendingCreates makes a refresh drop the pending creates an
	// interrupted update left (`pulumi refresh --clear-pending-creates`).
	ClearPendingCreates bool
	// SavePlan makes a preview save its update plan to this file
	// (`pulumi preview --save-plan`); Plan makes an up keep to the plan in
	// this file (`pulumi up --plan`): it fails rather than do more.
	SavePlan, Plan string
}

// Run performs one operation and returns its result. The error is non-nil
// only when no result could be produced at all; a failed operation returns
// a result with Status Failed and its Error set.
func (e *Engine) Run(ctx context.Context, req Request) (*result.Result, error) {
	st := req.Stack
	start := time.Now()
	env, err := e.Env(st.Dir)
	if err != nil {
		return nil, err
	}
	// A preview must not modify the user's files: Pulumi writes an
	// encryptionsalt into a stack file that has none. Put it back.
	if req.Operation == result.Preview {
		if orig, err := os.ReadFile(st.File); err == nil {
			defer restore(st.File, orig)
		}
	}
	// The work dir holds the user's Pulumi.yaml: the workspace reads it.
	stack, err := e.stack(ctx, st.Dir, st.Name, env, auto.Program(req.Program))
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", st.Name, classify(err))
	}

	b := result.NewBuilder(st.Project, st.Name, req.Operation)
	ch := make(chan events.EngineEvent)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			if ev.Error != nil {
				e.log.Warn("event stream", "err", ev.Error)
				continue
			}
			b.Add(ev.EngineEvent)
		}
	}()

	var stderr bytes.Buffer
	progress := []io.Writer{}
	if req.Progress != nil {
		progress = append(progress, req.Progress)
	} else if e.opts.Progress != nil {
		progress = append(progress, e.opts.Progress)
	}
	errw := io.MultiWriter(append(progress, &stderr)...)
	e.log.Info("engine", "op", req.Operation, "stack", st.Name, "modules", strings.Join(st.ModuleNames(), ","))
	switch req.Operation {
	case result.Preview:
		opts := []optpreview.Option{optpreview.EventStreams(ch), optpreview.Color("never"),
			optpreview.ProgressStreams(progress...), optpreview.ErrorProgressStreams(errw)}
		if len(req.PolicyPacks) > 0 {
			opts = append(opts, optpreview.PolicyPacks(req.PolicyPacks...))
		}
		if len(req.PolicyConfigs) > 0 {
			opts = append(opts, optpreview.PolicyPackConfigs(req.PolicyConfigs...))
		}
		if req.Refresh {
			opts = append(opts, optpreview.Refresh())
		}
		if req.SavePlan != "" {
			opts = append(opts, optpreview.Plan(req.SavePlan))
		}
		_, err = stack.Preview(ctx, opts...)
	case result.Up:
		opts := []optup.Option{optup.EventStreams(ch), optup.Color("never"),
			optup.ProgressStreams(progress...), optup.ErrorProgressStreams(errw)}
		if len(req.PolicyPacks) > 0 {
			opts = append(opts, optup.PolicyPacks(req.PolicyPacks...))
		}
		if len(req.PolicyConfigs) > 0 {
			opts = append(opts, optup.PolicyPackConfigs(req.PolicyConfigs...))
		}
		if req.Refresh {
			opts = append(opts, optup.Refresh())
		}
		if req.Plan != "" {
			opts = append(opts, optup.Plan(req.Plan))
		}
		_, err = stack.Up(ctx, opts...)
	case result.Refresh:
		opts := []optrefresh.Option{optrefresh.EventStreams(ch), optrefresh.Color("never"),
			optrefresh.ProgressStreams(progress...), optrefresh.ErrorProgressStreams(errw)}
		if req.ClearPendingCreates {
			opts = append(opts, optrefresh.ClearPendingCreates())
		}
		_, err = stack.Refresh(ctx, opts...)
	case result.Destroy:
		_, err = stack.Destroy(ctx, optdestroy.EventStreams(ch), optdestroy.Color("never"),
			optdestroy.ProgressStreams(progress...), optdestroy.ErrorProgressStreams(errw))
	default:
		close(ch)
		return nil, fmt.Errorf("unknown operation %q", req.Operation)
	}
	// The API closes the channel at the end of the stream; if the CLI died
	// before streaming, nothing will, so do not wait forever. A cancelled
	// run waits less: it must still be reported inside GitHub's window.
	streamWait := 5 * time.Second
	if ctx.Err() != nil {
		streamWait = time.Second
	}
	select {
	case <-done:
	case <-time.After(streamWait):
		e.log.Warn("event stream did not close", "stack", st.Name)
	}
	r := b.Result()
	r.Duration = time.Since(start)
	if err != nil {
		r.Status = result.Failed
		if r.MandatoryViolations() > 0 {
			r.Status = result.Blocked
		}
		cerr := classify(err)
		r.Locked = errors.Is(cerr, ErrConcurrentUpdate)
		if r.Status == result.Blocked && onlyPolicyFailed(r) {
			// The violations say it all; the engine's generic "preview
			// failed" would only repeat it, less clearly.
			r.Diagnostics = slices.DeleteFunc(r.Diagnostics, func(d result.Diagnostic) bool { return d.Severity == "error" })
			r.Error = fmt.Sprintf("%d mandatory policy violation(s) block this %s; nothing was changed", r.MandatoryViolations(), r.Operation)
		} else {
			r.Error = errorText(r, cerr, stderr.String())
		}
		if r.Locked {
			explainLock(ctx, env[EnvBackendURL], st.Project, st.Name, r)
		}
		if ctx.Err() != nil {
			r.Error = "cancelled: " + r.Error
		}
	}
	return r, nil
}

// stack returns the stack in a workspace on dir, creating it if needed; a
// stack this Engine already selected is not selected again.
func (e *Engine) stack(ctx context.Context, dir, name string, env map[string]string, opts ...auto.LocalWorkspaceOption) (auto.Stack, error) {
	opts = append(opts, auto.Pulumi(e.cmd), auto.WorkDir(dir), auto.EnvVars(env))
	ws, err := auto.NewLocalWorkspace(ctx, opts...)
	if err != nil {
		return auto.Stack{}, err
	}
	key := env[EnvBackendURL] + "\x00" + dir + "\x00" + name
	if _, ok := e.selected.Load(key); ok {
		return auto.SelectStack(ctx, name, selectedWorkspace{ws})
	}
	s, err := auto.UpsertStack(ctx, name, ws)
	if err == nil {
		e.selected.Store(key, true)
	}
	return s, err
}

// selectedWorkspace is a workspace whose stack is known to exist: every
// operation names its stack (--stack), so selecting it again would only
// start the CLI for nothing.
type selectedWorkspace struct{ auto.Workspace }

func (selectedWorkspace) SelectStack(context.Context, string) error { return nil }

// Config returns the stack's config with secrets decrypted by its secrets
// provider (selecting the stack, or creating it as an operation would). It
// leaves the stack file as it was: creating a stack may write an
// encryption salt into it.
func (e *Engine) Config(ctx context.Context, dir, stack string) (auto.ConfigMap, error) {
	env, err := e.Env(dir)
	if err != nil {
		return nil, err
	}
	file := config.StackFile(dir, stack)
	if orig, err := os.ReadFile(file); err == nil {
		defer restore(file, orig)
	}
	s, err := e.stack(ctx, dir, stack, env)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", stack, classify(err))
	}
	return s.GetAllConfig(ctx)
}

// Remove deletes a stack and its state (used by tests and `destroy --remove`).
func (e *Engine) Remove(ctx context.Context, st *config.Stack) error {
	env, err := e.Env(st.Dir)
	if err != nil {
		return err
	}
	ws, err := auto.NewLocalWorkspace(ctx, auto.Pulumi(e.cmd), auto.WorkDir(st.Dir), auto.EnvVars(env))
	if err != nil {
		return err
	}
	e.selected.Delete(env[EnvBackendURL] + "\x00" + st.Dir + "\x00" + st.Name)
	return ws.RemoveStack(ctx, st.Name)
}

func restore(file string, orig []byte) {
	if now, err := os.ReadFile(file); err == nil && !bytes.Equal(now, orig) {
		_ = os.WriteFile(file, orig, 0o644)
	}
}
