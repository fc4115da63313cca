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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/backend"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/runner/mask"
	"github.com/containercraft/konductor-action/runner/plan"
	"github.com/containercraft/konductor-action/runner/report"
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

// reportGrace is how long a cancelled run (SIGTERM) may still spend
// reporting what it cancelled.
const reportGrace = 10 * time.Second

// NoStacksSection is the comment section that says a pull request affects
// no stack. It sorts before stack names.
const NoStacksSection = "0-no-stacks-affected"

// Deps are the action's dependencies.
type Deps struct {
	// Action reads the inputs and the environment, and writes the
	// ::add-mask:: commands; it must write to Stdout.
	Action *githubactions.Action
	// Stdout is the step's log. Everything but the masks goes to it through
	// the masking writer.
	Stdout io.Writer
	// NewGitHub builds the GitHub client; called only when needed.
	NewGitHub func(token, apiURL string) (github.API, error)
	// NewRunner builds the runner; progress is the engine's progress
	// stream (masked). Called only when a stack runs or has secrets.
	NewRunner func(progress io.Writer) (Runner, error)
	// Clock times the waits for a locked stack (github.RealClock if nil).
	Clock github.Clock
	// LockTimeout bounds the wait for a locked stack (DefaultLockTimeout).
	LockTimeout time.Duration
	// Version is logged first (after the masks), so a user reading the
	// step's log sees which konductor ran.
	Version string
	// Mask is the run's masker (a new one if nil). The caller passes one
	// when it writes elsewhere too, such as its slog handler on stderr,
	// so every value the run learns is secret is masked there as well.
	Mask *mask.Masker
}

// run is one invocation's state.
type run struct {
	Deps
	ctx    context.Context
	pubCtx context.Context // for reporting: outlives ctx by reportGrace
	in     *Inputs
	out    *mask.Writer
	log    *githubactions.Action // writes through the mask
	mask   *mask.Masker
	plan   *plan.Plan
	event  *plan.Event
	owner  string
	repo   string
	dir    string // absolute work dir
	// settings is the config-file input made absolute; empty: the work
	// dir's konductor.yaml.
	settings string
	stacks   []string
	gh       github.API
	runner   Runner
	runURL   string
	backend  backend.Backend
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
	r := &run{Deps: d, ctx: ctx, pubCtx: pub, mask: d.Mask}
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
	return r.main()
}

type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }

func (r *run) getenv(k string) string { return r.Action.Getenv(k) }

// readPlan reads the inputs, the workflow's context and konductor.yaml, and
// makes the plan; it writes nothing.
func (r *run) readPlan() error {
	in, err := ReadInputs(r.Action)
	if err != nil {
		return err
	}
	r.in = in
	if err := r.context(); err != nil {
		return err
	}
	settings, err := config.LoadSettingsFile(r.dir, r.settings)
	if err != nil {
		return err
	}
	return r.makePlan(settings)
}

// Plan reads the inputs and the event exactly as Run does and returns the
// plan; it runs and writes nothing (`konductor plan`). Deps.Stdout and
// NewRunner are not used.
func Plan(ctx context.Context, d Deps) (*plan.Plan, error) {
	r := &run{Deps: d, ctx: ctx, pubCtx: ctx, mask: mask.New()}
	if err := r.readPlan(); err != nil {
		return nil, err
	}
	return r.plan, nil
}

