package action

// This file reads what a run starts from: the workflow's event and
// environment, the inputs, konductor.yaml, and the plan they make.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/runner/plan"
)

// readPlan reads the inputs, the workflow's context and konductor.yaml, and
// makes the plan; it writes nothing.
func (w *workflow) readPlan() error {
	in, err := ReadInputs(w.action)
	if err != nil {
		return err
	}
	w.in = in
	if err := w.context(); err != nil {
		return err
	}
	settings, err := config.LoadSettingsFile(w.dir, w.settings)
	if err != nil {
		return err
	}
	w.cfg = settings
	if w.in.Command == CommandCancel {
		// Cancel runs no operation: no plan, no changed files to list.
		w.plan = &plan.Plan{NothingToDo: true, Reason: "command cancel: clearing stale locks of " + strings.Join(w.in.Stacks, ", ") + "; no operation runs",
			Fork: w.event.Fork, PR: w.event.PR, HeadSHA: w.event.HeadSHA}
		return nil
	}
	return w.makePlan(settings)
}

// context reads the workflow's context.
func (w *workflow) context() error {
	name := w.getenv("GITHUB_EVENT_NAME")
	if name == "" {
		return badInput("GITHUB_EVENT_NAME is not set: `konductor action` and `konductor plan` read the workflow's event, so they run in a GitHub Actions step (elsewhere use `konductor preview --stack <name>`)")
	}
	var data []byte
	if path := w.getenv("GITHUB_EVENT_PATH"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return badInput("reading the event payload (GITHUB_EVENT_PATH): %w", err)
		}
		data = b
	}
	ev, err := plan.ParseEvent(name, data, w.getenv("GITHUB_REF"), w.getenv("GITHUB_SHA"))
	if err != nil {
		return err
	}
	w.event = ev
	if repo := w.getenv("GITHUB_REPOSITORY"); repo != "" {
		owner, name, ok := strings.Cut(repo, "/")
		if !ok || owner == "" || name == "" {
			return badInput("GITHUB_REPOSITORY %q is not owner/name", repo)
		}
		w.owner, w.repo = owner, name
	}
	if server, id := w.getenv("GITHUB_SERVER_URL"), w.getenv("GITHUB_RUN_ID"); server != "" && id != "" && w.owner != "" {
		w.runURL = fmt.Sprintf("%s/%s/%s/actions/runs/%s", strings.TrimRight(server, "/"), w.owner, w.repo, id)
	}

	workspace := w.getenv("GITHUB_WORKSPACE")
	if workspace == "" {
		workspace = "."
	}
	workspace, err = filepath.Abs(workspace)
	if err != nil {
		return err
	}
	dir := w.in.WorkDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(workspace, dir)
	}
	w.dir = filepath.Clean(dir)
	if st, err := os.Stat(filepath.Join(w.dir, "Pulumi.yaml")); err != nil || st.IsDir() {
		return badInput("input work-dir %q: no Pulumi.yaml in %s", w.in.WorkDir, w.dir)
	}
	if w.settings, err = settingsFile(workspace, w.in.ConfigFile); err != nil {
		return err
	}
	w.stacks, err = config.ListStacks(w.dir)
	return err
}

func (w *workflow) github() (GitHub, error) {
	if w.gh != nil {
		return w.gh, nil
	}
	if w.in.Token == "" {
		return nil, badInput("input github-token is empty: pass github-token: ${{ secrets.GITHUB_TOKEN }}")
	}
	if w.owner == "" {
		return nil, badInput("GITHUB_REPOSITORY is not set")
	}
	gh, err := w.newGitHub(w.in.Token, w.getenv("GITHUB_API_URL"))
	if err != nil {
		return nil, err
	}
	w.gh = gh
	return gh, nil
}

func (w *workflow) makePlan(settings *config.Settings) error {
	ev := w.event
	in := plan.Input{
		Event: ev, Settings: settings, Stacks: w.stacks, Command: w.in.Command, Only: w.in.Stacks,
		AllowForkPreviews: w.in.AllowForkPreviews,
	}
	if in.Command == CommandPlan {
		in.Command = plan.CommandAuto // the plan a run would make
	}
	if ws, err := filepath.Abs(orDot(w.getenv("GITHUB_WORKSPACE"))); err == nil {
		if rel, err := filepath.Rel(ws, w.dir); err == nil {
			in.WorkDir = filepath.ToSlash(rel)
		}
		if rel, err := filepath.Rel(ws, w.settings); err == nil && w.settings != "" {
			in.SettingsFile = filepath.ToSlash(rel)
		}
	}
	if ev.NeedsChangedFiles() && (!ev.Fork || w.in.AllowForkPreviews) {
		gh, err := w.github()
		if err != nil {
			return err
		}
		files, err := gh.ChangedFiles(w.ctx, w.owner, w.repo, ev.PR)
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
	w.plan = p
	return nil
}

func orDot(s string) string {
	if s == "" {
		return "."
	}
	return s
}

func (w *workflow) getenv(k string) string { return w.action.Getenv(k) }
