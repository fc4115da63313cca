package action_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/backend"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

func TestReadInputs(t *testing.T) {
	t.Parallel()
	get := func(env map[string]string) *githubactions.Action {
		return githubactions.New(githubactions.WithGetenv(func(k string) string { return env[k] }), githubactions.WithWriter(io.Discard))
	}
	// A docker action gets INPUT_<NAME> upper-cased with the hyphens kept.
	in, err := action.ReadInputs(get(map[string]string{
		"INPUT_GITHUB-TOKEN":        "tok",
		"INPUT_COMMAND":             " Preview ",
		"INPUT_STACKS":              "dev, prod\nstaging",
		"INPUT_WORK-DIR":            "infra",
		"INPUT_COMMENT-ON-PR":       "false",
		"INPUT_POLICY-PACKS":        "policies/a\npolicies/b",
		"INPUT_CONFIG-FILE":         "infra/konductor.yaml",
		"INPUT_ALLOW-FORK-PREVIEWS": "true",
		"INPUT_FAIL-ON-POLICY":      "False",
		"INPUT_PARALLEL":            "3",
		// The underscore spelling is not what GitHub sets: ignored.
		"INPUT_GITHUB_TOKEN": "wrong",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := &action.Inputs{Token: "tok", Command: "preview", Stacks: []string{"dev", "prod", "staging"}, WorkDir: "infra",
		CommentOnPR: false, PolicyPacks: []string{"policies/a", "policies/b"}, ConfigFile: "infra/konductor.yaml",
		AllowForkPreviews: true, FailOnPolicy: false, Parallel: 3}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("inputs = %+v\nwant     %+v", in, want)
	}

	in, err = action.ReadInputs(get(map[string]string{"GITHUB_TOKEN": "fallback"}))
	if err != nil {
		t.Fatal(err)
	}
	want = &action.Inputs{Token: "fallback", Command: "auto", WorkDir: ".", CommentOnPR: true, FailOnPolicy: true,
		Parallel: runtime.NumCPU()}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("defaults = %+v\nwant       %+v", in, want)
	}

	_, err = action.ReadInputs(get(map[string]string{"INPUT_COMMAND": "apply", "INPUT_COMMENT-ON-PR": "yes", "INPUT_STACKS": "../x", "INPUT_PARALLEL": "0"}))
	if !errors.Is(err, action.ErrBadInput) {
		t.Fatalf("err = %v, want bad input", err)
	}
	for _, w := range []string{`command: "apply" is not one of auto, preview, up, refresh, destroy`, `comment-on-pr: "yes" is not a boolean`, `stacks: "../x"`, `parallel: "0" is not a positive whole number`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

// (a)+(b)+(c): a pull request previews the affected stacks into one sticky
// comment, updated in place on a new commit and on a rerun.
func TestPullRequestPreview(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev", "prod")
	h.file("konductor.yaml", "stacks:\n  prod:\n    branch: main\n    paths: [prod/]\n")
	h.changed("Pulumi.dev.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	h.fake.results["dev"] = []*result.Result{{Project: "app", Stack: "dev", Status: result.Succeeded,
		Counts: map[result.Op]int{result.OpCreate: 2},
		Steps: []result.Step{{Op: result.OpCreate, URN: "urn:pulumi:dev::app::pulumi:index:Stash::stash-color", Type: "pulumi:index:Stash", Name: "stash-color"},
			{Op: result.OpCreate, URN: "urn:pulumi:dev::app::pulumi:index:Stash::stash-size", Type: "pulumi:index:Stash", Name: "stash-size"}},
		Outputs: map[string]result.Output{"stash": {Value: `{"color": "blue"}`, Raw: map[string]any{"color": "blue"}}, "token": {Value: "[secret]", Secret: true}},
	}}
	h.fake.onRun = func(w io.Writer, req runner.Request) { fmt.Fprintf(w, "Previewing update (%s):\n", req.Stack) }
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	runs := h.fake.Runs()
	if len(runs) != 1 || runs[0].Stack != "dev" || runs[0].Operation != result.Preview || runs[0].Commit != headSHA || runs[0].Dir != h.workspace {
		t.Fatalf("runs = %+v, want one preview of dev at the head commit", runs)
	}
	body := h.comment()
	for _, w := range []string{"<!-- konductor:comment -->", "<!-- konductor:section:dev:begin sha=" + headSHA, "`dev` — preview has changes",
		"**2** to create", "why: Pulumi.dev.yaml changed", "[workflow run](https://github.com/acme/platform/actions/runs/4242)"} {
		if !strings.Contains(body, w) {
			t.Errorf("comment lacks %q:\n%s", w, body)
		}
	}
	if strings.Contains(body, "section:prod") {
		t.Errorf("prod is not affected but has a section:\n%s", body)
	}
	if s := h.summary(); !strings.Contains(s, "`dev` — preview has changes") || !strings.Contains(s, "Full diff (2 resources)") {
		t.Errorf("summary lacks the full report:\n%s", s)
	}
	stdout := h.stdout.String()
	if !strings.Contains(stdout, "::group::dev\nPreviewing update (dev):\n::endgroup::\n") {
		t.Errorf("engine progress is not grouped under the stack:\n%s", stdout)
	}
	out := h.outputs()
	if out["has-changes"] != "true" || out["has-destroy"] != "false" || out["policy-violations"] != "0" || out["mandatory-violations"] != "0" {
		t.Errorf("outputs = %v", out)
	}
	var res map[string]action.StackResult
	if err := json.Unmarshal([]byte(out["result"]), &res); err != nil {
		t.Fatal(err)
	}
	if r := res["dev"]; r.Status != result.Succeeded || !r.HasChanges || r.Counts[result.OpCreate] != 2 || r.Commit != headSHA {
		t.Errorf("result output = %+v", res)
	}
	if out["stack-outputs"] != `{"dev":{"stash":{"color":"blue"}}}` {
		t.Errorf("stack-outputs = %s, want the non-secret output only", out["stack-outputs"])
	}

	// (b) a new commit changes the config: the same comment shows the update.
	h.fake.results["dev"] = []*result.Result{{Project: "app", Stack: "dev", Status: result.Succeeded,
		Counts: map[result.Op]int{result.OpUpdate: 1, result.OpSame: 1},
		Steps: []result.Step{{Op: result.OpUpdate, URN: "urn:pulumi:dev::app::pulumi:index:Stash::stash-color", Type: "pulumi:index:Stash", Name: "stash-color",
			Diffs: []result.PropertyDiff{{Path: "input", Kind: result.Updated, Old: `"blue"`, New: `"green"`}}}},
	}}
	h.srv.AddPullRequest(pr(newSHA))
	h.prEvent("synchronize", newSHA, "acme/platform")
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	body = h.comment()
	for _, w := range []string{"sha=" + newSHA, "**1** to update", "`input`: `\"blue\"` → `\"green\"`"} {
		if !strings.Contains(body, w) {
			t.Errorf("updated comment lacks %q:\n%s", w, body)
		}
	}
	if strings.Contains(body, "to create") {
		t.Errorf("updated comment still shows the old preview:\n%s", body)
	}

	// (c) a rerun on the same commit: still one comment, not edited again.
	patches := countReq(h, "PATCH")
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	if got := h.comment(); got != body {
		t.Errorf("rerun changed the comment:\n%s", got)
	}
	if n := countReq(h, "PATCH"); n != patches {
		t.Errorf("rerun PATCHed an unchanged comment (%d → %d)", patches, n)
	}
}

func countReq(h *harness, method string) int {
	n := 0
	for _, r := range h.srv.Requests() {
		if r.Method == method {
			n++
		}
	}
	return n
}

func pr(sha string) fakegithub.PullRequest {
	return fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo, HeadRef: "changes", HeadSHA: sha}
}

// (d) a pull request that affects no stack gets a short section and no
// engine is started.
func TestNoStacksAffected(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev", "prod")
	h.file("konductor.yaml", "stacks:\n  dev:\n    paths: [dev/**]\n  prod:\n    paths: [prod/**]\n")
	h.changed("README.md", "app/main.go")
	h.prEvent("opened", headSHA, "acme/platform")
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	if h.newRunnerCalls != 0 || len(h.fake.Runs()) != 0 {
		t.Errorf("an engine was started: %d runners, runs %v", h.newRunnerCalls, h.fake.Runs())
	}
	body := h.comment()
	if !strings.Contains(body, "No stacks affected") || !strings.Contains(body, "section:"+action.NoStacksSection) {
		t.Errorf("comment = %s", body)
	}
	if out := h.outputs(); out["has-changes"] != "false" || out["result"] != "{}" {
		t.Errorf("outputs = %v", out)
	}

	// A later commit affects dev: its section replaces the note.
	h.changed("README.md", "dev/values.yaml")
	h.srv.AddPullRequest(pr(newSHA))
	h.prEvent("synchronize", newSHA, "acme/platform")
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	body = h.comment()
	if strings.Contains(body, "No stacks affected") || strings.Contains(body, "section:"+action.NoStacksSection) || !strings.Contains(body, "section:dev:") {
		t.Errorf("comment after dev became affected = %s", body)
	}
}

// (g) a fork's pull request is not previewed without allow-fork-previews:
// no engine, no GitHub call (its token is read-only), a clear note.
func TestForkNotPreviewed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev")
	h.prEvent("opened", headSHA, "mallory/platform")
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	if h.newRunnerCalls != 0 {
		t.Error("an engine was started for a fork")
	}
	if r := requests(h.srv); len(r) != 0 {
		t.Errorf("GitHub calls for a fork: %v", r)
	}
	note := "pull request #2 comes from a fork (mallory/platform); fork previews are off (set allow-fork-previews: true to preview them)"
	if s := h.stdout.String(); !strings.Contains(s, "::notice title=Fork pull request not previewed::"+note) {
		t.Errorf("stdout lacks the notice:\n%s", s)
	}
	if !strings.Contains(h.summary(), note) {
		t.Errorf("summary lacks the note:\n%s", h.summary())
	}
}

