// Package plan decides, from a GitHub event, which stacks to run and which
// operation: preview the stacks a pull request affects, deploy the stacks
// mapped to a pushed branch, run what a manual dispatch asks for, check for
// drift on a schedule, and do nothing — saying why — for anything else.
//
// It is pure: the caller reads the event payload, lists the stacks present
// in the work dir and fetches the pull request's changed files; Make only
// decides.
package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/result"
)

// ErrBadInput is wrapped by every error that is the user's input at fault:
// an unknown command or stack, a malformed payload, an invalid path glob.
var ErrBadInput = errors.New("bad input")

func badInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, args...))
}

// Events konductor acts on.
const (
	EventPullRequest       = "pull_request"
	EventPullRequestReview = "pull_request_review"
	EventPush              = "push"
	EventWorkflowDispatch  = "workflow_dispatch"
	EventSchedule          = "schedule"
)

// CommandAuto lets the event decide the operation.
const CommandAuto = "auto"

// Commands lists the values of the command input.
var Commands = []string{CommandAuto, string(result.Preview), string(result.Up), string(result.Refresh), string(result.Destroy)}

// Input is everything Make decides from.
type Input struct {
	Event *Event
	// Settings is konductor.yaml (empty settings when absent).
	Settings *config.Settings
	// Stacks are the stacks present: the Pulumi.<stack>.yaml files in the
	// work dir.
	Stacks []string
	// WorkDir is the work dir relative to the repository root, slash
	// separated; "" or "." is the root.
	WorkDir string
	// ChangedFiles are the pull request's changed paths, relative to the
	// repository root.
	ChangedFiles []string
	// AllChanged is true when ChangedFiles is incomplete (GitHub lists at
	// most 3000 files): every stack counts as affected.
	AllChanged bool
	// Command is the command input: auto (or empty) or an operation.
	Command string
	// Only is the stacks input: on workflow_dispatch the stacks to run
	// (every stack when empty), on other events a filter.
	Only []string
	// AllowForkPreviews lets a pull request from a fork be previewed.
	AllowForkPreviews bool
	// SettingsFile is the konductor.yaml in use, relative to the
	// repository root; empty: the one in WorkDir. A change to it affects
	// every stack.
	SettingsFile string
}

// StackPlan is one stack to run and why.
type StackPlan struct {
	Name   string `json:"stack"`
	Reason string `json:"reason"`
	// AffectedPaths are the changed files that affect the stack, relative
	// to the repository root (pull requests only).
	AffectedPaths []string `json:"affectedPaths,omitempty"`
}

// Plan is what to run. Its JSON form is what `konductor plan` prints.
type Plan struct {
	Operation result.Operation `json:"operation,omitempty"`
	// Refresh refreshes state from the cloud first.
	Refresh bool `json:"refresh"`
	// Drift is a scheduled drift check: a preview with refresh whose
	// changes are drift, and nothing is changed.
	Drift  bool        `json:"drift"`
	Stacks []StackPlan `json:"stacks"`
	// Reason says why this plan, in a sentence for the log and summary.
	Reason      string `json:"reason"`
	NothingToDo bool   `json:"nothingToDo"`
	Fork        bool   `json:"fork"`
	PR          int    `json:"pullRequest,omitempty"`
	HeadSHA     string `json:"headSha,omitempty"`
}

// MarshalJSON writes an empty stacks list as [], not null.
func (p Plan) MarshalJSON() ([]byte, error) {
	type plain Plan
	if p.Stacks == nil {
		p.Stacks = []StackPlan{}
	}
	return json.Marshal(plain(p))
}

// Matrix is a plan shaped for a GitHub Actions job matrix
// (strategy.matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}): one job
// per stack, each running the action with stacks: ${{ matrix.stack }}.
type Matrix struct {
	Include []MatrixEntry `json:"include"`
}

// MatrixEntry is one job of the matrix.
type MatrixEntry struct {
	Stack     string           `json:"stack"`
	Operation result.Operation `json:"operation"`
	Reason    string           `json:"reason"`
}

// Matrix returns the plan's matrix: empty (include: []) when there is
// nothing to do.
func (p *Plan) Matrix() Matrix {
	m := Matrix{Include: []MatrixEntry{}}
	if p.NothingToDo {
		return m
	}
	for _, s := range p.Stacks {
		m.Include = append(m.Include, MatrixEntry{Stack: s.Name, Operation: p.Operation, Reason: s.Reason})
	}
	return m
}

// StackNames returns the planned stacks' names.
func (p *Plan) StackNames() []string {
	names := make([]string, len(p.Stacks))
	for i, s := range p.Stacks {
		names[i] = s.Name
	}
	return names
}

func nothing(ev *Event, format string, args ...any) *Plan {
	return &Plan{NothingToDo: true, Reason: fmt.Sprintf(format, args...), Fork: ev.Fork, PR: ev.PR, HeadSHA: ev.HeadSHA}
}

