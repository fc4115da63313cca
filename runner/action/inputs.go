package action

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/lock"
	"github.com/containercraft/konductor-action/runner/plan"
)

// ErrBadInput is wrapped by errors in the action's inputs and context; the
// CLI exits 2 for them (and for config.Errors).
var ErrBadInput = plan.ErrBadInput

// badInput is an input error: it wraps ErrBadInput (exit 2) and, with %w
// in format, the cause, so callers can still tell what went wrong.
func badInput(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadInput}, args...)...)
}

// Input names, as in action.yml. A docker action receives them as
// INPUT_<NAME> with the name upper-cased and its hyphens kept
// (INPUT_GITHUB-TOKEN); githubactions.GetInput reads exactly that.
const (
	InputGitHubToken       = "github-token"
	InputCommand           = "command"
	InputStacks            = "stacks"
	InputWorkDir           = "work-dir"
	InputCommentOnPR       = "comment-on-pr"
	InputPolicyPacks       = "policy-packs"
	InputConfigFile        = "config-file"
	InputAllowForkPreviews = "allow-fork-previews"
	InputFailOnPolicy      = "fail-on-policy"
	InputParallel          = "parallel"
	InputStaleLockAge      = "stale-lock-age"
)

// CommandPlan is the command input that only plans: the plan and matrix
// outputs for a job matrix of one stack per job; nothing runs.
const CommandPlan = "plan"

// CommandCancel is the command input that clears the stacks input's
// stacks an interrupted update left locked (konductor cancel); nothing
// else runs.
const CommandCancel = "cancel"

// Inputs are the action's inputs, parsed.
type Inputs struct {
	Token   string
	Command string
	// Stacks is the stacks input: names separated by commas, spaces or
	// newlines.
	Stacks            []string
	WorkDir           string
	CommentOnPR       bool
	PolicyPacks       []string
	ConfigFile        string
	AllowForkPreviews bool
	FailOnPolicy      bool
	// Parallel bounds how many stacks run at once (default: the CPU count).
	Parallel int
	// StaleLockAge is the age from which a stack's lock is stale: command
	// cancel removes it, and no other command waits for it.
	StaleLockAge time.Duration
}

// ReadInputs reads and checks the inputs; the error wraps ErrBadInput.
func ReadInputs(a *githubactions.Action) (*Inputs, error) {
	var errs []error
	boolean := func(name string, def bool) bool {
		v := a.GetInput(name)
		if v == "" {
			return def
		}
		// GitHub's toolkit (getBooleanInput) accepts the YAML 1.2 core
		// schema booleans only.
		switch v {
		case "true", "True", "TRUE":
			return true
		case "false", "False", "FALSE":
			return false
		}
		errs = append(errs, fmt.Errorf("input %s: %q is not a boolean (true or false)", name, v))
		return def
	}
	in := &Inputs{
		Token:             a.GetInput(InputGitHubToken),
		Command:           strings.ToLower(a.GetInput(InputCommand)),
		Stacks:            list(a.GetInput(InputStacks)),
		WorkDir:           a.GetInput(InputWorkDir),
		CommentOnPR:       boolean(InputCommentOnPR, true),
		PolicyPacks:       list(a.GetInput(InputPolicyPacks)),
		ConfigFile:        a.GetInput(InputConfigFile),
		AllowForkPreviews: boolean(InputAllowForkPreviews, false),
		FailOnPolicy:      boolean(InputFailOnPolicy, true),
		Parallel:          runtime.NumCPU(),
		StaleLockAge:      lock.DefaultStaleAfter,
	}
	if v := strings.TrimSpace(a.GetInput(InputStaleLockAge)); v != "" {
		d, err := lock.ParseAge(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("input %s: %w", InputStaleLockAge, err))
		} else {
			in.StaleLockAge = d
		}
	}
	if v := strings.TrimSpace(a.GetInput(InputParallel)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("input parallel: %q is not a positive whole number", v))
		} else {
			in.Parallel = n
		}
	}
	if in.Token == "" {
		// The conventional fallback when the input is not wired.
		in.Token = a.Getenv("GITHUB_TOKEN")
	}
	if in.Command == "" {
		in.Command = plan.CommandAuto
	}
	commands := append(slices.Clone(plan.Commands), CommandPlan, CommandCancel)
	if !slices.Contains(commands, in.Command) {
		errs = append(errs, fmt.Errorf("input command: %q is not one of %s", in.Command, strings.Join(commands, ", ")))
	}
	if in.WorkDir == "" {
		in.WorkDir = "."
	}
	for _, s := range in.Stacks {
		if !config.ValidStackName(s) {
			errs = append(errs, fmt.Errorf("input stacks: %q is not a stack name", s))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	return in, nil
}

// list splits a list input on commas, spaces and newlines.
func list(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// settingsFile resolves the config-file input, a path relative to the
// repository root (or absolute), to an absolute path that must exist; ""
// when the input is empty (the work dir's konductor.yaml).
func settingsFile(workspace, input string) (string, error) {
	if input == "" {
		return "", nil
	}
	p := input
	if !filepath.IsAbs(p) {
		p = filepath.Join(workspace, p)
	}
	st, err := os.Stat(p)
	switch {
	case err != nil:
		return "", badInput("input config-file %q: %w (the path is relative to the repository root)", input, errors.Unwrap(err))
	case st.IsDir():
		return "", badInput("input config-file %q is a directory; name the %s file itself", input, config.SettingsFile)
	}
	return filepath.Clean(p), nil
}
