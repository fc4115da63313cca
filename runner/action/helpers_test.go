package action_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/fakeclock"
	"github.com/containercraft/konductor-action/test/fakegithub"
	"github.com/containercraft/konductor-action/test/testenv"
)

const (
	owner   = "acme"
	repo    = "platform"
	prNum   = 2
	headSHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	newSHA  = "5d6e0a0d6b8c8e7f2a4b1c3d9e8f7a6b5c4d3e2f"
)

// instant is the GitHub client's clock in tests: no real waits.
type instant struct{}

func (instant) Now() time.Time                                   { return time.Now() }
func (instant) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeRunner answers from tables and records what it was asked.
type fakeRunner struct {
	mu       sync.Mutex
	progress io.Writer
	runs     []runner.Request
	// results per stack, consumed in order; the last one repeats.
	results map[string][]*result.Result
	errs    map[string]error
	invalid map[string]config.Errors
	secrets map[string][]string
	// onRun writes progress text, as the engine does.
	onRun func(w io.Writer, req runner.Request)
}

func (f *fakeRunner) Load(dir, stack, settingsFile string) (*config.Stack, error) {
	if settingsFile != "" {
		if _, err := os.Stat(settingsFile); err != nil {
			return nil, err
		}
	}
	if ce, ok := f.invalid[stack]; ok {
		return nil, ce
	}
	return &config.Stack{Name: stack, Dir: dir}, nil
}

func (f *fakeRunner) Run(_ context.Context, req runner.Request) (*result.Result, error) {
	f.mu.Lock()
	f.runs = append(f.runs, req)
	rs := f.results[req.Stack]
	var res *result.Result
	if len(rs) > 0 {
		res = rs[0]
		if len(rs) > 1 {
			f.results[req.Stack] = rs[1:]
		}
	}
	err := f.errs[req.Stack]
	on, w := f.onRun, f.progress
	if req.Progress != nil {
		w = req.Progress
	}
	f.mu.Unlock()
	if on != nil {
		on(w, req)
	}
	if err != nil {
		return nil, err
	}
	if res == nil {
		res = &result.Result{Project: "app", Stack: req.Stack, Operation: req.Operation, Status: result.Succeeded, Counts: map[result.Op]int{result.OpSame: 3}}
	}
	c := *res
	c.Operation, c.Commit = req.Operation, req.Commit
	return &c, nil
}

func (f *fakeRunner) Secrets(_ context.Context, _, stack string) ([]string, error) {
	return f.secrets[stack], nil
}

func (f *fakeRunner) Runs() []runner.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]runner.Request(nil), f.runs...)
}

// harness is one action run's world: a workspace with a Pulumi project, a
// fake GitHub with pull request acme/platform#2, the Actions environment
// and files.
type harness struct {
	t         *testing.T
	srv       *fakegithub.Server
	env       map[string]string
	workspace string
	stdout    *syncBuffer
	clock     *fakeclock.Clock
	runner    action.Runner
	// newRunnerCalls counts how often the action built a runner.
	newRunnerCalls int
	fake           *fakeRunner
	// newRunner replaces the fake runner (engine tests).
	newRunner func(progress io.Writer) (action.Runner, error)
}

func newHarness(t *testing.T, stacks ...string) *harness {
	t.Helper()
	ws := t.TempDir()
	testenv.Write(t, filepath.Join(ws, "Pulumi.yaml"), "name: app\nruntime: go\n")
	for _, s := range stacks {
		testenv.Write(t, filepath.Join(ws, "Pulumi."+s+".yaml"), "config: {}\n")
	}
	srv := fakegithub.New(t)
	srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo, HeadRef: "changes", HeadSHA: headSHA})
	t.Cleanup(func() {
		for _, r := range srv.Unexpected() {
			t.Errorf("unexpected GitHub call: %s %s", r.Method, r.Path)
		}
	})
	tmp := t.TempDir()
	h := &harness{t: t, srv: srv, workspace: ws, stdout: &syncBuffer{}, clock: fakeclock.New(),
		fake: &fakeRunner{results: map[string][]*result.Result{}, errs: map[string]error{}, invalid: map[string]config.Errors{}, secrets: map[string][]string{}}}
	h.env = map[string]string{
		// Inputs exactly as the runner passes them to a docker action.
		"INPUT_GITHUB-TOKEN":  fakegithub.DefaultToken,
		"INPUT_COMMAND":       "auto",
		"INPUT_WORK-DIR":      ".",
		"INPUT_COMMENT-ON-PR": "true",
		"GITHUB_ACTIONS":      "true",
		"GITHUB_REPOSITORY":   owner + "/" + repo,
		"GITHUB_SHA":          headSHA,
		"GITHUB_REF":          "refs/pull/2/merge",
		"GITHUB_API_URL":      srv.URL(),
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_RUN_ID":       "4242",
		"GITHUB_WORKSPACE":    ws,
		"GITHUB_STEP_SUMMARY": filepath.Join(tmp, "summary.md"),
		"GITHUB_OUTPUT":       filepath.Join(tmp, "output"),
		// A configured backend: deploys on the embedded one are refused.
		"PULUMI_BACKEND_URL":       "file://" + filepath.Join(tmp, "state"),
		"PULUMI_CONFIG_PASSPHRASE": "test-passphrase",
	}
	h.runner = h.fake
	return h
}

