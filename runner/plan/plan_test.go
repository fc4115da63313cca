package plan_test

// Over 400 lines on purpose: two tables of cases for Make, one per row of
// the planning rules, read side by side with plan.go and paths.go.

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/plan"
	"github.com/containercraft/konductor-action/runner/result"
)

const (
	headSHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	pushSHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
	envSHA  = "1111111111111111111111111111111111111111"
	mainRef = "refs/heads/main"
)

// settings: dev has no paths (any change in the work dir), staging deploys
// from staging and watches modules/ and the repository's shared/, prod
// deploys from main and watches prod/ and *.prod.yaml.
var settings = &config.Settings{Stacks: map[string]config.StackSettings{
	"staging": {Branch: "staging", Paths: []string{"modules/**", "/shared/**"}},
	"prod":    {Branch: "main", Paths: []string{"prod/", "*.prod.yaml"}},
}}

var present = []string{"dev", "prod", "staging"}

func payload(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type stack struct {
	name     string
	affected []string // nil: not checked
}

func TestMake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		event    string
		file     string
		workDir  string
		changed  []string
		all      bool
		command  string
		only     []string
		forks    bool
		settings *config.Settings

		nothing  bool
		op       result.Operation
		refresh  bool
		drift    bool
		stacks   []stack
		reason   string // substring of Plan.Reason
		fork     bool
		pr       int
		sha      string
		badInput string // substring of the error
	}{
		{
			name: "pr opened: a stack file affects only its stack", event: "pull_request", file: "pull_request.opened.json",
			changed: []string{"Pulumi.prod.yaml"},
			op:      result.Preview, pr: 2, sha: headSHA, reason: "pull request #2 opened",
			// dev has no paths, yet another stack's file is not a change to it.
			stacks: []stack{{"prod", []string{"Pulumi.prod.yaml"}}},
		},
		{
			name: "pr synchronize: globs with ** and a rooted glob", event: "pull_request", file: "pull_request.synchronize.json",
			changed: []string{"modules/net/vpc.go", "shared/lib/x.go", "README.md"},
			settings: &config.Settings{Stacks: map[string]config.StackSettings{
				"dev":     {Paths: []string{"dev/**"}},
				"staging": {Paths: []string{"modules/**", "/shared/**"}},
				"prod":    {Paths: []string{"prod/"}},
			}},
			op: result.Preview, pr: 2, sha: headSHA,
			stacks: []stack{{"staging", []string{"modules/net/vpc.go", "shared/lib/x.go"}}},
		},
		{
			name: "pr: a directory glob ending in / matches below it", event: "pull_request", file: "pull_request.reopened.json",
			changed:  []string{"prod/values/a.yaml"},
			settings: &config.Settings{Stacks: map[string]config.StackSettings{"dev": {Paths: []string{"dev/"}}, "prod": {Paths: []string{"prod/"}}, "staging": {Paths: []string{"x"}}}},
			op:       result.Preview, pr: 2, sha: headSHA, stacks: []stack{{"prod", []string{"prod/values/a.yaml"}}},
		},
		{
			name: "pr: Pulumi.yaml affects every stack", event: "pull_request", file: "pull_request.ready_for_review.json",
			changed:  []string{"Pulumi.yaml"},
			settings: &config.Settings{Stacks: map[string]config.StackSettings{"dev": {Paths: []string{"dev/"}}, "prod": {Paths: []string{"prod/"}}, "staging": {Paths: []string{"x"}}}},
			op:       result.Preview, pr: 2, sha: headSHA,
			stacks: []stack{{"dev", []string{"Pulumi.yaml"}}, {"prod", []string{"Pulumi.yaml"}}, {"staging", []string{"Pulumi.yaml"}}},
		},
		{
			name: "pr: konductor.yaml affects every stack", event: "pull_request", file: "pull_request.opened.json",
			changed:  []string{"konductor.yaml"},
			settings: &config.Settings{Stacks: map[string]config.StackSettings{"dev": {Paths: []string{"dev/"}}, "prod": {Paths: []string{"prod/"}}, "staging": {Paths: []string{"x"}}}},
			op:       result.Preview, pr: 2, sha: headSHA, stacks: []stack{{"dev", nil}, {"prod", nil}, {"staging", nil}},
		},
		{
			name: "pr in a work dir: paths are relative to it, files outside it affect nothing", event: "pull_request", file: "pull_request.opened.json",
			workDir: "infra", changed: []string{"infra/Pulumi.staging.yaml", "docs/Pulumi.dev.yaml", "Pulumi.yaml", "infra/prod/a.yaml"},
			op: result.Preview, pr: 2, sha: headSHA,
			stacks: []stack{
				{"dev", []string{"infra/prod/a.yaml"}},
				{"prod", []string{"infra/prod/a.yaml"}},
				{"staging", []string{"infra/Pulumi.staging.yaml"}},
			},
		},
		{
			name: "pr touching nothing relevant: nothing to do", event: "pull_request", file: "pull_request.opened.json",
			workDir: "infra", changed: []string{"README.md", "app/main.go"},
			nothing: true, pr: 2, sha: headSHA, reason: "no stacks affected",
		},
		{
			name: "pr with more files than GitHub lists: every stack", event: "pull_request", file: "pull_request.synchronize.json",
			all: true, op: result.Preview, pr: 2, sha: headSHA, stacks: []stack{{"dev", nil}, {"prod", nil}, {"staging", nil}},
		},
		{
			name: "pr closed: nothing to do", event: "pull_request", file: "pull_request.closed.json",
			changed: []string{"Pulumi.dev.yaml"}, nothing: true, pr: 2, reason: `"closed"`,
		},
		{
			name: "pr labeled: nothing to do", event: "pull_request", file: "pull_request.labeled.json",
			nothing: true, pr: 2, reason: `"labeled"`,
		},
		{
			name: "pr: the stacks input filters", event: "pull_request", file: "pull_request.opened.json",
			changed: []string{"Pulumi.yaml"}, only: []string{"prod"},
			op: result.Preview, pr: 2, sha: headSHA, stacks: []stack{{"prod", nil}},
		},
		{
			name: "pr: command up overrides", event: "pull_request", file: "pull_request.opened.json",
			changed: []string{"Pulumi.prod.yaml"}, command: "up",
			op: result.Up, pr: 2, sha: headSHA, stacks: []stack{{"prod", nil}}, reason: "command input: up",
		},
		{
			name: "fork pr without allow-fork-previews: nothing, with a note", event: "pull_request", file: "pull_request.opened.fork.json",
			changed: []string{"Pulumi.dev.yaml"},
			nothing: true, fork: true, pr: 2, sha: headSHA, reason: "fork (mallory/platform); fork previews are off",
		},
		{
			name: "fork pr with allow-fork-previews: previewed", event: "pull_request", file: "pull_request.opened.fork.json",
			changed: []string{"Pulumi.staging.yaml"}, forks: true,
			op: result.Preview, fork: true, pr: 2, sha: headSHA, stacks: []stack{{"staging", nil}},
		},
		{
			name: "fork pr is never deployed, even when asked", event: "pull_request", file: "pull_request.opened.fork.json",
			changed: []string{"Pulumi.staging.yaml"}, forks: true, command: "up",
			nothing: true, fork: true, pr: 2, reason: "never deployed",
		},
		{
			name: "pr from a deleted fork counts as a fork", event: "pull_request", file: "pull_request.opened.deleted_fork.json",
			changed: []string{"Pulumi.dev.yaml"}, nothing: true, fork: true, pr: 2, reason: "a deleted repository",
		},
		{
			name: "push to main deploys the stacks mapped to main", event: "push", file: "push.main.json",
			op: result.Up, sha: pushSHA, reason: "push to main", stacks: []stack{{"prod", nil}},
		},
		{
			name: "push to staging", event: "push", file: "push.staging.json",
			op: result.Up, sha: pushSHA, stacks: []stack{{"staging", nil}},
		},
		{
			name: "push to an unmapped branch: nothing", event: "push", file: "push.feature.json",
			nothing: true, sha: pushSHA, reason: "no stack deploys from it",
		},
		{
			name: "push without konductor.yaml: nothing", event: "push", file: "push.main.json", settings: &config.Settings{},
			nothing: true, reason: "no stack deploys from it",
		},
		{
			name: "push of a tag: nothing", event: "push", file: "push.tag.json",
			nothing: true, reason: "refs/tags/v1.2.3 is not a branch",
		},
		{
			name: "push deleting the branch: nothing", event: "push", file: "push.deleted.json",
			nothing: true, reason: "deleted refs/heads/main",
		},
		{
			name: "push with command preview previews the mapped stacks", event: "push", file: "push.main.json", command: "preview",
			op: result.Preview, sha: pushSHA, stacks: []stack{{"prod", nil}},
		},
		{
			name: "workflow_dispatch runs the command on the stacks input", event: "workflow_dispatch", file: "workflow_dispatch.json",
			command: "up", only: []string{"dev"}, op: result.Up, sha: envSHA, stacks: []stack{{"dev", nil}},
		},
		{
			name: "workflow_dispatch without stacks: every stack, auto previews", event: "workflow_dispatch", file: "workflow_dispatch.json",
			op: result.Preview, sha: envSHA, stacks: []stack{{"dev", nil}, {"prod", nil}, {"staging", nil}},
		},
		{
			name: "workflow_dispatch destroy", event: "workflow_dispatch", file: "workflow_dispatch.json", command: "destroy", only: []string{"staging"},
			op: result.Destroy, stacks: []stack{{"staging", nil}},
		},
		{
			name: "schedule: drift check of every stack", event: "schedule", file: "schedule.json",
			op: result.Preview, refresh: true, drift: true, sha: envSHA, reason: "drift", stacks: []stack{{"dev", nil}, {"prod", nil}, {"staging", nil}},
		},
		{
			name: "schedule with command refresh", event: "schedule", file: "schedule.json", command: "refresh",
			op: result.Refresh, stacks: []stack{{"dev", nil}, {"prod", nil}, {"staging", nil}},
		},
		{
			name: "other events: nothing", event: "issue_comment", file: "issue_comment.created.json",
			nothing: true, reason: `"issue_comment" event is not one konductor acts on`,
		},
		{
			name: "pull_request_target is not acted on", event: "pull_request_target", file: "pull_request.opened.json",
			nothing: true, reason: "pull_request_target",
		},
		{
			name: "unknown command", event: "push", file: "push.main.json", command: "apply",
			badInput: `command "apply" is not one of auto, preview, up, refresh, destroy`,
		},
		{
			name: "unknown stack in the stacks input", event: "workflow_dispatch", file: "workflow_dispatch.json", only: []string{"qa"},
			badInput: `no stack "qa" here (stacks: dev, prod, staging)`,
		},
		{
			name: "invalid glob", event: "pull_request", file: "pull_request.opened.json", changed: []string{"a"},
			settings: &config.Settings{Stacks: map[string]config.StackSettings{"dev": {Paths: []string{"modules/[x"}}}},
			badInput: `konductor.yaml: stacks.dev.paths[0]: "modules/[x" is not a valid glob`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := plan.ParseEvent(tt.event, payload(t, tt.file), mainRef, envSHA)
			if err != nil {
				t.Fatal(err)
			}
			s := settings
			if tt.settings != nil {
				s = tt.settings
			}
			p, err := plan.Make(plan.Input{
				Event: ev, Settings: s, Stacks: present, WorkDir: tt.workDir, ChangedFiles: tt.changed, AllChanged: tt.all,
				Command: tt.command, Only: tt.only, AllowForkPreviews: tt.forks,
			})
			if tt.badInput != "" {
				if !errors.Is(err, plan.ErrBadInput) || !strings.Contains(err.Error(), tt.badInput) {
					t.Fatalf("err = %v, want bad input containing %q", err, tt.badInput)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.NothingToDo != tt.nothing {
				t.Errorf("NothingToDo = %v, want %v (reason %q, stacks %v)", p.NothingToDo, tt.nothing, p.Reason, p.StackNames())
			}
			if !strings.Contains(p.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to contain %q", p.Reason, tt.reason)
			}
			if p.Fork != tt.fork || p.PR != tt.pr {
				t.Errorf("Fork, PR = %v, %d; want %v, %d", p.Fork, p.PR, tt.fork, tt.pr)
			}
			if tt.sha != "" && p.HeadSHA != tt.sha {
				t.Errorf("HeadSHA = %q, want %q", p.HeadSHA, tt.sha)
			}
			if tt.nothing {
				if len(p.Stacks) != 0 && !strings.Contains(p.Reason, "no stacks") {
					t.Errorf("nothing to do, but stacks %v", p.StackNames())
				}
				return
			}
			if p.Operation != tt.op || p.Refresh != tt.refresh || p.Drift != tt.drift {
				t.Errorf("Operation, Refresh, Drift = %s, %v, %v; want %s, %v, %v", p.Operation, p.Refresh, p.Drift, tt.op, tt.refresh, tt.drift)
			}
			var names []string
			for _, st := range tt.stacks {
				names = append(names, st.name)
			}
			if !reflect.DeepEqual(p.StackNames(), names) {
				t.Fatalf("stacks = %v, want %v", p.StackNames(), names)
			}
			for i, st := range tt.stacks {
				if p.Stacks[i].Reason == "" {
					t.Errorf("stack %s has no reason", st.name)
				}
				if st.affected != nil && !reflect.DeepEqual(p.Stacks[i].AffectedPaths, st.affected) {
					t.Errorf("stack %s affected by %v, want %v", st.name, p.Stacks[i].AffectedPaths, st.affected)
				}
			}
		})
	}
}