func TestForkPreviewedWhenAllowed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev")
	h.env["INPUT_ALLOW-FORK-PREVIEWS"] = "true"
	h.changed("Pulumi.dev.yaml")
	h.prEvent("opened", headSHA, "mallory/platform")
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	if runs := h.fake.Runs(); len(runs) != 1 || runs[0].Operation != result.Preview {
		t.Errorf("runs = %+v, want one preview", runs)
	}
	// Never deployed, whatever the command says.
	h2 := newHarness(t, "dev")
	h2.env["INPUT_ALLOW-FORK-PREVIEWS"] = "true"
	h2.env["INPUT_COMMAND"] = "up"
	h2.prEvent("opened", headSHA, "mallory/platform")
	if err := h2.run(); err != nil {
		t.Fatal(err)
	}
	if len(h2.fake.Runs()) != 0 || !strings.Contains(h2.stdout.String(), "never deployed") {
		t.Errorf("a fork was deployed: %v\n%s", h2.fake.Runs(), h2.stdout.String())
	}
}

// A push deploys the stacks mapped to the branch, waiting out a locked
// stack with backoff.
func TestPushDeploysWaitingForLock(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev", "prod")
	h.file("konductor.yaml", "stacks:\n  prod:\n    branch: main\n")
	h.event("push", readTestdata(t, "push.main.json"))
	delete(h.env, "INPUT_GITHUB-TOKEN") // a deploy needs no GitHub API
	locked := &result.Result{Stack: "prod", Status: result.Failed, Locked: true,
		Error: "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`."}
	h.fake.results["prod"] = []*result.Result{locked, locked, {Stack: "prod", Status: result.Succeeded, Counts: map[result.Op]int{result.OpUpdate: 1}}}
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	runs := h.fake.Runs()
	if len(runs) != 3 || runs[2].Operation != result.Up || runs[2].Stack != "prod" || runs[2].Commit != "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c" {
		t.Fatalf("runs = %+v, want up on prod three times", runs)
	}
	if got, want := h.clock.Sleeps(), []time.Duration{5 * time.Second, 10 * time.Second}; !reflect.DeepEqual(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
	if r := requests(h.srv); len(r) != 0 {
		t.Errorf("GitHub calls on push: %v", r)
	}
	if !strings.Contains(h.summary(), "`prod` — up succeeded") {
		t.Errorf("summary = %s", h.summary())
	}
}

func TestLockTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "prod")
	h.file("konductor.yaml", "stacks:\n  prod:\n    branch: main\n")
	h.event("push", readTestdata(t, "push.main.json"))
	h.fake.errs["prod"] = fmt.Errorf("stack prod: %w: conflict", engine.ErrConcurrentUpdate)
	err := h.run()
	if !errors.Is(err, action.ErrFailed) {
		t.Fatalf("err = %v, want ErrFailed", err)
	}
	var total time.Duration
	for _, d := range h.clock.Sleeps() {
		total += d
	}
	if total > 2*time.Minute || len(h.clock.Sleeps()) < 3 {
		t.Errorf("waits %v exceed the 2m timeout or gave up early", h.clock.Sleeps())
	}
	if !strings.Contains(h.summary(), "still locked by another update after waiting 2m0s") {
		t.Errorf("summary = %s", h.summary())
	}
}

