package action_test

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/test/stashmod"
	"github.com/containercraft/konductor-action/test/testenv"
)

// engineHarness is a harness whose runner is the real one (pinned CLI, file
// backend under the work dir) with the stash test module.
func engineHarness(t *testing.T, stackYAML string) (*harness, func(string) string) {
	t.Helper()
	h := newHarness(t)
	h.file("Pulumi.dev.yaml", stackYAML)
	state := filepath.Join(h.workspace, engine.LocalStateDir)
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	extra := map[string]string{"PULUMI_BACKEND_URL": "file://" + state}
	environ := testenv.Environ(t, extra)
	getenv := testenv.Getenv(environ)
	// The action process and the engine share one environment in a run.
	for _, k := range []string{"PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"} {
		h.env[k] = getenv(k)
	}
	h.newRunner = func(progress io.Writer) (action.Runner, error) {
		eng, err := engine.New(engine.Options{Environ: environ, Progress: progress})
		if err != nil {
			return nil, err
		}
		return &runner.Runner{Registry: modules.NewRegistry(stashmod.Module), Engine: eng, Getenv: getenv}, nil
	}
	testenv.Pulumi(t, h.workspace, getenv, "stack", "init", "dev")
	return h, getenv
}

// Secrets from stack config reach resources as Pulumi secrets, so the
// engine encrypts them in state; none of them may appear in anything the
// action writes.
func TestEngineSecretsNeverWritten(t *testing.T) {
	t.Parallel()
	const (
		configSecret = "cfg-S3cr3t-9f2c1e"          // encrypted in Pulumi.dev.yaml, flows into a Stash input
		pulumiSecret = "pulumi-secret-7d41aa"       // encrypted, made a Pulumi secret by the module
		outputSecret = "output-secret-c0ffee-beef1" // encrypted, exported as a plain stack output value
	)
	h, getenv := engineHarness(t, "config:\n  app:stash:\n    enabled: true\n    values:\n      color: blue\n")
	testenv.Pulumi(t, h.workspace, getenv, "config", "set", "--secret", "--path", "stash.values.token", configSecret)
	testenv.Pulumi(t, h.workspace, getenv, "config", "set", "--secret", "--path", "stash.secret", pulumiSecret)
	testenv.Pulumi(t, h.workspace, getenv, "config", "set", "--secret", "--path", "stash.values.dsn", outputSecret)
	stackFile := readFile(t, filepath.Join(h.workspace, "Pulumi.dev.yaml"))
	if strings.Contains(stackFile, configSecret) || !strings.Contains(stackFile, "secure:") {
		t.Fatalf("the stack file does not hold the secrets encrypted:\n%s", stackFile)
	}

	// A pull request previews the stack; a manual run deploys it.
	h.changed("Pulumi.dev.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	if err := h.run(); err != nil {
		t.Fatalf("preview: %v\n%s", err, h.stdout.String())
	}
	firstRun := len(h.stdout.String())
	h.env["INPUT_COMMAND"] = "up"
	h.event("workflow_dispatch", readTestdata(t, "workflow_dispatch.json"))
	if err := h.run(); err != nil {
		t.Fatalf("up: %v\n%s", err, h.stdout.String())
	}

	body := h.comment()
	if !strings.Contains(body, "`dev` — preview has changes") || !strings.Contains(body, "[secret]") {
		t.Errorf("comment:\n%s", body)
	}
	// Each run masks the three values before it writes anything else.
	stdout := h.stdout.String()
	var rest []string
	for _, run := range []string{stdout[:firstRun], stdout[firstRun:]} {
		lines := strings.Split(run, "\n")
		for i, l := range lines {
			if (i < 3) != strings.HasPrefix(l, "::add-mask::") {
				t.Fatalf("a run's output does not start with exactly three masks:\n%s", run)
			}
		}
		rest = append(rest, lines[3:]...)
	}
	everything := map[string]string{
		"comment": body, "summary": h.summary(), "outputs": readFile(t, h.env["GITHUB_OUTPUT"]),
		"stdout (but the masks)": strings.Join(rest, "\n"),
	}
	for where, text := range everything {
		for _, s := range []string{configSecret, pulumiSecret, outputSecret} {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the secret %q", where, s)
			}
		}
	}
	out := h.outputs()
	var so map[string]map[string]any
	if err := json.Unmarshal([]byte(out["stack-outputs"]), &so); err != nil {
		t.Fatalf("stack-outputs %q: %v", out["stack-outputs"], err)
	}
	// The stash output holds secrets: it is left out.
	if _, ok := so["dev"]["stash"]; ok {
		t.Errorf("stack-outputs hold a secret output: %s", out["stack-outputs"])
	}

	// The state holds every config secret encrypted: no byte of the state
	// file or of `pulumi stack export` is a plain value.
	state, _ := filepath.Glob(filepath.Join(h.workspace, engine.LocalStateDir, ".pulumi", "stacks", "app", "dev.json"))
	if len(state) != 1 {
		t.Fatalf("no state file: %v", state)
	}
	export := testenv.Pulumi(t, h.workspace, getenv, "stack", "export", "--stack", "dev")
	for where, text := range map[string]string{"the state file": readFile(t, state[0]), "pulumi stack export": export} {
		for _, s := range []string{configSecret, pulumiSecret, outputSecret} {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the secret %q in clear", where, s)
			}
		}
	}
	// Not vacuous: the resources got the values (decrypted, state has them).
	shown := testenv.Pulumi(t, h.workspace, getenv, "stack", "export", "--stack", "dev", "--show-secrets")
	for _, s := range []string{configSecret, pulumiSecret, outputSecret} {
		if !strings.Contains(shown, s) {
			t.Errorf("the deployed stack lacks %q", s)
		}
	}
}

// A deploy waits for a stack locked by another update (the real file
// backend lock) and goes ahead once it is released.
func TestEngineWaitsForLock(t *testing.T) {
	t.Parallel()
	h, _ := engineHarness(t, "config:\n  app:stash:\n    enabled: true\n    values:\n      color: blue\n")
	h.file("konductor.yaml", "stacks:\n  dev:\n    branch: main\n")
	h.event("push", readTestdata(t, "push.main.json"))

	lockDir := filepath.Join(h.workspace, engine.LocalStateDir, ".pulumi", "locks", "organization", "app", "dev")
	lock := filepath.Join(lockDir, "0a0b0c0d-0000-4000-8000-000000000001.json")
	testenv.Write(t, lock, `{"pid":4242,"username":"other","hostname":"runner-2","timestamp":"2026-01-01T00:00:00Z"}`)
	h.clock.OnSleep = func(n int) {
		if n == 2 {
			_ = os.Remove(lock) // the other update ends
		}
	}
	if err := h.run(); err != nil {
		t.Fatalf("up: %v\n%s", err, h.stdout.String())
	}
	if got := h.clock.Sleeps(); len(got) != 2 || got[0] != 5*time.Second || got[1] != 10*time.Second {
		t.Errorf("waits = %v, want 5s then 10s", got)
	}
	if s := h.stdout.String(); !strings.Contains(s, "stack dev is locked by other@runner-2 (pid 4242) since 2026-01-01T00:00:00Z") ||
		!strings.Contains(s, "retrying in 5s (waiting up to 2m0s)") {
		t.Errorf("stdout:\n%s", s)
	}
	if s := h.summary(); !strings.Contains(s, "`dev` — up succeeded") {
		t.Errorf("summary:\n%s", s)
	}
}
