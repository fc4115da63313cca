// Package action is konductor as a GitHub Action: it reads the inputs and the
// event, plans, masks every secret value before writing anything, runs each
// planned stack on the engine, and reports: one sticky pull request comment
// with a section per stack, the full diff in the job summary, step outputs
// and policy annotations.
//
// Every external system is injected (the Actions environment and output
// stream, GitHub, the runner, the clock), so the whole flow runs in tests
// against a fake GitHub and a fake or real runner.
package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/backend"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/runner/mask"
	"github.com/containercraft/konductor-action/runner/plan"
	"github.com/containercraft/konductor-action/runner/result"
)

// ErrFailed is wrapped when a stack failed or a mandatory policy violation
// fails the run (fail-on-policy); everything was already reported.
var ErrFailed = errors.New("action failed")

// Runner is what the action needs of runner.Runner.
type Runner interface {
	// Load validates a stack's configuration (config.Errors when wrong),
	// with the settings of settingsFile (dir/konductor.yaml when empty).
	Load(dir, stack, settingsFile string) (*config.Stack, error)
	Run(ctx context.Context, req runner.Request) (*result.Result, error)
	// Secrets returns the decrypted values of the stack's secret config.
	Secrets(ctx context.Context, dir, stack string) ([]string, error)
}

var _ Runner = (*runner.Runner)(nil)

// Lock waits.
const (
	DefaultLockTimeout = 10 * time.Minute
	firstLockDelay     = 5 * time.Second
	maxLockDelay       = time.Minute
)

// reportGrace is how long a cancelled run may still spend reporting what
// it cancelled. GitHub cancels a step with SIGINT, sends SIGTERM 7.5 s
// later and kills the process tree 2.5 s after that: both signals cancel
// the run (the first one counts), and reporting must be over well before
// the kill, 10 s after the first signal.
const reportGrace = 7 * time.Second

// NoStacksSection is the comment section that says a pull request affects
// no stack. It sorts before stack names.
const NoStacksSection = "0-no-stacks-affected"

// GitHub is what the action calls on GitHub; *github.Client has it, a
// test may pass anything else.
type GitHub interface {
	ChangedFiles(ctx context.Context, owner, repo string, pr int) ([]string, error)
	UpsertSections(ctx context.Context, owner, repo string, pr int, sections []github.Section, settle bool) (*github.Comment, error)
	ReportDrift(ctx context.Context, owner, repo string, d github.Drift) (*github.DriftIssue, error)
	ResolveDrift(ctx context.Context, owner, repo, stack, runURL string) (*github.DriftIssue, error)
	// Overrides and InTeam read reviewers' policy overrides.
	Overrides(ctx context.Context, owner, repo string, pr int) ([]github.Override, []github.Rejected, error)
	InTeam(ctx context.Context, org, team, login string) (bool, error)
	// MergedPullRequest and Sections find what a push deploy was reviewed as.
	MergedPullRequest(ctx context.Context, owner, repo, sha string) (*github.PullRequest, error)
	Sections(ctx context.Context, owner, repo string, pr int) ([]github.Section, error)
}

var _ GitHub = (*github.Client)(nil)

// Deps are the action's dependencies.
type Deps struct {
	// Action reads the inputs and the environment, and writes the
	// ::add-mask:: commands; it must write to Stdout.
	Action *githubactions.Action
	// Stdout is the step's log. Everything but the masks goes to it through
	// the masking writer.
	Stdout io.Writer
	// NewGitHub builds the GitHub client; called only when needed.
	NewGitHub func(token, apiURL string) (GitHub, error)
	// NewRunner builds the runner; progress is the engine's progress
	// stream (masked). Called only when a stack runs or has secrets.
	NewRunner func(progress io.Writer) (Runner, error)
	// Clock times the waits for a locked stack (github.RealClock if nil).
	Clock github.Clock
	// LockTimeout bounds the wait for a locked stack (DefaultLockTimeout).
	LockTimeout time.Duration
	// AfterMasks, if set, is called once the ::add-mask:: commands are
	// written (the CLI releases its held log then).
	AfterMasks func()
	// Version is logged first (after the masks), so a user reading the
	// step's log sees which konductor ran.
	Version string
	// Mask is the run's masker (a new one if nil). The caller passes one
	// when it writes elsewhere too, such as its slog handler on stderr,
	// so every value the run learns is secret is masked there as well.
	Mask *mask.Masker
}

// workflow is what a run starts from, and all `konductor plan` needs: the
// workflow's event and environment, the inputs, and the plan they make.
type workflow struct {
	action    *githubactions.Action
	newGitHub func(token, apiURL string) (GitHub, error)
	ctx       context.Context
	in        *Inputs
	plan      *plan.Plan
	event     *plan.Event
	owner     string
	repo      string
	dir       string // absolute work dir
	// settings is the config-file input made absolute; empty: the work
	// dir's konductor.yaml. cfg is what it holds.
	settings string
	cfg      *config.Settings
	stacks   []string
	gh       GitHub
	runURL   string
}

func newWorkflow(ctx context.Context, d Deps) workflow {
	return workflow{action: d.Action, newGitHub: d.NewGitHub, ctx: ctx}
}

// run is one invocation's state: the workflow, and what running and
// reporting it needs.
type run struct {
	Deps
	workflow
	pubCtx  context.Context // for reporting: outlives ctx by reportGrace
	out     *mask.Writer
	log     *githubactions.Action // writes through the mask
	mask    *mask.Masker
	runner  Runner
	backend backend.Backend
	// sections are this run's sections of pull request commentPR's
	// comment, each written as its stack finishes and settled once at the
	// end.
	sections  []github.Section
	commentPR int
	merged    merged
	reviews   reviews
}