// Make decides the plan. The error wraps ErrBadInput.
func Make(in Input) (*Plan, error) {
	ev := in.Event
	if ev == nil {
		return nil, errors.New("plan: no event")
	}
	command := strings.ToLower(strings.TrimSpace(in.Command))
	if command == "" {
		command = CommandAuto
	}
	if !slices.Contains(Commands, command) {
		return nil, badInput("command %q is not one of %s", in.Command, strings.Join(Commands, ", "))
	}
	settings := in.Settings
	if settings == nil {
		settings = &config.Settings{}
	}
	present := slices.Clone(in.Stacks)
	sort.Strings(present)
	for _, s := range in.Only {
		if !slices.Contains(present, s) && settings.Stacks[s].Branch == "" {
			return nil, badInput("stacks: no stack %q here (stacks: %s)", s, listOrNone(present))
		}
	}

	if (ev.Name == EventPullRequest || ev.Name == EventPullRequestReview) && ev.Fork && ev.NeedsChangedFiles() {
		if command != CommandAuto && command != string(result.Preview) {
			return nothing(ev, "pull request #%d comes from a fork (%s): it is never deployed (command %s)", ev.PR, orDeleted(ev.HeadRepo), command), nil
		}
		if !in.AllowForkPreviews {
			return nothing(ev, "pull request #%d comes from a fork (%s); fork previews are off (set allow-fork-previews: true to preview them)", ev.PR, orDeleted(ev.HeadRepo)), nil
		}
	}

	var p *Plan
	var err error
	switch ev.Name {
	case EventPullRequest, EventPullRequestReview:
		p, err = pullRequest(in, settings, present)
	case EventPush:
		p = push(in, settings)
	case EventWorkflowDispatch:
		p = &Plan{Operation: result.Preview, Reason: "manual run (workflow_dispatch)"}
		names := in.Only
		if len(names) == 0 {
			names = present
		}
		for _, n := range names {
			p.Stacks = append(p.Stacks, StackPlan{Name: n, Reason: "requested"})
		}
	case EventSchedule:
		p = &Plan{Operation: result.Preview, Refresh: true, Drift: true, Reason: "scheduled drift check (preview with refresh; nothing is changed)"}
		for _, n := range present {
			p.Stacks = append(p.Stacks, StackPlan{Name: n, Reason: "scheduled"})
		}
	default:
		return nothing(ev, "the %q event is not one konductor acts on (pull_request, pull_request_review, push, workflow_dispatch, schedule)", ev.Name), nil
	}
	if err != nil {
		return nil, err
	}
	p.Fork, p.PR, p.HeadSHA = ev.Fork, ev.PR, ev.HeadSHA
	if p.NothingToDo {
		return p, nil
	}
	if len(in.Only) > 0 && ev.Name != EventWorkflowDispatch {
		p.Stacks = slices.DeleteFunc(p.Stacks, func(s StackPlan) bool { return !slices.Contains(in.Only, s.Name) })
		if len(p.Stacks) == 0 {
			return nothing(ev, "%s, but none of the stacks input (%s)", p.Reason, strings.Join(in.Only, ", ")), nil
		}
	}
	if command != CommandAuto {
		p.Operation = result.Operation(command)
		p.Refresh, p.Drift = false, false
		p.Reason += "; command input: " + command
	}
	if len(p.Stacks) == 0 {
		return nothing(ev, "%s: no stacks to run", p.Reason), nil
	}
	return p, nil
}

func orDeleted(repo string) string {
	if repo == "" {
		return "a deleted repository"
	}
	return repo
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func pullRequest(in Input, settings *config.Settings, present []string) (*Plan, error) {
	ev := in.Event
	if !ev.NeedsChangedFiles() {
		actions := previewActions
		if ev.Name == EventPullRequestReview {
			actions = reviewActions
		}
		return nothing(ev, "%s %q: only %s preview", ev.Name, ev.Action, strings.Join(actions, ", ")), nil
	}
	p := &Plan{Operation: result.Preview, Reason: fmt.Sprintf("pull request #%d %s", ev.PR, ev.Action)}
	if ev.Name == EventPullRequestReview {
		p.Reason = fmt.Sprintf("a review of pull request #%d %s (overrides are read again)", ev.PR, ev.Action)
	}
	if in.AllChanged {
		for _, n := range present {
			p.Stacks = append(p.Stacks, StackPlan{Name: n, Reason: "the pull request changes more files than GitHub lists"})
		}
		return p, nil
	}
	for _, n := range present {
		sp, err := affects(n, settings.Stacks[n].Paths, in.WorkDir, in.SettingsFile, in.ChangedFiles)
		if err != nil {
			return nil, err
		}
		if sp != nil {
			p.Stacks = append(p.Stacks, *sp)
		}
	}
	if len(p.Stacks) == 0 {
		p.NothingToDo = true
		p.Reason += ": no stacks affected"
		// Say so when a stack file changed yet nothing runs: its stack is
		// gone (a stack here is always affected by its own file).
		var gone []string
		wd := cleanWorkDir(in.WorkDir)
		for _, f := range in.ChangedFiles {
			if rel, inside := relTo(wd, f); inside && isStackFile(rel) {
				gone = append(gone, f)
			}
		}
		if len(gone) > 0 {
			p.Reason += fmt.Sprintf(" (%s: no such stack in the work dir)", strings.Join(gone, ", "))
		}
	}
	return p, nil
}

func push(in Input, settings *config.Settings) *Plan {
	ev := in.Event
	if ev.Deleted {
		return nothing(ev, "push deleted %s: nothing to deploy", ev.Ref)
	}
	branch, ok := strings.CutPrefix(ev.Ref, "refs/heads/")
	if !ok {
		return nothing(ev, "push to %s is not a branch: nothing to deploy", ev.Ref)
	}
	p := &Plan{Operation: result.Up, Reason: "push to " + branch}
	names := make([]string, 0, len(settings.Stacks))
	for n, s := range settings.Stacks {
		if s.Branch == branch {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		p.Stacks = append(p.Stacks, StackPlan{Name: n, Reason: "deploys from " + branch})
	}
	if len(p.Stacks) == 0 {
		return nothing(ev, "push to %s: no stack deploys from it (map one in %s: stacks.<name>.branch: %s)", branch, config.SettingsFile, branch)
	}
	return p
}
