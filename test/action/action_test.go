// Package action_test runs the built konductor binary exactly as GitHub runs
// a container action: everything through the environment (INPUT_* with the
// input names' hyphens kept, GITHUB_*), the event payload in a file named by
// GITHUB_EVENT_PATH, the job summary and outputs in files, and the GitHub API
// at GITHUB_API_URL, here a strict fake. The project uses the built-in
// kubernetes module in render mode: the real engine and the real provider
// plugin, and no cluster.
//
// It needs the pinned tools: KONDUCTOR_PULUMI_ROOT and KONDUCTOR_PLUGIN_PATH
// (`make test` sets both).
package action_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/test/fakegithub"
	"github.com/containercraft/konductor-action/test/testenv"
)

const (
	owner    = "acme"
	repo     = "platform"
	prNum    = 2
	shaA     = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	shaB     = "5d6e0a0d6b8c8e7f2a4b1c3d9e8f7a6b5c4d3e2f"
	pushSHA  = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
	testdata = "../../runner/plan/testdata"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "konductor-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "konductor")
	// As shipped: the baseline policy pack next to the binary.
	for pkg, out := range map[string]string{"./cmd/konductor": binary, "./policies/baseline": filepath.Join(dir, "konductor-baseline")} {
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Dir = filepath.Join("..", "..")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// world is one repository checkout, its fake GitHub and its backend.
type world struct {
	t         testing.TB
	srv       *fakegithub.Server
	workspace string
	state     string
	base      map[string]string // the environment every run gets
	getenv    func(string) string
}

func newWorld(t testing.TB, stacks map[string]string) *world {
	t.Helper()
	ws := t.TempDir()
	testenv.Write(t, filepath.Join(ws, "Pulumi.yaml"), "name: app\nruntime: go\n")
	for name, cfg := range stacks {
		testenv.Write(t, filepath.Join(ws, "Pulumi."+name+".yaml"), cfg)
	}
	return newWorldIn(t, ws)
}

// newWorldIn makes a world of the repository checked out in ws, with a
// state backend holding each of its stacks.
func newWorldIn(t testing.TB, ws string) *world {
	t.Helper()
	pluginPath := testenv.PluginPath(t)
	stacks, err := filepath.Glob(filepath.Join(ws, "Pulumi.*.yaml"))
	if err != nil || len(stacks) == 0 {
		t.Fatalf("no Pulumi.<stack>.yaml in %s (%v)", ws, err)
	}
	state := filepath.Join(ws, engine.LocalStateDir)
	srv := fakegithub.New(t)
	srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo, HeadRef: "changes", HeadSHA: shaA})
	t.Cleanup(func() {
		for _, r := range srv.Unexpected() {
			t.Errorf("unexpected GitHub call: %s %s", r.Method, r.Path)
		}
	})
	w := &world{t: t, srv: srv, workspace: ws, state: state}
	w.base = map[string]string{
		"PATH":                     os.Getenv("PATH"),
		"HOME":                     t.TempDir(),
		"KONDUCTOR_PULUMI_ROOT":    testenv.PulumiRoot(t),
		"KONDUCTOR_PLUGIN_PATH":    pluginPath,
		"PULUMI_HOME":              t.TempDir(),
		"PULUMI_BACKEND_URL":       "file://" + state,
		"PULUMI_CONFIG_PASSPHRASE": "e2e-passphrase",
		"GITHUB_ACTIONS":           "true",
		"GITHUB_REPOSITORY":        owner + "/" + repo,
		"GITHUB_API_URL":           srv.URL(),
		"GITHUB_SERVER_URL":        "https://github.com",
		"GITHUB_RUN_ID":            "7",
		"GITHUB_WORKSPACE":         ws,
		"INPUT_GITHUB-TOKEN":       fakegithub.DefaultToken,
	}
	w.getenv = func(k string) string { return w.base[k] }
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, file := range stacks {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "Pulumi."), ".yaml")
		testenv.Pulumi(t, ws, w.getenv, "stack", "init", name)
	}
	return w
}

// run is one action step's outcome.
type run struct {
	code                             int
	stdout, stderr, summary, outputs string
}

// step runs the binary as the runner runs a container action step: env
// only, in the workspace, with fresh summary and output files.
func (w *world) step(event string, payload []byte, env map[string]string) run {
	w.t.Helper()
	s := w.start(event, payload, env)
	return s.wait()
}

// started is a step whose process is running.
type started struct {
	w              *world
	cmd            *exec.Cmd
	vars           map[string]string
	stdout, stderr *bytes.Buffer
}