func (r *run) main() error {
	if err := r.readPlan(); err != nil {
		return err
	}
	if r.in.Command == CommandPlan {
		return r.planOnly()
	}

	// The backend before anything runs: a deploy must never record what it
	// created in state that vanishes with the runner.
	if !r.plan.NothingToDo {
		b, err := backend.Resolve(r.dir, r.getenv)
		if err != nil {
			return badInput("resolving the state backend: %v", err)
		}
		r.mask.Add(backend.Secrets(b.URL)...)
		r.backend = b
		if err := b.CheckWorkflow(string(r.plan.Operation), r.plan.Drift); err != nil {
			for _, v := range r.mask.Values() {
				r.Action.AddMask(v)
			}
			r.log.Errorf("%v", err)
			return badInput("%v", err)
		}
	}

	// Secrets first: nothing else is written before the masks.
	notRun, invalid := r.prepare()
	for _, v := range r.mask.Values() {
		r.Action.AddMask(v)
	}
	if r.Version != "" {
		r.log.Infof("%s", r.Version)
	}
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

	results, publishErrs := r.runAll(notRun, invalid)
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

// context reads the workflow's context.
func (r *run) context() error {
	name := r.getenv("GITHUB_EVENT_NAME")
	if name == "" {
		return badInput("GITHUB_EVENT_NAME is not set: `konductor action` and `konductor plan` read the workflow's event, so they run in a GitHub Actions step (elsewhere use `konductor preview --stack <name>`)")
	}
	var data []byte
	if path := r.getenv("GITHUB_EVENT_PATH"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return badInput("reading the event payload (GITHUB_EVENT_PATH): %v", err)
		}
		data = b
	}
	ev, err := plan.ParseEvent(name, data, r.getenv("GITHUB_REF"), r.getenv("GITHUB_SHA"))
	if err != nil {
		return err
	}
	r.event = ev
	if repo := r.getenv("GITHUB_REPOSITORY"); repo != "" {
		owner, name, ok := strings.Cut(repo, "/")
		if !ok || owner == "" || name == "" {
			return badInput("GITHUB_REPOSITORY %q is not owner/name", repo)
		}
		r.owner, r.repo = owner, name
	}
	if server, id := r.getenv("GITHUB_SERVER_URL"), r.getenv("GITHUB_RUN_ID"); server != "" && id != "" && r.owner != "" {
		r.runURL = fmt.Sprintf("%s/%s/%s/actions/runs/%s", strings.TrimRight(server, "/"), r.owner, r.repo, id)
	}

	workspace := r.getenv("GITHUB_WORKSPACE")
	if workspace == "" {
		workspace = "."
	}
	workspace, err = filepath.Abs(workspace)
	if err != nil {
		return err
	}
	dir := r.in.WorkDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(workspace, dir)
	}
	r.dir = filepath.Clean(dir)
	if st, err := os.Stat(filepath.Join(r.dir, "Pulumi.yaml")); err != nil || st.IsDir() {
		return badInput("input work-dir %q: no Pulumi.yaml in %s", r.in.WorkDir, r.dir)
	}
	if r.settings, err = settingsFile(workspace, r.in.ConfigFile); err != nil {
		return err
	}
	matches, err := filepath.Glob(filepath.Join(r.dir, "Pulumi.*.yaml"))
	if err != nil {
		return err
	}
	for _, m := range matches {
		r.stacks = append(r.stacks, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), "Pulumi."), ".yaml"))
	}
	sort.Strings(r.stacks)
	return nil
}

func (r *run) github() (github.API, error) {
	if r.gh != nil {
		return r.gh, nil
	}
	if r.in.Token == "" {
		return nil, badInput("input github-token is empty: pass github-token: ${{ secrets.GITHUB_TOKEN }}")
	}
	if r.owner == "" {
		return nil, badInput("GITHUB_REPOSITORY is not set")
	}
	gh, err := r.NewGitHub(r.in.Token, r.getenv("GITHUB_API_URL"))
	if err != nil {
		return nil, err
	}
	r.gh = gh
	return gh, nil
}

func (r *run) getRunner() (Runner, error) {
	if r.runner != nil {
		return r.runner, nil
	}
	rn, err := r.NewRunner(r.out)
	if err != nil {
		return nil, err
	}
	r.runner = rn
	return rn, nil
}

func (r *run) makePlan(settings *config.Settings) error {
	ev := r.event
	in := plan.Input{
		Event: ev, Settings: settings, Stacks: r.stacks, Command: r.in.Command, Only: r.in.Stacks,
		AllowForkPreviews: r.in.AllowForkPreviews,
	}
	if in.Command == CommandPlan {
		in.Command = plan.CommandAuto // the plan a run would make
	}
	if ws, err := filepath.Abs(orDot(r.getenv("GITHUB_WORKSPACE"))); err == nil {
		if rel, err := filepath.Rel(ws, r.dir); err == nil {
			in.WorkDir = filepath.ToSlash(rel)
		}
		if rel, err := filepath.Rel(ws, r.settings); err == nil && r.settings != "" {
			in.SettingsFile = filepath.ToSlash(rel)
		}
	}
	if ev.NeedsChangedFiles() && (!ev.Fork || r.in.AllowForkPreviews) {
		gh, err := r.github()
		if err != nil {
			return err
		}
		files, err := gh.ChangedFiles(r.ctx, r.owner, r.repo, ev.PR)
		switch {
		case errors.Is(err, github.ErrTooManyFiles):
			in.AllChanged = true
		case err != nil:
			return fmt.Errorf("listing the files pull request #%d changes: %w", ev.PR, err)
		}
		in.ChangedFiles = files
	}
	p, err := plan.Make(in)
	if err != nil {
		return err
	}
	r.plan = p
	return nil
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}