func TestParseEvent(t *testing.T) {
	t.Parallel()
	ev, err := plan.ParseEvent("pull_request", payload(t, "pull_request.opened.fork.json"), "refs/pull/2/merge", envSHA)
	if err != nil {
		t.Fatal(err)
	}
	want := plan.Event{Name: "pull_request", Action: "opened", PR: 2, HeadSHA: headSHA, HeadRepo: "mallory/platform",
		BaseRepo: "acme/platform", Fork: true, Ref: "refs/pull/2/merge"}
	if *ev != want {
		t.Errorf("event = %+v\nwant    %+v", *ev, want)
	}
	if !ev.NeedsChangedFiles() {
		t.Error("an opened pull request needs its changed files")
	}
	ev, _ = plan.ParseEvent("pull_request", payload(t, "pull_request.opened.json"), "", "")
	if ev.Fork {
		t.Error("a same-repository pull request is not a fork")
	}
	ev, _ = plan.ParseEvent("pull_request", payload(t, "pull_request.closed.json"), "", "")
	if ev.NeedsChangedFiles() {
		t.Error("a closed pull request needs no changed files")
	}
	ev, _ = plan.ParseEvent("push", payload(t, "push.deleted.json"), "", envSHA)
	if !ev.Deleted || ev.HeadSHA != envSHA {
		t.Errorf("deleted push = %+v: want Deleted and the all-zero after ignored", ev)
	}

	for _, bad := range []struct{ event, data, want string }{
		{"pull_request", "", "payload is empty"},
		{"pull_request", "{", "not valid JSON"},
		{"pull_request", `{"action":"opened"}`, "no pull_request object"},
		{"pull_request", `{"action":"opened","pull_request":{}}`, "no pull request number"},
		{"push", " ", "payload is empty"},
	} {
		if _, err := plan.ParseEvent(bad.event, []byte(bad.data), "", ""); !errors.Is(err, plan.ErrBadInput) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseEvent(%s, %q) = %v, want bad input %q", bad.event, bad.data, err, bad.want)
		}
	}
	if ev, err := plan.ParseEvent("schedule", nil, mainRef, envSHA); err != nil || ev.HeadSHA != envSHA {
		t.Errorf("schedule without payload = %+v, %v", ev, err)
	}
}