func TestPolicyViolations(t *testing.T) {
	t.Parallel()
	for _, failOnPolicy := range []string{"", "false"} {
		t.Run("fail-on-policy="+failOnPolicy, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, "dev")
			h.env["INPUT_FAIL-ON-POLICY"] = failOnPolicy
			h.changed("Pulumi.dev.yaml")
			h.prEvent("opened", headSHA, "acme/platform")
			h.fake.results["dev"] = []*result.Result{{Stack: "dev", Status: result.Succeeded, Counts: map[result.Op]int{result.OpCreate: 1},
				Violations: []result.Violation{
					{Pack: "konductor-baseline", Rule: "bucket-encryption", Level: "mandatory", Type: "aws:s3/bucket:Bucket", Name: "state", Message: "buckets must be encrypted\nwith KMS"},
					{Pack: "konductor-baseline", Rule: "labels", Level: "advisory", Type: "kubernetes:core/v1:Namespace", Name: "apps", Message: "missing owner label"},
				}}}
			err := h.run()
			stdout := h.stdout.String()
			for _, w := range []string{
				"::error title=bucket-encryption::state (aws:s3/bucket:Bucket): buckets must be encrypted with KMS\n",
				"::warning title=labels::apps (kubernetes:core/v1:Namespace): missing owner label\n",
			} {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			out := h.outputs()
			if out["policy-violations"] != "2" || out["mandatory-violations"] != "1" {
				t.Errorf("outputs = %v", out)
			}
			if failOnPolicy == "false" {
				if err != nil {
					t.Errorf("err = %v with fail-on-policy false", err)
				}
			} else if !errors.Is(err, action.ErrFailed) || !strings.Contains(err.Error(), "mandatory policy violations") {
				t.Errorf("err = %v, want ErrFailed for the mandatory violation", err)
			}
		})
	}
}

