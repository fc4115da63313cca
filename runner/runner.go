// Package runner drives one konductor run: it loads and validates a stack's
// configuration, composes the enabled modules into a program, runs it on
// the engine and returns the result. The steps live in its subpackages, one
// per step of the flow; this package only wires them.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/policy"
	"github.com/containercraft/konductor-action/runner/program"
	"github.com/containercraft/konductor-action/runner/result"
)

// Engine is what a Runner calls on the engine; *engine.Engine has it.
type Engine interface {
	Run(ctx context.Context, req engine.Request) (*result.Result, error)
	// Config returns the stack's config, secrets decrypted.
	Config(ctx context.Context, dir, stack string) (auto.ConfigMap, error)
}

var _ Engine = (*engine.Engine)(nil)

// Runner runs operations on stacks.
type Runner struct {
	Registry *modules.Registry
	Engine   Engine
	// Policy locates the policy packs every preview and deploy runs.
	Policy policy.Options
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
	// Refresh refreshes state from the real resources first (a drift
	// check is a preview with Refresh).
	Refresh bool
	// PolicyPacks are policy packs for the engine (absolute paths).
	PolicyPacks []string
	// SettingsFile is the konductor.yaml to use; empty: the one in Dir.
	SettingsFile string
	// Progress receives the engine's progress text for this run (nil: the
	// engine's own Progress).
	Progress io.Writer
	// ClearPendingCreates: a refresh drops the pending creates an
	// interrupted update left (konductor cancel).
	ClearPendingCreates bool
	// Review, for a deploy, is the reviewed preview it must match; nil
	// when the deploy is not checked against a review (the CLI).
	Review *ReviewCheck
	// Mask hides what the caller masks in results before their review is
	// computed, so reviews carry nothing the report would not show.
	Mask func(*result.Result) *result.Result
	// Overrides are reviewers' overrides for this run, by "<pack>/<rule>":
	// those rules run as advisory, and their violations are reported as
	// mandatory and overridden.
	Overrides map[string]result.Override
}

// MarkOverridden marks the violations of overridden rules: mandatory,
// overridden by whom and why. Violations of those rules that a run made
// advisory only because of the override are mandatory again.
func MarkOverridden(res *result.Result, overrides map[string]result.Override) {
	if res == nil {
		return
	}
	for i, v := range res.Violations {
		if o, ok := overrides[v.Pack+"/"+v.Rule]; ok && v.Level != "disabled" {
			res.Violations[i].Level = "mandatory"
			res.Violations[i].Overridden = &o
		}
	}
}

// ReviewCheck is what a deploy's gating preview is compared with.
type ReviewCheck struct {
	// Reviewed is the last preview of the stack on the pull request the
	// deployed commit came from; nil when none was found.
	Reviewed *result.Review
	// Source names it, or says why there is none.
	Source string
	// Fail stops an unreviewed deploy (on_unreviewed: fail) with nothing
	// changed; otherwise it deploys and says what was not reviewed.
	Fail bool
}

// Load validates a stack's configuration without running anything;
// settingsFile as in Request.
func (r *Runner) Load(dir, stack, settingsFile string) (*config.Stack, error) {
	return config.LoadWithSettings(dir, stack, r.Registry, settingsFile)
}