// start starts a step and returns at once.
func (w *world) start(event string, payload []byte, env map[string]string) *started {
	w.t.Helper()
	return w.startCommand([]string{"action"}, event, payload, env)
}

// startCommand starts the binary with args in a step's environment.
func (w *world) startCommand(args []string, event string, payload []byte, env map[string]string) *started {
	w.t.Helper()
	tmp := w.t.TempDir()
	eventPath := filepath.Join(tmp, "event.json")
	if err := os.WriteFile(eventPath, payload, 0o644); err != nil {
		w.t.Fatal(err)
	}
	vars := map[string]string{
		"GITHUB_EVENT_NAME":   event,
		"GITHUB_EVENT_PATH":   eventPath,
		"GITHUB_STEP_SUMMARY": filepath.Join(tmp, "summary"),
		"GITHUB_OUTPUT":       filepath.Join(tmp, "output"),
		"GITHUB_SHA":          shaA,
		"GITHUB_REF":          "refs/pull/2/merge",
	}
	for k, v := range w.base {
		vars[k] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	cmd := exec.Command(binary, args...)
	cmd.Dir = w.workspace
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	s := &started{w: w, cmd: cmd, vars: vars, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = s.stdout, s.stderr
	// The step's process tree is a group of its own, so a test can kill
	// the whole tree as GitHub does when it cancels a step.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	return s
}

// wait waits for the step to end.
func (s *started) wait() run {
	t := s.w.t
	t.Helper()
	err := s.cmd.Wait()
	r := run{stdout: s.stdout.String(), stderr: s.stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	r.summary = read(t, s.vars["GITHUB_STEP_SUMMARY"])
	r.outputs = read(t, s.vars["GITHUB_OUTPUT"])
	return r
}

func read(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

func (r run) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s\n--- summary\n%s\n--- outputs\n%s", r.code, r.stdout, r.stderr, r.summary, r.outputs)
}

// outputs parses GITHUB_OUTPUT, which must hold only name=value lines.
func (r run) outputMap(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimRight(r.outputs, "\n"), "\n") {
		if l == "" {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || strings.Contains(k, "<<") {
			t.Fatalf("GITHUB_OUTPUT line %q is not name=value", l)
		}
		out[k] = v
	}
	return out
}

// prPayload is GitHub's documented pull_request payload with the action,
// head commit and head repository set.
func prPayload(t testing.TB, action, sha, headRepo string) []byte {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(fixture(t, "pull_request.opened.json"), &p); err != nil {
		t.Fatal(err)
	}
	p["action"] = action
	head := p["pull_request"].(map[string]any)["head"].(map[string]any)
	head["sha"] = sha
	if headRepo != owner+"/"+repo {
		r := head["repo"].(map[string]any)
		r["full_name"], r["fork"] = headRepo, true
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (w *world) changed(files ...string) { w.srv.SetChangedPaths(owner, repo, prNum, files...) }

func (w *world) comments() []fakegithub.Comment { return w.srv.Comments(owner, repo, prNum) }

func (w *world) comment() string {
	w.t.Helper()
	return w.srv.OnlyComment(w.t, owner, repo, prNum)
}

func stackConfig(renderDir, team string) string {
	return fmt.Sprintf(`config:
  app:kubernetes:
    enabled: true
    render_dir: %s
    namespaces:
      - name: apps
        labels:
          team: %s
`, renderDir, team)
}

func contains(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// (a) opened → one comment with the stack's section; a deploy from main;
// (b) synchronize with changed config → the same comment shows the update
// and its property diff; (c) a rerun on the same commit → still one
// comment, unchanged.
func TestPullRequestLifecycle(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"dev": stackConfig("rendered/dev", "platform")})
	testenv.Write(t, filepath.Join(w.workspace, "konductor.yaml"), "stacks:\n  dev:\n    branch: main\n")

	// (a)
	w.changed("Pulumi.dev.yaml")
	r := w.step("pull_request", prPayload(t, "opened", shaA, "acme/platform"), nil)
	if r.code != 0 {
		t.Fatalf("opened: %s", r)
	}
	body := w.comment()
	contains(t, "comment after opened", body,
		"<!-- konductor:section:dev:begin sha="+shaA, "`dev` — preview has changes", "to create",
		"`kubernetes:core/v1:Namespace` **apps**", "why: Pulumi.dev.yaml changed")
	contains(t, "stdout", r.stdout, "::group::dev\n", "::endgroup::\n", "pull request comment created")
	contains(t, "summary", r.summary, "`dev` — preview has changes", "Full diff")
	out := r.outputMap(t)
	if out["has-changes"] != "true" || out["has-destroy"] != "false" {
		t.Errorf("outputs = %v", out)
	}

	// A push to main deploys dev.
	r = w.step("push", fixture(t, "push.main.json"), map[string]string{"GITHUB_SHA": pushSHA, "GITHUB_REF": "refs/heads/main"})
	if r.code != 0 {
		t.Fatalf("push: %s", r)
	}
	contains(t, "push summary", r.summary, "`dev` — up succeeded")
	if _, err := os.Stat(filepath.Join(w.workspace, "rendered", "dev")); err != nil {
		t.Errorf("render mode wrote no manifests: %v", err)
	}
	if len(w.comments()) != 1 {
		t.Errorf("a push touched the pull request's comments")
	}

	// (b) a new commit changes the namespace's label.
	testenv.Write(t, filepath.Join(w.workspace, "Pulumi.dev.yaml"), stackConfig("rendered/dev", "infra"))
	w.srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo, HeadRef: "changes", HeadSHA: shaB})
	r = w.step("pull_request", prPayload(t, "synchronize", shaB, "acme/platform"), map[string]string{"GITHUB_SHA": shaB})
	if r.code != 0 {
		t.Fatalf("synchronize: %s", r)
	}
	body = w.comment()
	contains(t, "comment after synchronize", body,
		"sha="+shaB, "to update", "✏️ update `kubernetes:core/v1:Namespace` **apps**", "`\"platform\"` → `\"infra\"`")
	if strings.Contains(body, "sha="+shaA) {
		t.Errorf("the old commit's section is still there:\n%s", body)
	}

	// (c) a rerun on the same commit.
	r = w.step("pull_request", prPayload(t, "synchronize", shaB, "acme/platform"), map[string]string{"GITHUB_SHA": shaB})
	if r.code != 0 {
		t.Fatalf("rerun: %s", r)
	}
	if got := w.comment(); got != body {
		t.Errorf("the rerun changed the comment:\n%s", got)
	}
}

// (d) a pull request touching nothing relevant: a short section, and no
// engine started.
func TestNoStacksAffected(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"dev": stackConfig("rendered/dev", "platform")})
	testenv.Write(t, filepath.Join(w.workspace, "konductor.yaml"), "stacks:\n  dev:\n    paths: [\"infra/**\"]\n")
	before := stateFiles(t, w.state)
	w.changed("README.md", "docs/guide.md")
	r := w.step("pull_request", prPayload(t, "opened", shaA, "acme/platform"), nil)
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	contains(t, "comment", w.comment(), "No stacks affected", "Nothing was previewed")
	if strings.Contains(r.stdout, "::group::") {
		t.Errorf("a stack ran:\n%s", r.stdout)
	}
	if after := stateFiles(t, w.state); after != before {
		t.Errorf("the backend changed: an engine ran (%d → %d files)", before, after)
	}
}

func stateFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// (e) four action steps for four stacks at once, on one pull request: one
// comment with four sections.
func TestConcurrentStacks(t *testing.T) {
	t.Parallel()
	stacks := []string{"dev", "prod", "qa", "staging"}
	cfg := map[string]string{}
	for _, s := range stacks {
		cfg[s] = stackConfig("rendered/"+s, s)
	}
	w := newWorld(t, cfg)
	w.changed("Pulumi.yaml")
	payload := prPayload(t, "opened", shaA, "acme/platform")
	runs := make([]run, len(stacks))
	var wg sync.WaitGroup
	for i, s := range stacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i] = w.step("pull_request", payload, map[string]string{"INPUT_STACKS": s})
		}()
	}
	wg.Wait()
	for i, r := range runs {
		if r.code != 0 {
			t.Errorf("%s: %s", stacks[i], r)
		}
		if n := strings.Count(r.stdout, "::group::"); n != 1 {
			t.Errorf("%s ran %d stacks, want its own only", stacks[i], n)
		}
	}
	body := w.comment()
	for _, s := range stacks {
		contains(t, "comment", body, "<!-- konductor:section:"+s+":begin", "`"+s+"` — preview has changes")
	}
}

// (f) a secret in stack config (encrypted by the pinned CLI) that flows into
// a resource's inputs, and one that becomes part of a stack output: no byte
// of anything the action writes holds either.
func TestSecretsNeverWritten(t *testing.T) {
	t.Parallel()
	const (
		inputSecret  = "tok-Zq81x-secret-annotation" // an annotation: resource inputs
		outputSecret = "rendered-k7q2w9x4"           // the render dir: in the stack output
	)
	w := newWorld(t, map[string]string{"dev": stackConfig("rendered/dev", "platform")})
	testenv.Pulumi(t, w.workspace, w.getenv, "config", "set", "--secret", "--path", "kubernetes.namespaces[0].annotations.token", inputSecret)
	testenv.Pulumi(t, w.workspace, w.getenv, "config", "set", "--secret", "--path", "kubernetes.render_dir", outputSecret)
	if f := read(t, filepath.Join(w.workspace, "Pulumi.dev.yaml")); strings.Contains(f, inputSecret) || strings.Count(f, "secure:") != 2 {
		t.Fatalf("the secrets are not encrypted in the stack file:\n%s", f)
	}
	w.changed("Pulumi.dev.yaml")
	runs := []run{w.step("pull_request", prPayload(t, "opened", shaA, "acme/platform"), nil)}
	runs = append(runs, w.step("workflow_dispatch", fixture(t, "workflow_dispatch.json"), map[string]string{"INPUT_COMMAND": "up", "GITHUB_REF": "refs/heads/main"}))
	for _, r := range runs {
		if r.code != 0 {
			t.Fatalf("%s", r)
		}
	}
	body := w.comment()
	contains(t, "comment", body, "`dev` — preview has changes", "[secret]")
	contains(t, "deploy summary", runs[1].summary, "`dev` — up succeeded")
	for i, r := range runs {
		lines := strings.Split(r.stdout, "\n")
		if len(lines) < 2 || lines[0] != "::add-mask::"+inputSecret && lines[0] != "::add-mask::"+outputSecret || !strings.HasPrefix(lines[1], "::add-mask::") {
			t.Errorf("run %d does not mask both secrets first:\n%s", i, r.stdout)
		}
		everything := map[string]string{
			"stdout (but the masks)": strings.Join(lines[2:], "\n"), "stderr": r.stderr,
			"summary": r.summary, "outputs": r.outputs, "comment": body,
		}
		for where, text := range everything {
			for _, s := range []string{inputSecret, outputSecret} {
				if strings.Contains(text, s) {
					t.Errorf("run %d: %s holds the secret %q", i, where, s)
				}
			}
		}
	}
	// Not vacuous: the engine had both in plain text.
	var rendered strings.Builder
	_ = filepath.WalkDir(filepath.Join(w.workspace, outputSecret), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rendered.WriteString(read(t, p))
		}
		return nil
	})
	if !strings.Contains(rendered.String(), inputSecret) {
		t.Errorf("the manifests rendered under %s should hold the annotation:\n%s", outputSecret, rendered.String())
	}
}