// Run runs the action. Its error wraps ErrBadInput or is config.Errors for
// bad input (exit 2), wraps ErrFailed when a stack failed or policy failed
// the run (exit 1); its text is masked.
func Run(ctx context.Context, d Deps) (err error) {
	if d.Clock == nil {
		d.Clock = github.RealClock
	}
	if d.LockTimeout <= 0 {
		d.LockTimeout = DefaultLockTimeout
	}
	// Reporting outlives a cancelled run briefly, so the comment says the
	// stacks were cancelled rather than keeping a stale preview.
	pub, cancelPub := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPub()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(reportGrace, cancelPub) })
	defer stop()
	if d.Mask == nil {
		d.Mask = mask.New()
	}
	r := &run{Deps: d, workflow: newWorkflow(ctx, d), pubCtx: pub, mask: d.Mask}
	r.out = r.mask.Writer(d.Stdout)
	r.log = githubactions.New(githubactions.WithWriter(r.out), githubactions.WithGetenv(d.Action.Getenv))
	stopNotice := context.AfterFunc(ctx, func() {
		r.log.Warningf("konductor: cancelled (%v): interrupting the running stacks; their sections will say so", context.Cause(ctx))
	})
	defer stopNotice()
	defer func() {
		_ = r.out.Flush()
		if err != nil {
			err = &maskedError{msg: r.mask.String(err.Error()), err: err}
		}
	}()
	err = r.main()
	if serr := r.settleComment(); serr != nil {
		r.log.Errorf("%v", serr)
		if err == nil {
			err = fmt.Errorf("%w: %w", ErrFailed, serr)
		}
	}
	return err
}

type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }

func (e *maskedError) Unwrap() error { return e.err }

// Plan reads the inputs and the event exactly as Run does and returns the
// plan; it runs and writes nothing (`konductor plan`). Deps.Stdout and
// NewRunner are not used.
func Plan(ctx context.Context, d Deps) (*plan.Plan, error) {
	w := newWorkflow(ctx, d)
	if err := w.readPlan(); err != nil {
		return nil, err
	}
	return w.plan, nil
}

func (r *run) main() error {
	if err := r.readPlan(); err != nil {
		return err
	}
	if r.in.Command == CommandPlan {
		return r.planOnly()
	}
	if r.in.Command == CommandCancel {
		return r.cancel()
	}

	// The backend before anything runs: a deploy must never record what it
	// created in state that vanishes with the runner.
	if !r.plan.NothingToDo {
		b, err := backend.Resolve(r.dir, r.getenv)
		if err != nil {
			return badInput("resolving the state backend: %w", err)
		}
		r.mask.Add(backend.Secrets(b.URL)...)
		r.backend = b
		if err := b.CheckWorkflow(string(r.plan.Operation), r.plan.Drift); err != nil {
			for _, v := range r.mask.Values() {
				r.Action.AddMask(v)
			}
			r.log.Errorf("%v", err)
			return badInput("%w", err)
		}
	}

	// Secrets first: nothing else is written before the masks.
	notRun, invalid := r.prepare()
	r.writeMasks()
	if !r.plan.NothingToDo {
		r.log.Infof("konductor: state backend %s", r.backend)
	}

	p := r.plan
	r.log.Infof("konductor: %s", p.Reason)
	if p.NothingToDo {
		return r.nothingToDo()
	}
	for _, s := range p.Stacks {
		r.log.Infof("  %s: %s", s.Name, s.Reason)
	}
	if len(invalid) == len(p.Stacks) {
		return r.refuse(invalid)
	}

	if r.pushDeploy() {
		// Looked up once, before stacks run side by side: the merged pull
		// request (its reviews and comment) and the GitHub client.
		_, _, _ = r.mergedPR()
	}
	results, publishErrs := r.runAll(notRun, invalid)
	if p.Drift {
		publishErrs = append(publishErrs, r.driftIssues(results)...)
	}
	if err := r.outputs(results); err != nil {
		publishErrs = append(publishErrs, err)
	}
	err := r.verdict(results, publishErrs)
	if len(invalid) > 0 {
		// Bad configuration is the user's to fix (exit 2) even though the
		// valid stacks ran; their outcome is in the same message.
		bad := slices.Sorted(maps.Keys(invalid))
		msg := fmt.Sprintf("invalid configuration in %s (see its section); the other stacks ran", strings.Join(bad, ", "))
		if err != nil {
			msg += "; " + err.Error()
		}
		r.log.Errorf("%s", msg)
		return badInput("%s", msg)
	}
	return err
}

// verdict decides the run's outcome.
func (r *run) verdict(results []*result.Result, errs []error) error {
	var failed, blocked []string
	for _, res := range results {
		switch {
		case res.Status == result.Invalid:
			// Reported as bad configuration by the caller.
		case res.Status != result.Succeeded:
			failed = append(failed, res.Stack)
		case r.in.FailOnPolicy && res.MandatoryViolations() > 0:
			blocked = append(blocked, res.Stack)
		}
	}
	var why []string
	if len(failed) > 0 {
		why = append(why, "stacks failed: "+strings.Join(failed, ", "))
	}
	if len(blocked) > 0 {
		why = append(why, "mandatory policy violations (fail-on-policy): "+strings.Join(blocked, ", "))
	}
	if err := errors.Join(errs...); err != nil {
		r.log.Errorf("%v", err)
		why = append(why, err.Error())
	}
	if len(why) > 0 {
		return fmt.Errorf("%w: %s", ErrFailed, strings.Join(why, "; "))
	}
	return nil
}