func TestFailedStack(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev", "prod")
	h.changed("Pulumi.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	h.fake.results["dev"] = []*result.Result{{Stack: "dev", Status: result.Failed, Counts: map[result.Op]int{}, Error: "provider exploded\nsecond line"}}
	err := h.run()
	if !errors.Is(err, action.ErrFailed) || !strings.Contains(err.Error(), "stacks failed: dev") {
		t.Fatalf("err = %v", err)
	}
	if len(h.fake.Runs()) != 2 {
		t.Errorf("a failed stack stopped the others: runs %v", h.fake.Runs())
	}
	body := h.comment()
	if !strings.Contains(body, "`dev` — preview failed") || !strings.Contains(body, "`prod` — preview no changes") {
		t.Errorf("comment = %s", body)
	}
	if !strings.Contains(h.stdout.String(), "::error title=dev failed::preview failed: provider exploded\n") {
		t.Errorf("stdout = %s", h.stdout.String())
	}
}

// One stack's bad configuration: its section says what is wrong, the other
// stack still runs and reports, and the run exits 2 (bad input).
func TestInvalidConfigIsolated(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev", "prod")
	h.changed("Pulumi.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	h.fake.invalid["dev"] = config.Errors{{File: h.workspace + "/Pulumi.dev.yaml", Line: 4, Path: "app:kubernetes.namespaces[0].name", Reason: "required"}}
	err := h.run()
	if !errors.Is(err, action.ErrBadInput) || !strings.Contains(err.Error(), "invalid configuration in dev") {
		t.Fatalf("err = %v, want bad input naming dev", err)
	}
	if runs := h.fake.Runs(); len(runs) != 1 || runs[0].Stack != "prod" {
		t.Errorf("runs = %v, want prod only", runs)
	}
	body := h.comment()
	for _, w := range []string{"`dev` — preview invalid configuration", "Pulumi.dev.yaml:4: app:kubernetes.namespaces[0].name: required",
		"`prod` — preview no changes"} {
		if !strings.Contains(body, w) {
			t.Errorf("comment lacks %q:\n%s", w, body)
		}
	}
	if strings.Contains(body, h.workspace) {
		t.Errorf("comment shows the runner's absolute paths:\n%s", body)
	}
	var res map[string]action.StackResult
	if err := json.Unmarshal([]byte(h.outputs()["result"]), &res); err != nil {
		t.Fatal(err)
	}
	if res["dev"].Status != result.Invalid || res["prod"].Status != result.Succeeded {
		t.Errorf("result output = %+v", res)
	}
}

// Every stack's configuration is bad: nothing runs, exit 2 with the errors.
func TestInvalidConfigAll(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev")
	h.changed("Pulumi.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	h.fake.invalid["dev"] = config.Errors{{File: h.workspace + "/Pulumi.dev.yaml", Line: 4, Path: "app:kubernetes.namespaces[0].name", Reason: "required"}}
	err := h.run()
	var ce config.Errors
	if !errors.As(err, &ce) || len(ce) != 1 {
		t.Fatalf("err = %v, want the config errors", err)
	}
	if len(h.fake.Runs()) != 0 {
		t.Errorf("ran with invalid config: %v", h.fake.Runs())
	}
	if body := h.comment(); !strings.Contains(body, "`dev` — preview invalid configuration") {
		t.Errorf("comment = %s", body)
	}
	if s := h.summary(); !strings.Contains(s, "`dev` — preview invalid configuration") {
		t.Errorf("summary = %s", s)
	}
}

// A self-managed backend with the passphrase provider and no passphrase:
// a clear message and exit 2, not a crash.
func TestMissingPassphrase(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev")
	h.env["PULUMI_BACKEND_URL"] = "s3://acme-state"
	delete(h.env, "PULUMI_CONFIG_PASSPHRASE")
	h.changed("Pulumi.dev.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	err := h.run()
	var ce config.Errors
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "PULUMI_CONFIG_PASSPHRASE is not set") {
		t.Fatalf("err = %v", err)
	}
	if len(h.fake.Runs()) != 0 {
		t.Error("ran without the passphrase")
	}
	if !strings.Contains(h.comment(), "PULUMI_CONFIG_PASSPHRASE is not set") {
		t.Errorf("comment = %s", h.comment())
	}

	h2 := newHarness(t, "dev")
	h2.env["PULUMI_BACKEND_URL"] = "https://api.pulumi.com"
	h2.changed("Pulumi.dev.yaml")
	h2.prEvent("opened", headSHA, "acme/platform")
	if err := h2.run(); err == nil || !strings.Contains(err.Error(), "PULUMI_ACCESS_TOKEN is not set") {
		t.Errorf("err = %v", err)
	}
}

// Secret values are masked before anything else is written, and nothing we
// write holds them.
func TestMasking(t *testing.T) {
	t.Parallel()
	const s1, s2 = "hunter2-very-secret", "line-one-secret\nline-two-secret"
	h := newHarness(t, "dev")
	h.changed("Pulumi.dev.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	h.fake.secrets["dev"] = []string{s1, s2}
	h.fake.onRun = func(w io.Writer, _ runner.Request) {
		// Progress, split mid-secret across writes.
		io.WriteString(w, "creating with password hun")
		io.WriteString(w, "ter2-very-secret done\n")
	}
	h.fake.results["dev"] = []*result.Result{{Stack: "dev", Status: result.Failed, Counts: map[result.Op]int{result.OpUpdate: 1},
		Steps: []result.Step{{Op: result.OpUpdate, Type: "pulumi:index:Stash", Name: "stash-x",
			Diffs: []result.PropertyDiff{{Path: "input", Kind: result.Updated, Old: `"old"`, New: `{"p": "` + s1 + `"}`}}}},
		Outputs:     map[string]result.Output{"conn": {Value: `"postgres://u:` + s1 + `@db"`, Raw: "postgres://u:" + s1 + "@db"}, "multi": {Value: fmt.Sprintf("%q", s2), Raw: s2}},
		Diagnostics: []result.Diagnostic{{Severity: "error", Message: "bad value " + s1}},
		Error:       "failed: " + s2,
	}}
	_ = h.run()
	stdout := h.stdout.String()
	lines := strings.Split(stdout, "\n")
	masks := []string{"::add-mask::" + s1, "::add-mask::line-one-secret%0Aline-two-secret", "::add-mask::line-one-secret", "::add-mask::line-two-secret"}
	if len(lines) < len(masks) {
		t.Fatalf("stdout = %s", stdout)
	}
	for _, m := range masks {
		found := false
		for _, l := range lines[:len(masks)] {
			found = found || l == m
		}
		if !found {
			t.Errorf("the first lines of stdout lack %q:\n%s", m, stdout)
		}
	}
	rest := strings.Join(lines[len(masks):], "\n")
	for where, text := range map[string]string{"stdout": rest, "comment": h.comment(), "summary": h.summary(), "outputs": readFile(t, h.env["GITHUB_OUTPUT"])} {
		for _, secret := range []string{s1, "line-one-secret", "line-two-secret", "hunter2"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds %q:\n%s", where, secret, text)
			}
		}
		if where != "outputs" && !strings.Contains(text, "[secret]") {
			t.Errorf("%s shows no [secret]:\n%s", where, text)
		}
	}
	if !strings.Contains(rest, "creating with password [secret] done") {
		t.Errorf("progress not masked in place:\n%s", rest)
	}
}

// Outputs stay one line each whatever a pull request puts in them.
func TestOutputsInjectionSafe(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev")
	h.changed("Pulumi.dev.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	evil := "x\nhas-destroy=true\nresult<<EOF\npwned\nEOF\n"
	h.fake.results["dev"] = []*result.Result{{Stack: "dev", Status: result.Succeeded, Counts: map[result.Op]int{},
		Outputs: map[string]result.Output{"evil": {Value: fmt.Sprintf("%q", evil), Raw: evil}, "evil\nkey": {Value: `"v"`, Raw: "v"}}}}
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	out := h.outputs() // fails on any line that is not name=value
	if out["has-destroy"] != "false" {
		t.Errorf("has-destroy = %q", out["has-destroy"])
	}
	var so map[string]map[string]any
	if err := json.Unmarshal([]byte(out["stack-outputs"]), &so); err != nil {
		t.Fatal(err)
	}
	if so["dev"]["evil"] != evil || so["dev"]["evil\nkey"] != "v" {
		t.Errorf("stack-outputs = %v", so)
	}
}

func TestNothingToDo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ event, file, want string }{
		{"issue_comment", "issue_comment.created.json", `the "issue_comment" event is not one konductor acts on`},
		{"pull_request", "pull_request.closed.json", `pull_request "closed"`},
		{"push", "push.feature.json", "push to feature/x: no stack deploys from it"},
	} {
		t.Run(tc.event, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, "dev")
			h.event(tc.event, readTestdata(t, tc.file))
			if err := h.run(); err != nil {
				t.Fatal(err)
			}
			if h.newRunnerCalls != 0 || len(requests(h.srv)) != 0 {
				t.Errorf("did work: %d runners, GitHub %v", h.newRunnerCalls, requests(h.srv))
			}
			if !strings.Contains(h.stdout.String(), tc.want) || !strings.Contains(h.summary(), "Nothing to do: ") {
				t.Errorf("stdout = %s\nsummary = %s", h.stdout.String(), h.summary())
			}
			if out := h.outputs(); out["has-changes"] != "false" {
				t.Errorf("outputs = %v", out)
			}
		})
	}
}