// (g) a fork's pull request without allow-fork-previews: no engine, no
// GitHub call, a clear note.
func TestForkNotPreviewed(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"dev": stackConfig("rendered/dev", "platform")})
	before := stateFiles(t, w.state)
	r := w.step("pull_request", prPayload(t, "opened", shaA, "mallory/platform"), nil)
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	note := "pull request #2 comes from a fork (mallory/platform); fork previews are off (set allow-fork-previews: true to preview them)"
	contains(t, "stdout", r.stdout, "::notice title=Fork pull request not previewed::"+note)
	contains(t, "summary", r.summary, note)
	if n := len(w.srv.Requests()); n != 0 {
		t.Errorf("%d GitHub calls for a fork", n)
	}
	if after := stateFiles(t, w.state); after != before {
		t.Errorf("an engine ran for a fork")
	}
}

// Exit codes: 2 for bad input and bad configuration, nothing run.
func TestBadInputExitCodes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"dev": stackConfig("rendered/dev", "platform")})
	w.changed("Pulumi.dev.yaml")
	r := w.step("pull_request", prPayload(t, "opened", shaA, "acme/platform"), map[string]string{"INPUT_COMMAND": "apply"})
	if r.code != 2 || !strings.Contains(r.stderr, `input command: "apply" is not one of auto, preview, up, refresh, destroy`) {
		t.Errorf("bad command: %s", r)
	}
	testenv.Write(t, filepath.Join(w.workspace, "Pulumi.dev.yaml"), "config:\n  app:kubernetes:\n    enabled: true\n    namespaces:\n      - name: Not_Valid\n")
	r = w.step("pull_request", prPayload(t, "opened", shaA, "acme/platform"), nil)
	if r.code != 2 || !strings.Contains(r.stderr, "invalid configuration (nothing was run)") {
		t.Errorf("bad config: %s", r)
	}
	contains(t, "comment", w.comment(), "`dev` — preview invalid configuration", "app:kubernetes.namespaces[0].name")
}
