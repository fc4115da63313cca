package action_test

// Tests of bad input: the inputs, the configuration, the config file; exit
// 2 and nothing run.

import (
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/result"
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
		"INPUT_STALE-LOCK-AGE":      "90m",
		// The underscore spelling is not what GitHub sets: ignored.
		"INPUT_GITHUB_TOKEN": "wrong",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := &action.Inputs{Token: "tok", Command: "preview", Stacks: []string{"dev", "prod", "staging"}, WorkDir: "infra",
		CommentOnPR: false, PolicyPacks: []string{"policies/a", "policies/b"}, ConfigFile: "infra/konductor.yaml",
		AllowForkPreviews: true, FailOnPolicy: false, Parallel: 3, StaleLockAge: 90 * time.Minute}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("inputs = %+v\nwant     %+v", in, want)
	}

	in, err = action.ReadInputs(get(map[string]string{"GITHUB_TOKEN": "fallback"}))
	if err != nil {
		t.Fatal(err)
	}
	want = &action.Inputs{Token: "fallback", Command: "auto", WorkDir: ".", CommentOnPR: true, FailOnPolicy: true,
		Parallel: runtime.NumCPU(), StaleLockAge: time.Hour}
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