// The plan's JSON (konductor plan) and its matrix (--matrix, the matrix
// output) have the shapes workflows read.
func TestPlanJSONAndMatrix(t *testing.T) {
	t.Parallel()
	p := &plan.Plan{Operation: result.Preview, Reason: "pull request #2 opened", PR: 2, HeadSHA: "abc",
		Stacks: []plan.StackPlan{{Name: "dev", Reason: "Pulumi.dev.yaml changed", AffectedPaths: []string{"Pulumi.dev.yaml"}}, {Name: "prod", Reason: "1 changed file under its paths", AffectedPaths: []string{"prod/a.yaml"}}}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"operation":"preview","refresh":false,"drift":false,"stacks":[{"stack":"dev","reason":"Pulumi.dev.yaml changed","affectedPaths":["Pulumi.dev.yaml"]},` +
		`{"stack":"prod","reason":"1 changed file under its paths","affectedPaths":["prod/a.yaml"]}],"reason":"pull request #2 opened","nothingToDo":false,"fork":false,"pullRequest":2,"headSha":"abc"}`
	if string(b) != want {
		t.Errorf("plan JSON\n%s\nwant\n%s", b, want)
	}
	b, _ = json.Marshal(p.Matrix())
	if want := `{"include":[{"stack":"dev","operation":"preview","reason":"Pulumi.dev.yaml changed"},{"stack":"prod","operation":"preview","reason":"1 changed file under its paths"}]}`; string(b) != want {
		t.Errorf("matrix %s, want %s", b, want)
	}
	none := &plan.Plan{NothingToDo: true, Reason: "nothing"}
	b, _ = json.Marshal(none)
	if !strings.Contains(string(b), `"stacks":[]`) {
		t.Errorf("an empty plan's stacks are not []: %s", b)
	}
	if b, _ := json.Marshal(none.Matrix()); string(b) != `{"include":[]}` {
		t.Errorf("empty matrix = %s", b)
	}
}

// A stack file (Pulumi.<stack>.yaml directly in the work dir) is that
// stack's config: it affects its own stack, never another, while
// Pulumi.yaml, konductor.yaml and shared files affect every stack.
func TestMakeStackFiles(t *testing.T) {
	t.Parallel()
	noPaths := &config.Settings{}
	tests := []struct {
		name     string
		settings *config.Settings // nil: no paths
		here     []string         // the stacks present; nil: dev, prod, staging
		workDir  string
		changed  []string
		want     map[string][]string // stack → affected paths; empty: nothing to do
		why      map[string]string   // stack → substring of its reason
		reason   string              // substring of Plan.Reason
	}{
		{
			name: "a stack file previews that stack only", changed: []string{"Pulumi.dev.yaml"},
			want: map[string][]string{"dev": {"Pulumi.dev.yaml"}},
			why:  map[string]string{"dev": "Pulumi.dev.yaml changed"},
		},
		{
			name: "Pulumi.yaml previews every stack", changed: []string{"Pulumi.yaml"},
			want: map[string][]string{"dev": {"Pulumi.yaml"}, "prod": {"Pulumi.yaml"}, "staging": {"Pulumi.yaml"}},
			why:  map[string]string{"prod": "Pulumi.yaml changed"},
		},
		{
			name: "konductor.yaml previews every stack", changed: []string{"konductor.yaml"},
			want: map[string][]string{"dev": {"konductor.yaml"}, "prod": {"konductor.yaml"}, "staging": {"konductor.yaml"}},
		},
		{
			name: "a shared file previews every stack", changed: []string{"charts/x/values.yaml"},
			want: map[string][]string{"dev": {"charts/x/values.yaml"}, "prod": {"charts/x/values.yaml"}, "staging": {"charts/x/values.yaml"}},
			why:  map[string]string{"staging": "1 changed file under the work dir"},
		},
		{
			name:    "a stack file and a shared file: the reason counts only the shared one",
			changed: []string{"Pulumi.dev.yaml", "charts/x/values.yaml", "Pulumi.prod.yaml"},
			want: map[string][]string{
				"dev":     {"Pulumi.dev.yaml", "charts/x/values.yaml"},
				"prod":    {"Pulumi.prod.yaml", "charts/x/values.yaml"},
				"staging": {"charts/x/values.yaml"},
			},
			why: map[string]string{"dev": "Pulumi.dev.yaml changed; 1 changed file under the work dir", "staging": "1 changed file under the work dir"},
		},
		{
			name: "Pulumi.dev-eu.yaml is dev-eu's, not dev's", here: []string{"dev", "dev-eu", "prod"},
			changed: []string{"Pulumi.dev-eu.yaml"},
			want:    map[string][]string{"dev-eu": {"Pulumi.dev-eu.yaml"}},
			why:     map[string]string{"dev-eu": "Pulumi.dev-eu.yaml changed"},
		},
		{
			name: "Pulumi.dev.yaml is dev's, not dev-eu's", here: []string{"dev", "dev-eu", "prod"},
			changed: []string{"Pulumi.dev.yaml"},
			want:    map[string][]string{"dev": {"Pulumi.dev.yaml"}},
		},
		{
			name: "a stack name with dots", here: []string{"dev", "dev.eu"},
			changed: []string{"Pulumi.dev.eu.yaml"},
			want:    map[string][]string{"dev.eu": {"Pulumi.dev.eu.yaml"}},
		},
		{
			name: "Pulumi.dev.yml is not a stack file: a shared file", changed: []string{"Pulumi.dev.yml"},
			want: map[string][]string{"dev": {"Pulumi.dev.yml"}, "prod": {"Pulumi.dev.yml"}, "staging": {"Pulumi.dev.yml"}},
		},
		{
			name: "Pulumi.x.yaml in a subdirectory is not a stack file: a shared file", changed: []string{"envs/Pulumi.prod.yaml"},
			want: map[string][]string{"dev": {"envs/Pulumi.prod.yaml"}, "prod": {"envs/Pulumi.prod.yaml"}, "staging": {"envs/Pulumi.prod.yaml"}},
		},
		{
			name:    "the stack file of a stack no longer here affects nothing, and the reason says why",
			changed: []string{"Pulumi.old.yaml"},
			reason:  "no stacks affected (Pulumi.old.yaml: no such stack in the work dir)",
		},
		{
			name: "a renamed stack: only the new name", here: []string{"dev", "new"},
			changed: []string{"Pulumi.new.yaml", "Pulumi.old.yaml"},
			want:    map[string][]string{"new": {"Pulumi.new.yaml"}},
		},
		{
			name: "work dir infra/: paths relative to the repository root", workDir: "infra/",
			changed: []string{"infra/Pulumi.dev.yaml", "Pulumi.prod.yaml", "infra/envs/Pulumi.staging.yaml"},
			want: map[string][]string{
				"dev":     {"infra/Pulumi.dev.yaml", "infra/envs/Pulumi.staging.yaml"},
				"prod":    {"infra/envs/Pulumi.staging.yaml"},
				"staging": {"infra/envs/Pulumi.staging.yaml"},
			},
			why: map[string]string{"dev": "Pulumi.dev.yaml changed; 1 changed file under the work dir"},
		},
		{
			name: "work dir infra: its Pulumi.yaml affects every stack, the root's none", workDir: "infra",
			changed: []string{"infra/Pulumi.yaml", "Pulumi.yaml"},
			want:    map[string][]string{"dev": {"infra/Pulumi.yaml"}, "prod": {"infra/Pulumi.yaml"}, "staging": {"infra/Pulumi.yaml"}},
		},
		{
			name: "work dir infra: a stack file outside it affects nothing", workDir: "infra",
			changed: []string{"Pulumi.dev.yaml"},
			reason:  "no stacks affected",
		},
		{
			name: "with paths: a broad glob never matches another stack's file",
			settings: &config.Settings{Stacks: map[string]config.StackSettings{
				"dev":     {Paths: []string{"**"}},
				"prod":    {Paths: []string{"prod/"}},
				"staging": {Paths: []string{"*.yaml", "Pulumi.{dev,prod}.yaml", "/Pulumi.*.yaml"}},
			}},
			changed: []string{"Pulumi.prod.yaml"},
			want:    map[string][]string{"prod": {"Pulumi.prod.yaml"}},
		},
		{
			name: "with paths: a broad glob still matches shared files",
			settings: &config.Settings{Stacks: map[string]config.StackSettings{
				"dev": {Paths: []string{"**"}}, "prod": {Paths: []string{"prod/"}}, "staging": {Paths: []string{"*.yaml"}},
			}},
			changed: []string{"values.yaml", "Pulumi.dev.yaml"},
			want:    map[string][]string{"dev": {"Pulumi.dev.yaml", "values.yaml"}, "staging": {"values.yaml"}},
			why:     map[string]string{"dev": "Pulumi.dev.yaml changed; 1 changed file under its paths"},
		},
		{
			name: "with paths: another stack's file named literally counts", workDir: "infra",
			settings: &config.Settings{Stacks: map[string]config.StackSettings{
				"dev":     {Paths: []string{"Pulumi.prod.yaml"}},
				"prod":    {Paths: []string{"prod/"}},
				"staging": {Paths: []string{"/infra/Pulumi.prod.yaml"}},
			}},
			changed: []string{"infra/Pulumi.prod.yaml"},
			want: map[string][]string{
				"dev": {"infra/Pulumi.prod.yaml"}, "prod": {"infra/Pulumi.prod.yaml"}, "staging": {"infra/Pulumi.prod.yaml"},
			},
			why: map[string]string{"dev": "1 changed file under its paths", "prod": "Pulumi.prod.yaml changed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := plan.ParseEvent("pull_request", payload(t, "pull_request.opened.json"), mainRef, envSHA)
			if err != nil {
				t.Fatal(err)
			}
			s, here := tt.settings, tt.here
			if s == nil {
				s = noPaths
			}
			if here == nil {
				here = present
			}
			p, err := plan.Make(plan.Input{Event: ev, Settings: s, Stacks: here, WorkDir: tt.workDir, ChangedFiles: tt.changed})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(p.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to contain %q", p.Reason, tt.reason)
			}
			if p.NothingToDo != (len(tt.want) == 0) {
				t.Fatalf("NothingToDo = %v with stacks %v (reason %q), want stacks %v", p.NothingToDo, p.StackNames(), p.Reason, tt.want)
			}
			got := map[string][]string{}
			for _, sp := range p.Stacks {
				got[sp.Name] = sp.AffectedPaths
				if sp.Reason == "" {
					t.Errorf("stack %s has no reason", sp.Name)
				}
				if w := tt.why[sp.Name]; !strings.Contains(sp.Reason, w) {
					t.Errorf("stack %s: reason %q, want it to contain %q", sp.Name, sp.Reason, w)
				}
			}
			if len(tt.want) > 0 && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("affected %v\nwant     %v", got, tt.want)
			}
		})
	}
}