// Run validates the stack and runs the operation. A configuration error is
// returned as config.Errors and nothing runs.
func (r *Runner) Run(ctx context.Context, req Request) (*result.Result, error) {
	st, err := r.Load(req.Dir, req.Stack, req.SettingsFile)
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
	tmp, err := os.MkdirTemp("", "konductor-policy-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	popts := r.Policy
	popts.Advisory = slices.Sorted(maps.Keys(req.Overrides))
	packs, err := policy.Prepare(ctx, st, popts, tmp)
	if err != nil {
		return nil, err
	}
	configs := packs.Configs
	if len(configs) > 0 {
		// The CLI takes no pack config or one per pack: the packs passed
		// in the request run with their defaults.
		for i := range req.PolicyPacks {
			cfg := filepath.Join(tmp, fmt.Sprintf("policy-config-request-%d.json", i))
			if err := os.WriteFile(cfg, []byte("{}"), 0o600); err != nil {
				return nil, err
			}
			configs = append(configs, cfg)
		}
	}
	ereq := engine.Request{Operation: req.Operation, Stack: st, Program: prog, Refresh: req.Refresh,
		PolicyPacks: append(packs.Packs, req.PolicyPacks...), PolicyConfigs: configs, Progress: req.Progress,
		ClearPendingCreates: req.ClearPendingCreates}
	if req.Operation == result.Up && (len(ereq.PolicyPacks) > 0 || req.Review != nil) {
		// A mandatory violation must block a deploy before any resource is
		// touched: during `up` the engine would apply the steps it reaches
		// before the violating resource. Preview with the policies first;
		// its plan is what the deploy may do once it matches the review.
		pre := ereq
		pre.Operation = result.Preview
		if req.Review != nil {
			pre.SavePlan = filepath.Join(tmp, "plan.json")
		}
		res, err := r.Engine.Run(ctx, pre)
		if err != nil {
			return nil, err
		}
		MarkOverridden(res, req.Overrides)
		if res.MandatoryViolations() > 0 || res.Status != result.Succeeded {
			res.Operation, res.Commit = result.Up, req.Commit
			if res.MandatoryViolations() > 0 {
				res.Status = result.Blocked
				res.Error = fmt.Sprintf("deploy blocked before any change: %d mandatory policy violation(s)", res.MandatoryViolations())
			}
			return res, nil
		}
		if req.Review != nil {
			out := compareReview(req, mask(req, res))
			if !out.Matched() && req.Review.Fail {
				res.Operation, res.Commit, res.Status, res.Reviewed = result.Up, req.Commit, result.Unreviewed, out
				res.Error = "deploy stopped before any change: " + unreviewedWhy(out)
				return res, nil
			}
			ereq.Plan, out.Plan = planFor(pre.SavePlan, out)
			up, err := r.Engine.Run(ctx, ereq)
			if err != nil {
				return nil, err
			}
			MarkOverridden(up, req.Overrides)
			up.Commit, up.Reviewed, up.Review = req.Commit, out, res.Review
			return up, nil
		}
	}
	res, err := r.Engine.Run(ctx, ereq)
	if err != nil {
		return nil, err
	}
	MarkOverridden(res, req.Overrides)
	res.Commit = req.Commit
	if res.Operation == result.Preview && (res.Status == result.Succeeded || res.Status == result.Blocked) {
		// A preview stopped only by policy still shows every change: what
		// a reviewer overriding the policy approves.
		res.Review = result.ReviewOf(mask(req, res)).Encode()
	}
	return res, nil
}

func mask(req Request, res *result.Result) *result.Result {
	if req.Mask == nil {
		return res
	}
	return req.Mask(res)
}

// compareReview compares a deploy's gating preview with the review.
func compareReview(req Request, pre *result.Result) *result.ReviewOutcome {
	pre.Review = result.ReviewOf(pre).Encode()
	out := &result.ReviewOutcome{Source: req.Review.Source}
	if req.Review.Reviewed == nil {
		return out
	}
	out.Found = true
	out.Differences = result.Differences(*req.Review.Reviewed, pre)
	return out
}

// planFor says which plan the deploy keeps to: the gating preview's, when
// the deploy is what was reviewed and the engine saved one.
func planFor(path string, out *result.ReviewOutcome) (plan, why string) {
	switch {
	case !out.Matched():
		return "", "ran without a plan: it is not what was reviewed"
	default:
		if _, err := os.Stat(path); err != nil {
			return "", "ran without a plan: the engine saved none for this stack"
		}
		return path, "kept to the plan of the preview that matched the review"
	}
}

func unreviewedWhy(out *result.ReviewOutcome) string {
	if !out.Found {
		return "no reviewed preview (" + out.Source + ") and the stack requires one (on_unreviewed: fail)"
	}
	return fmt.Sprintf("%d change(s) differ from the review (%s) and the stack requires a reviewed deploy (on_unreviewed: fail)",
		len(out.Differences), out.Source)
}

// Secrets returns the secret values of the stack's config, so a caller can
// mask them wherever it writes: every leaf of a secret key that the stack
// file does not hold in plain text (config.SecretLeaves, the rule the
// program marks secrets by), so `secure:` values and what a Pulumi ESC
// `environment:` supplies alike. A stack file with neither needs no
// engine; otherwise the pinned CLI decrypts the config with the stack's
// secrets provider (selecting the stack, or creating it as the operation
// would).
func (r *Runner) Secrets(ctx context.Context, dir, stack string) ([]string, error) {
	project, err := config.ProjectName(dir)
	if err != nil {
		return nil, err
	}
	doc, err := os.ReadFile(config.StackFile(dir, stack))
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", stack, err)
	}
	paths, err := config.SecurePaths(doc, project)
	if err != nil {
		return nil, err
	}
	var file struct {
		Environment any `yaml:"environment"`
	}
	_ = yaml.Unmarshal(doc, &file) // SecurePaths accepted it: bounded and acyclic
	if len(paths) == 0 && file.Environment == nil {
		return nil, nil
	}
	if r.Engine == nil {
		return nil, errors.New("runner: no engine")
	}
	all, err := r.Engine.Config(ctx, dir, stack)
	if err != nil {
		return nil, fmt.Errorf("stack %s: decrypting its secret config: %w", stack, err)
	}
	var out []string
	for _, key := range slices.Sorted(maps.Keys(all)) {
		if cv := all[key]; cv.Secret {
			out = append(out, config.SecretLeaves(doc, project, key, cv.Value)...)
		}
	}
	return out, nil
}
