// Package runner drives one konductor run: it loads and validates a stack's
// configuration, composes the enabled modules into a program, runs it on
// the engine and returns the result. The steps live in its subpackages, one
// per step of the flow; this package only wires them.
package runner

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/program"
	"github.com/containercraft/konductor-action/runner/result"
)

// Runner runs operations on stacks.
type Runner struct {
	Registry *modules.Registry
	Engine   *engine.Engine
	Log      *slog.Logger
	// Getenv reads the environment (git facts in CI); nil uses os.Getenv.
	Getenv func(string) string
}

func (r *Runner) getenv() func(string) string {
	if r.Getenv != nil {
		return r.Getenv
	}
	return os.Getenv
}

// Request names what to run.
type Request struct {
	Operation result.Operation
	Dir       string
	Stack     string
	Commit    string
}

// Load validates a stack's configuration without running anything.
func (r *Runner) Load(dir, stack string) (*config.Stack, error) {
	return config.Load(dir, stack, r.Registry)
}

// Run validates the stack and runs the operation. A configuration error is
// returned as config.Errors and nothing runs.
func (r *Runner) Run(ctx context.Context, req Request) (*result.Result, error) {
	st, err := r.Load(req.Dir, req.Stack)
	if err != nil {
		return nil, err
	}
	if r.Engine == nil {
		return nil, errors.New("runner: no engine")
	}
	facts := metadata.Facts{
		Project:    st.Project,
		Stack:      st.Name,
		Git:        metadata.GitFromEnv(r.getenv(), st.Dir),
		Compliance: st.Compliance,
		Labels:     st.Labels,
	}
	prog := program.Build(st, program.Options{
		ComponentOptions: func(module string) []pulumi.ResourceOption { return metadata.Options(facts, module) },
	})
	res, err := r.Engine.Run(ctx, engine.Request{Operation: req.Operation, Stack: st, Program: prog})
	if err != nil {
		return nil, err
	}
	res.Commit = req.Commit
	return res, nil
}