func (h *harness) file(name, content string) {
	testenv.Write(h.t, filepath.Join(h.workspace, name), content)
}

// event writes a payload and points GITHUB_EVENT_* at it.
func (h *harness) event(name string, payload []byte) {
	p := filepath.Join(h.t.TempDir(), "event.json")
	if err := os.WriteFile(p, payload, 0o644); err != nil {
		h.t.Fatal(err)
	}
	h.env["GITHUB_EVENT_NAME"] = name
	h.env["GITHUB_EVENT_PATH"] = p
}

// prEvent is GitHub's pull_request payload (the documented example,
// runner/plan/testdata) with action, head commit and head repository set.
func (h *harness) prEvent(act, sha, headRepo string) {
	var p map[string]any
	if err := json.Unmarshal(readTestdata(h.t, "pull_request.opened.json"), &p); err != nil {
		h.t.Fatal(err)
	}
	p["action"] = act
	pr := p["pull_request"].(map[string]any)
	head := pr["head"].(map[string]any)
	head["sha"] = sha
	if headRepo != owner+"/"+repo {
		r := head["repo"].(map[string]any)
		r["full_name"], r["fork"] = headRepo, true
	}
	b, _ := json.Marshal(p)
	h.event("pull_request", b)
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "plan", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *harness) changed(files ...string) { h.srv.SetChangedPaths(owner, repo, prNum, files...) }

func (h *harness) deps() action.Deps {
	a := githubactions.New(
		githubactions.WithGetenv(func(k string) string { return h.env[k] }),
		githubactions.WithWriter(h.stdout))
	return action.Deps{
		Action: a,
		Stdout: h.stdout,
		NewGitHub: func(token, apiURL string) (action.GitHub, error) {
			return github.New(token, apiURL, github.WithBaseTransport(h.srv.Client().Transport), github.WithClock(instant{}),
				github.WithLogger(slog.New(slog.DiscardHandler)))
		},
		NewRunner: func(progress io.Writer) (action.Runner, error) {
			h.newRunnerCalls++
			if h.newRunner != nil {
				return h.newRunner(progress)
			}
			h.fake.progress = progress
			return h.runner, nil
		},
		Clock:       h.clock,
		LockTimeout: 2 * time.Minute,
	}
}

func (h *harness) run() error {
	h.t.Helper()
	return action.Run(context.Background(), h.deps())
}

// comment returns the one comment, failing unless there is exactly one.
func (h *harness) comment() string {
	h.t.Helper()
	return h.srv.OnlyComment(h.t, owner, repo, prNum)
}

func (h *harness) summary() string { return readFile(h.t, h.env["GITHUB_STEP_SUMMARY"]) }

// outputs parses GITHUB_OUTPUT, failing on any line that is not
// name=value with a known name.
func (h *harness) outputs() map[string]string {
	h.t.Helper()
	return parseOutputs(h.t, readFile(h.t, h.env["GITHUB_OUTPUT"]))
}

func parseOutputs(t *testing.T, text string) map[string]string {
	t.Helper()
	known := map[string]bool{action.OutputHasChanges: true, action.OutputHasDestroy: true, action.OutputPolicyViolations: true,
		action.OutputMandatoryViolations: true, action.OutputResult: true, action.OutputStackOutputs: true,
		action.OutputPlan: true, action.OutputMatrix: true, action.OutputDriftedStacks: true, action.OutputOverriddenViolations: true}
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || !known[k] || strings.Contains(k, "<<") {
			t.Fatalf("GITHUB_OUTPUT line %q is not name=value for a known output", sc.Text())
		}
		out[k] = v
	}
	return out
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

func requests(srv *fakegithub.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		out = append(out, r.Method+" "+r.Route)
	}
	return out
}
