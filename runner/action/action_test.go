package action_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

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