func TestDriftCheck(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev", "prod")
	h.event("schedule", readTestdata(t, "schedule.json"))
	h.fake.results["prod"] = []*result.Result{{Stack: "prod", Status: result.Succeeded, Counts: map[result.Op]int{result.OpUpdate: 2, result.OpSame: 4}}}
	if err := h.run(); err != nil {
		t.Fatalf("drift must not fail the run: %v", err)
	}
	for _, r := range h.fake.Runs() {
		if r.Operation != result.Preview || !r.Refresh {
			t.Errorf("drift run %+v: want a preview with refresh", r)
		}
	}
	if s := h.stdout.String(); !strings.Contains(s, "::warning title=Drift in prod::stack prod has drifted from its configuration: 2 to update") ||
		strings.Contains(s, "Drift in dev") {
		t.Errorf("stdout = %s", s)
	}
	var res map[string]action.StackResult
	_ = json.Unmarshal([]byte(h.outputs()["result"]), &res)
	if !res["prod"].Drift || res["dev"].Drift {
		t.Errorf("result = %+v", res)
	}
}

// config-file names a konductor.yaml anywhere in the repository: its path
// filters decide what a pull request affects, a change to it affects every
// stack, and each run gets it.
func TestConfigFileElsewhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev", "prod")
	h.file("ci/konductor.yaml", "stacks:\n  dev:\n    paths: [/apps/dev/**]\n  prod:\n    paths: [/apps/prod/**]\n")
	h.file("konductor.yaml", "stacks:\n  dev:\n    paths: [nothing/**]\n") // not the one in use
	h.env["INPUT_CONFIG-FILE"] = "ci/konductor.yaml"
	h.changed("apps/dev/values.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	runs := h.fake.Runs()
	if len(runs) != 1 || runs[0].Stack != "dev" || runs[0].SettingsFile != filepath.Join(h.workspace, "ci", "konductor.yaml") {
		t.Fatalf("runs = %+v, want dev with ci/konductor.yaml", runs)
	}

	h2 := newHarness(t, "dev", "prod")
	h2.file("ci/konductor.yaml", "stacks:\n  dev:\n    paths: [/apps/dev/**]\n  prod:\n    paths: [/apps/prod/**]\n")
	h2.env["INPUT_CONFIG-FILE"] = "ci/konductor.yaml"
	h2.changed("ci/konductor.yaml")
	h2.prEvent("opened", headSHA, "acme/platform")
	if err := h2.run(); err != nil {
		t.Fatal(err)
	}
	if runs := h2.fake.Runs(); len(runs) != 2 {
		t.Errorf("a change to the config file ran %d stacks, want both", len(runs))
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  map[string]string
		want string
	}{
		{"no event", map[string]string{"GITHUB_EVENT_NAME": ""}, "GITHUB_EVENT_NAME is not set"},
		{"bad work dir", map[string]string{"INPUT_WORK-DIR": "nowhere"}, `work-dir "nowhere": no Pulumi.yaml`},
		{"bad command", map[string]string{"INPUT_COMMAND": "deploy"}, `command: "deploy"`},
		{"config-file missing", map[string]string{"INPUT_CONFIG-FILE": "ci/konductor.yaml"}, `config-file "ci/konductor.yaml": no such file or directory (the path is relative to the repository root)`},
		{"unknown stack", map[string]string{"INPUT_STACKS": "qa"}, `no stack "qa" here`},
		{"no token on a PR", map[string]string{"INPUT_GITHUB-TOKEN": ""}, "github-token is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, "dev")
			h.prEvent("opened", headSHA, "acme/platform")
			for k, v := range tc.set {
				h.env[k] = v
			}
			err := h.run()
			if !errors.Is(err, action.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want bad input %q", err, tc.want)
			}
		})
	}
	// konductor.yaml errors are config.Errors (exit 2).
	h := newHarness(t, "dev")
	h.file("konductor.yaml", "stacks:\n  dev:\n    branches: main\n")
	h.prEvent("opened", headSHA, "acme/platform")
	var ce config.Errors
	if err := h.run(); !errors.As(err, &ce) {
		t.Errorf("err = %v, want config.Errors", err)
	}
}