// prepare validates every planned stack, checks that the secrets its
// backend needs are there, and collects its secret values to mask. It
// writes nothing. notRun maps a stack that cannot run to why; invalid maps
// a stack whose configuration or environment is wrong to the problem.
func (r *run) prepare() (notRun map[string]string, invalid map[string]error) {
	notRun, invalid = map[string]string{}, map[string]error{}
	if r.plan.NothingToDo {
		return
	}
	for _, sp := range r.plan.Stacks {
		if err := preflight(r.getenv, r.backend, r.dir, sp.Name); err != nil {
			invalid[sp.Name] = err
			continue
		}
		rn, err := r.getRunner()
		if err != nil {
			notRun[sp.Name] = err.Error()
			continue
		}
		if _, err := rn.Load(r.dir, sp.Name, r.settings); err != nil {
			var ce config.Errors
			if errors.As(err, &ce) {
				invalid[sp.Name] = ce
			} else {
				notRun[sp.Name] = err.Error()
			}
			continue
		}
		secrets, err := rn.Secrets(r.ctx, r.dir, sp.Name)
		if err != nil {
			notRun[sp.Name] = "could not read the stack's secret config: " + err.Error()
			continue
		}
		r.mask.Add(secrets...)
	}
	return
}

// preflight reports an environment that cannot work for the stack's backend
// and secrets provider, before anything runs: a self-managed backend with
// the passphrase provider and no passphrase, Pulumi Cloud without a token.
func preflight(getenv func(string) string, b backend.Backend, dir, stack string) error {
	if b.Embedded() {
		return nil // works as it is (a preview only: checked before)
	}
	var file struct {
		SecretsProvider string `yaml:"secretsprovider"`
	}
	_ = readYAML(filepath.Join(dir, "Pulumi."+stack+".yaml"), &file)
	scheme, _, _ := strings.Cut(b.URL, "://")
	switch {
	case scheme == "https" || scheme == "http":
		if getenv("PULUMI_ACCESS_TOKEN") == "" && b.Source != backend.FromLogin {
			return fmt.Errorf("the backend is %s but PULUMI_ACCESS_TOKEN is not set: pass it to the step (env: PULUMI_ACCESS_TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }})", b)
		}
	case file.SecretsProvider == "" || file.SecretsProvider == "passphrase":
		if getenv(engine.EnvPassphrase) == "" && getenv("PULUMI_CONFIG_PASSPHRASE_FILE") == "" {
			return fmt.Errorf("the %s:// backend keeps this stack's secrets with the passphrase provider, but PULUMI_CONFIG_PASSPHRASE is not set: pass it to the step (env: PULUMI_CONFIG_PASSPHRASE: ${{ secrets.PULUMI_CONFIG_PASSPHRASE }}); secrets are not available to pull requests from forks", scheme)
		}
	}
	return nil
}

