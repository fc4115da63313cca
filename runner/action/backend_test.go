package action_test

// Tests of the state backend a run uses: resolved, checked before anything
// runs, and said plainly when it is the embedded one.

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/backend"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/result"
)

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
