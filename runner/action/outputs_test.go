package action_test

// Tests of what a run writes: masked everywhere, outputs one line each.

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/result"
)

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