// planOnly reports the plan and runs nothing (command: plan): the plan and
// matrix outputs, the planned stacks in the job summary, and, for a pull
// request that affects no stack, the same note a run leaves.
func (r *run) planOnly() error {
	p := r.plan
	r.log.Infof("konductor plan: %s", p.Reason)
	var errs []error
	if p.NothingToDo {
		errs = append(errs, r.nothingToDo())
	} else {
		var b strings.Builder
		fmt.Fprintf(&b, "### Konductor plan\n\n%s: %s of %d stack%s.\n\n| stack | why |\n|---|---|\n", p.Reason, p.Operation, len(p.Stacks), plural(len(p.Stacks)))
		for _, s := range p.Stacks {
			r.log.Infof("  %s: %s", s.Name, s.Reason)
			fmt.Fprintf(&b, "| `%s` | %s |\n", s.Name, report.Escape(s.Reason))
		}
		errs = append(errs, r.summary(b.String()))
	}
	errs = append(errs, r.writeOutputs([][2]string{{OutputPlan, r.mask.JSON(p)}, {OutputMatrix, r.mask.JSON(p.Matrix())}}))
	if err := errors.Join(errs...); err != nil {
		if !errors.Is(err, ErrFailed) {
			r.log.Errorf("%v", err)
			err = fmt.Errorf("%w: %w", ErrFailed, err)
		}
		return err
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// nothingToDo reports a plan with nothing to run.
func (r *run) nothingToDo() error {
	p, ev := r.plan, r.event
	var errs []error
	switch {
	case p.Fork && ev.NeedsChangedFiles():
		// The token of a fork's run is read-only: no comment, a notice.
		r.log.WithFieldsMap(map[string]string{"title": "Fork pull request not previewed"}).Noticef("%s", p.Reason)
		errs = append(errs, r.summary("### Konductor\n\nNothing was previewed: "+p.Reason+".\n"))
	case p.PR != 0 && ev.NeedsChangedFiles():
		body := fmt.Sprintf("### ✅ No stacks affected\n\nThis pull request changes nothing that affects a stack in `%s` (%s). Nothing was previewed.",
			r.in.WorkDir, strings.Join(r.stacks, ", "))
		if len(r.stacks) == 0 {
			body = fmt.Sprintf("### ✅ No stacks affected\n\nThere is no Pulumi.<stack>.yaml in `%s`. Nothing was previewed.", r.in.WorkDir)
		}
		if err := r.comment(NoStacksSection, body+r.footer("")); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, r.summary("### Konductor\n\n"+p.Reason+". Nothing was previewed.\n"))
	default:
		errs = append(errs, r.summary("### Konductor\n\nNothing to do: "+p.Reason+".\n"))
	}
	errs = append(errs, r.outputs(nil))
	if err := errors.Join(errs...); err != nil {
		r.log.Errorf("%v", err)
		return fmt.Errorf("%w: %w", ErrFailed, err)
	}
	return nil
}

// refuse reports that every planned stack cannot run because its
// configuration or environment is wrong; nothing runs.
func (r *run) refuse(invalid map[string]error) error {
	var all config.Errors
	var results []*result.Result
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(invalid)) {
		res, ce := r.invalidResult(name, invalid[name])
		all = append(all, ce...)
		results = append(results, res)
		if err := r.publish(plan.StackPlan{Name: name, Reason: "invalid"}, res); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, r.summary(r.summaryMarkdown(res)))
	}
	if err := errors.Join(append(errs, r.outputs(results))...); err != nil {
		r.log.Errorf("%v", err)
	}
	r.log.Errorf("nothing was run: fix the configuration above")
	return all
}

// invalidResult is the result of a stack whose configuration or
// environment is wrong, and its errors; it logs the error.
func (r *run) invalidResult(name string, err error) (*result.Result, config.Errors) {
	text := strings.ReplaceAll(err.Error(), r.dir+string(filepath.Separator), "")
	var ce config.Errors
	if !errors.As(err, &ce) {
		ce = config.Errors{&config.FieldError{File: "Pulumi." + name + ".yaml", Reason: err.Error()}}
	}
	r.log.WithFieldsMap(map[string]string{"title": name + " not run"}).Errorf("%s", text)
	return r.mask.Result(r.notRunResult(name, result.Invalid, text)), ce
}

func (r *run) notRunResult(stack string, status result.Status, why string) *result.Result {
	project, _ := config.ProjectName(r.dir)
	return &result.Result{Project: project, Stack: stack, Operation: r.plan.Operation, Status: status,
		Commit: r.plan.HeadSHA, Counts: map[result.Op]int{}, Error: why}
}