// With no backend configured (no PULUMI_BACKEND_URL, no backend.url, no
// login, no PULUMI_ACCESS_TOKEN), a deploy is refused before anything runs:
// its state would vanish with the runner.
func TestDeployRefusedOnEmbeddedBackend(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "prod")
	delete(h.env, "PULUMI_BACKEND_URL")
	h.file("konductor.yaml", "stacks:\n  prod:\n    branch: main\n")
	h.event("push", readTestdata(t, "push.main.json"))
	err := h.run()
	if !errors.Is(err, action.ErrBadInput) || !errors.Is(err, backend.ErrEmbedded) {
		t.Fatalf("err = %v, want bad input (exit 2) caused by backend.ErrEmbedded", err)
	}
	for _, way := range []string{"PULUMI_BACKEND_URL", "backend.url in Pulumi.yaml", "PULUMI_ACCESS_TOKEN"} {
		if !strings.Contains(err.Error(), way) {
			t.Errorf("the error does not name %s: %v", way, err)
		}
	}
	if runs := h.fake.Runs(); len(runs) != 0 {
		t.Errorf("ran on the embedded backend: %+v", runs)
	}
	if _, err := os.Stat(filepath.Join(h.workspace, ".konductor", "state")); err == nil {
		t.Error("the embedded state dir was created")
	}
}

