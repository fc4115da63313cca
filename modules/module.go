// Package modules defines what a platform module is and how a set of them is
// resolved: typed configuration with defaults, validation, dependencies and a
// Deploy function composed into one Pulumi program. Modules never import the
// runner; the runner imports them.
package modules

import (
	"fmt"
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Secret is what a secret value reads as wherever konductor cannot or must
// not show it: an encrypted config value during validation (the loader
// cannot decrypt it; a module does not check its format), a Pulumi secret
// in a diff, a masked value in a comment. The one definition of "[secret]".
const Secret = "[secret]"

// Outputs is what a deployed module hands to the modules that depend on it
// and, for exported keys, to the stack outputs. Values may be pulumi.Output.
type Outputs map[string]any

// Env is the deployment context every module receives.
type Env struct {
	Project string
	Stack   string
	// WorkDir is the repository directory holding Pulumi.yaml; relative
	// paths in config are relative to it. It is also the provider plugins'
	// cwd, so a resource input takes a relative path as configured: joined
	// with WorkDir it would differ between checkouts and change the plan.
	WorkDir string
	// Deps holds the outputs of the modules this one depends on, by name.
	Deps map[string]Outputs
	// Parent is the module's component resource. Every resource a module
	// registers must be its child (use Options), so that the global metadata
	// transform and the module's place in the stack apply to it.
	Parent pulumi.Resource
}

// Options returns the options every resource of the module takes, followed
// by extra. It always returns a fresh slice.
func (e Env) Options(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
	opts := make([]pulumi.ResourceOption, 0, len(extra)+1)
	if e.Parent != nil {
		opts = append(opts, pulumi.Parent(e.Parent))
	}
	return append(opts, extra...)
}

// Module is one switchable unit of platform infrastructure.
type Module interface {
	// Name is the key of the module's section in stack config
	// (<project>:<name>).
	Name() string
	// Description is one line for `konductor modules`.
	Description() string
	// DependsOn lists the modules that must be enabled and deployed first.
	DependsOn() []string
	// NewConfig returns a pointer to a new config struct holding the defaults.
	NewConfig() any
	// Validate checks a decoded config (as returned by NewConfig) beyond its
	// types: required fields, enums, ranges. Errors should be *FieldError.
	Validate(cfg any) error
	// Deploy registers the module's resources.
	Deploy(ctx *pulumi.Context, cfg any, env Env) (Outputs, error)
}

// Spec builds a Module from typed functions, so a module author works with
// its own config type and never with `any`.
type Spec[C any] struct {
	Name        string
	Description string
	DependsOn   []string
	// Defaults returns the config with every default set. Enabled is handled
	// by the loader and need not be a field of C.
	Defaults func() C
	Validate func(*C) error
	Deploy   func(ctx *pulumi.Context, cfg *C, env Env) (Outputs, error)
}

// Define turns a Spec into a Module.
func Define[C any](s Spec[C]) Module { return typed[C]{s} }

type typed[C any] struct{ s Spec[C] }

func (t typed[C]) Name() string        { return t.s.Name }
func (t typed[C]) Description() string { return t.s.Description }
func (t typed[C]) DependsOn() []string { return t.s.DependsOn }

func (t typed[C]) NewConfig() any {
	var c C
	if t.s.Defaults != nil {
		c = t.s.Defaults()
	}
	return &c
}

func (t typed[C]) Validate(cfg any) error {
	c, err := t.cast(cfg)
	if err != nil || t.s.Validate == nil {
		return err
	}
	return t.s.Validate(c)
}

func (t typed[C]) Deploy(ctx *pulumi.Context, cfg any, env Env) (Outputs, error) {
	c, err := t.cast(cfg)
	if err != nil {
		return nil, err
	}
	return t.s.Deploy(ctx, c, env)
}

func (t typed[C]) cast(cfg any) (*C, error) {
	c, ok := cfg.(*C)
	if !ok {
		return nil, fmt.Errorf("module %s: config is %T, want %s", t.s.Name, cfg, reflect.TypeFor[*C]())
	}
	return c, nil
}

// FieldError is a validation failure of one config field. Path is relative to
// the module's section, in dotted form ("namespaces[0].name").
type FieldError struct {
	Path   string
	Reason string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Reason }

// Errorf returns a *FieldError for path.
func Errorf(path, format string, args ...any) error {
	return &FieldError{Path: path, Reason: fmt.Sprintf(format, args...)}
}