// runAll runs the planned stacks, at most the parallel input at once, and
// reports each: a stack whose configuration is invalid or that cannot run
// gets its section without running, and one stack's failure never stops
// the others. Each stack's log (the engine's progress included) is one
// group: streamed live when stacks run one at a time, else held and
// written whole when the stack finishes, so stacks never interleave. The
// comment section is upserted as each stack finishes (sections are ordered
// by name in the comment); the job summary and the results follow the
// plan's order whatever the finishing order.
func (r *run) runAll(notRun map[string]string, invalid map[string]error) ([]*result.Result, []error) {
	stacks := r.plan.Stacks
	results := make([]*result.Result, len(stacks))
	var errs []error
	summarized := 0
	finish := func(i int, res *result.Result) {
		results[i] = r.mask.Result(res)
		if err := r.publish(stacks[i], results[i]); err != nil {
			errs = append(errs, err)
		}
		for summarized < len(stacks) && results[summarized] != nil {
			errs = append(errs, r.summary(r.summaryMarkdown(results[summarized])))
			summarized++
		}
	}
	var runnable []int
	for i, sp := range stacks {
		if err, ok := invalid[sp.Name]; ok {
			res, _ := r.invalidResult(sp.Name, err)
			finish(i, res)
			continue
		}
		if why, ok := notRun[sp.Name]; ok {
			finish(i, r.notRunResult(sp.Name, result.Failed, why))
			continue
		}
		runnable = append(runnable, i)
	}

	if r.in.Parallel <= 1 || len(runnable) <= 1 {
		for _, i := range runnable {
			r.log.Group(stacks[i].Name)
			res := r.runStack(stacks[i], r.out)
			_ = r.out.Flush()
			r.log.EndGroup()
			finish(i, res)
		}
		return results, errs
	}

	type done struct {
		i   int
		res *result.Result
		log *bytes.Buffer
	}
	finished := make(chan done)
	slots := make(chan struct{}, r.in.Parallel)
	for _, i := range runnable {
		go func() {
			var log bytes.Buffer
			select {
			case slots <- struct{}{}:
			case <-r.ctx.Done():
				finished <- done{i, r.notRunResult(stacks[i].Name, result.Failed, "cancelled before it started: "+r.ctx.Err().Error()), &log}
				return
			}
			defer func() { <-slots }()
			res := r.runStack(stacks[i], &log)
			finished <- done{i, res, &log}
		}()
	}
	r.log.Infof("running %d stacks, %d at a time", len(runnable), min(r.in.Parallel, len(runnable)))
	for range runnable {
		d := <-finished
		sp, res := stacks[d.i], d.res
		r.log.Group(fmt.Sprintf("%s (%s %s, %s)", sp.Name, res.Operation, res.Status, res.Duration.Round(100*time.Millisecond)))
		_, _ = r.out.Write(d.log.Bytes())
		_ = r.out.Flush()
		r.log.EndGroup()
		finish(d.i, res)
	}
	return results, errs
}

// runStack runs one stack, waiting out a locked stack; its progress and
// log lines go to log.
func (r *run) runStack(sp plan.StackPlan, log io.Writer) *result.Result {
	p := r.plan
	rn, err := r.getRunner()
	if err != nil {
		return r.notRunResult(sp.Name, result.Failed, err.Error())
	}
	req := runner.Request{Operation: p.Operation, Dir: r.dir, Stack: sp.Name, Commit: p.HeadSHA, Refresh: p.Refresh,
		PolicyPacks: r.policyPacks(), SettingsFile: r.settings, Progress: log}
	deadline := r.Clock.Now().Add(r.LockTimeout)
	delay := firstLockDelay
	for {
		res, err := rn.Run(r.ctx, req)
		if !Locked(res, err) {
			if err != nil {
				return r.notRunResult(sp.Name, result.Failed, err.Error())
			}
			return res
		}
		if r.Clock.Now().Add(delay).After(deadline) {
			why := fmt.Sprintf("the stack is still locked by another update after waiting %s", r.LockTimeout)
			if res == nil {
				return r.notRunResult(sp.Name, result.Failed, why+": "+err.Error())
			}
			res.Error = why + "\n" + res.Error
			return res
		}
		fmt.Fprintf(log, "stack %s is locked by another update; retrying in %s\n", sp.Name, delay)
		if err := r.Clock.Sleep(r.ctx, delay); err != nil {
			return r.notRunResult(sp.Name, result.Failed, "cancelled while waiting for the stack lock: "+err.Error())
		}
		delay = min(2*delay, maxLockDelay)
	}
}

// Locked reports whether a run failed because another update holds the
// stack's lock.
func Locked(res *result.Result, err error) bool {
	if errors.Is(err, engine.ErrConcurrentUpdate) {
		return true
	}
	return err == nil && res != nil && res.Status == result.Failed && res.Locked
}

func (r *run) policyPacks() []string {
	var out []string
	for _, p := range r.in.PolicyPacks {
		if !filepath.IsAbs(p) {
			p = filepath.Join(r.dir, p)
		}
		out = append(out, p)
	}
	return out
}

// publish reports one stack's result: its comment section and
// annotations (the job summary is written in plan order by runAll).
func (r *run) publish(sp plan.StackPlan, res *result.Result) error {
	var errs []error
	if r.plan.PR != 0 {
		budget := (report.CommentLimit - 2048) / max(1, len(r.stacks))
		body := report.Markdown(res, report.Options{Budget: budget - 512, FullDiffAt: "the job summary"})
		if err := r.comment(sp.Name, strings.TrimRight(body, "\n")+r.embeddedNote()+r.footer(sp.Reason)); err != nil {
			if r.plan.Fork {
				// A fork's token is read-only: the summary has it all.
				r.log.Warningf("could not write the pull request comment (a fork's token is read-only): %v", err)
			} else {
				errs = append(errs, err)
			}
		}
	}
	r.annotate(res)
	return errors.Join(errs...)
}