// A preview on the embedded backend runs, and its section says plainly
// that it ran against empty state; backend.url in Pulumi.yaml is honoured
// like PULUMI_BACKEND_URL (a URL with a credential, never shown).
func TestEmbeddedBackendPreviewSaysSo(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev")
	delete(h.env, "PULUMI_BACKEND_URL")
	h.changed("Pulumi.dev.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	for where, text := range map[string]string{"comment": h.comment(), "summary": h.summary()} {
		if !strings.Contains(text, "No state backend is configured") || !strings.Contains(text, "created empty for this run") {
			t.Errorf("%s does not say the preview ran on empty embedded state:\n%s", where, text)
		}
	}

	h2 := newHarness(t, "dev")
	delete(h2.env, "PULUMI_BACKEND_URL")
	h2.file("Pulumi.yaml", "name: app\nruntime: go\nbackend:\n  url: azblob://state?sig=SasSig-77e1f&region=x\n")
	h2.file("konductor.yaml", "stacks:\n  dev:\n    branch: main\n")
	h2.event("push", readTestdata(t, "push.main.json"))
	delete(h2.env, "INPUT_GITHUB-TOKEN")
	h2.fake.results["dev"] = []*result.Result{{Stack: "dev", Status: result.Succeeded, Counts: map[result.Op]int{}}}
	if err := h2.run(); err != nil {
		t.Fatal(err)
	}
	if runs := h2.fake.Runs(); len(runs) != 1 || runs[0].Operation != result.Up {
		t.Fatalf("runs = %+v", runs)
	}
	log := h2.stdout.String()
	if !strings.Contains(log, "azblob://state?region=x&sig=[secret]") || !strings.Contains(log, "backend.url in Pulumi.yaml") {
		t.Errorf("the log does not name the backend:\n%s", log)
	}
	if !strings.Contains(log, "::add-mask::SasSig-77e1f") {
		t.Errorf("the SAS signature is not masked:\n%s", log)
	}
	rest := strings.ReplaceAll(log, "::add-mask::SasSig-77e1f", "")
	if strings.Contains(rest+h2.summary()+readFile(t, h2.env["GITHUB_OUTPUT"]), "SasSig-77e1f") {
		t.Errorf("the SAS signature was written")
	}
}
