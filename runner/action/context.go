package action

// This file reads what a run starts from: the workflow's event and
// environment, the inputs, konductor.yaml, and the plan they make.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/runner/plan"
)

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

func (r *run) github() (GitHub, error) {
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