// summaryMarkdown is a stack's part of the job summary: the full report
// within its share of the summary's budget.
func (r *run) summaryMarkdown(res *result.Result) string {
	return strings.TrimRight(report.Markdown(res, report.Options{Budget: report.SummaryLimit / max(1, 2*len(r.plan.Stacks)),
		FullDiffAt: fmt.Sprintf("`konductor %s --stack %s --json`", res.Operation, res.Stack)}), "\n") + r.embeddedNote()
}

// embeddedNote says plainly that a preview ran against no deployed state.
func (r *run) embeddedNote() string {
	if !r.backend.Embedded() {
		return ""
	}
	return "\n\n> [!WARNING]\n> **No state backend is configured**, so this preview ran against konductor's embedded file backend, " +
		"created empty for this run: it shows everything as new, not what would change in your deployed stack. " +
		"To preview against real state, " + backend.HowToConfigure + "."
}

func (r *run) footer(reason string) string {
	var parts []string
	if reason != "" && r.plan.PR != 0 {
		parts = append(parts, "why: "+reason)
	}
	if r.runURL != "" {
		parts = append(parts, "[workflow run]("+r.runURL+")")
	}
	if len(parts) == 0 {
		return ""
	}
	return "\n\n<sub>" + strings.Join(parts, " · ") + "</sub>"
}

var hexRE = regexp.MustCompile(`^[0-9a-fA-F]{7,64}$`)

// comment upserts a section of the pull request's sticky comment.
func (r *run) comment(stack, body string) error {
	if !r.in.CommentOnPR || r.plan.PR == 0 {
		return nil
	}
	gh, err := r.github()
	if err != nil {
		return err
	}
	sec := github.Section{Stack: stack, Body: r.mask.String(body)}
	if stack != NoStacksSection {
		// The note from an earlier commit that affected no stack is wrong now.
		sec.Replaces = []string{NoStacksSection}
	}
	if hexRE.MatchString(r.plan.HeadSHA) {
		sec.SHA = r.plan.HeadSHA
	}
	c, err := gh.UpsertSection(r.pubCtx, r.owner, r.repo, r.plan.PR, sec)
	if err != nil {
		return fmt.Errorf("pull request comment, section %s: %w", stack, err)
	}
	verb := "unchanged"
	switch {
	case c.Created:
		verb = "created"
	case c.Updated:
		verb = "updated"
	}
	r.log.Infof("pull request comment %s: %s", verb, c.URL)
	return nil
}

// summary appends markdown to the job summary, masked.
func (r *run) summary(md string) error {
	path := r.getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return nil
	}
	return appendFile(path, r.mask.String(strings.TrimRight(md, "\n")+"\n\n"))
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// annotate turns policy violations, failures and drift into annotations.
func (r *run) annotate(res *result.Result) {
	for _, v := range res.Violations {
		where := v.Name
		if v.Type != "" {
			where = fmt.Sprintf("%s (%s)", v.Name, v.Type)
		}
		if where == "" {
			where = "stack " + res.Stack
		}
		a := r.log.WithFieldsMap(map[string]string{"title": v.Rule})
		msg := fmt.Sprintf("%s: %s", where, strings.Join(strings.Fields(v.Message), " "))
		if v.Mandatory() {
			a.Errorf("%s", msg)
		} else {
			a.Warningf("%s", msg)
		}
	}
	switch {
	case res.Status == result.Failed || res.Status == result.Blocked:
		first, _, _ := strings.Cut(strings.TrimSpace(res.Error), "\n")
		r.log.WithFieldsMap(map[string]string{"title": res.Stack + " " + string(res.Status)}).
			Errorf("%s %s: %s", res.Operation, res.Status, first)
	case r.plan.Drift && res.HasChanges():
		r.log.WithFieldsMap(map[string]string{"title": "Drift in " + res.Stack}).
			Warningf("stack %s has drifted from its configuration: %s", res.Stack, countsText(res))
	}
}

func countsText(res *result.Result) string {
	var parts []string
	for _, op := range result.Ops {
		if n := res.Counts[op]; n > 0 && op != result.OpSame {
			parts = append(parts, fmt.Sprintf("%d to %s", n, op))
		}
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
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
