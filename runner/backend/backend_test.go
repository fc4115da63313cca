package backend_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner/backend"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func write(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The order is the Pulumi CLI's: the variable, the project's backend.url,
// the current login, Pulumi Cloud with a token; only then the embedded one.
func TestResolveOrder(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	write(t, filepath.Join(dir, "Pulumi.yaml"), "name: app\nruntime: go\n")
	e := map[string]string{"HOME": home}

	check := func(want backend.Source, wantURL string) {
		t.Helper()
		b, err := backend.Resolve(dir, env(e))
		if err != nil {
			t.Fatal(err)
		}
		if b.Source != want || b.URL != wantURL {
			t.Errorf("Resolve = %q from %s, want %q from %s", b.URL, b.Source, wantURL, want)
		}
	}
	check(backend.FromEmbedded, "file://"+filepath.Join(dir, backend.StateDir))

	e["PULUMI_ACCESS_TOKEN"] = "pul-xyz"
	check(backend.FromToken, backend.CloudURL)
	e["PULUMI_API"] = "https://pulumi.example.com"
	check(backend.FromToken, "https://pulumi.example.com")

	write(t, filepath.Join(home, ".pulumi", "credentials.json"), `{"current": "s3://from-login", "accessTokens": {}}`)
	check(backend.FromLogin, "s3://from-login")
	// PULUMI_HOME moves the login, as for the CLI.
	e["PULUMI_HOME"] = t.TempDir()
	check(backend.FromToken, "https://pulumi.example.com")
	write(t, filepath.Join(e["PULUMI_HOME"], "credentials.json"), `{"current": "gs://other-login"}`)
	check(backend.FromLogin, "gs://other-login")

	write(t, filepath.Join(dir, "Pulumi.yaml"), "name: app\nruntime: go\nbackend:\n  url: azblob://from-project\n")
	check(backend.FromProject, "azblob://from-project")

	e["PULUMI_BACKEND_URL"] = "s3://from-env"
	check(backend.FromEnv, "s3://from-env")
}

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"s3://bucket?region=us-east-1&endpoint=http://127.0.0.1:9000", "s3://bucket?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=us-east-1"},
		{"azblob://state?sv=2022-11-02&sig=abcSIGdef%3D&se=2030", "azblob://state?se=[secret]&sig=[secret]&sv=[secret]"},
		{"https://user:hunter2pw@pulumi.example.com/api", "https://[secret]@pulumi.example.com/api"},
		{"file:///tmp/state", "file:///tmp/state"},
	} {
		got := backend.Redact(c.in)
		if got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
		for _, s := range backend.Secrets(c.in) {
			if strings.Contains(got, s) {
				t.Errorf("Redact(%q) = %q still shows %q", c.in, got, s)
			}
		}
	}
	if s := backend.Secrets("azblob://state?sig=abcSIGdef&region=x"); len(s) != 1 || s[0] != "abcSIGdef" {
		t.Errorf("Secrets = %q", s)
	}
}

// In a workflow the embedded backend serves a preview and nothing else.
func TestCheckWorkflow(t *testing.T) {
	emb := backend.Backend{URL: "file:///w/.konductor/state", Source: backend.FromEmbedded}
	if err := emb.CheckWorkflow("preview", false); err != nil {
		t.Errorf("preview refused: %v", err)
	}
	for _, c := range []struct {
		op    string
		drift bool
	}{{"up", false}, {"destroy", false}, {"refresh", false}, {"preview", true}} {
		err := emb.CheckWorkflow(c.op, c.drift)
		if !errors.Is(err, backend.ErrEmbedded) {
			t.Fatalf("%s (drift %v): %v", c.op, c.drift, err)
		}
		for _, way := range []string{"PULUMI_BACKEND_URL", "backend.url in Pulumi.yaml", "PULUMI_ACCESS_TOKEN"} {
			if !strings.Contains(err.Error(), way) {
				t.Errorf("%s: %q does not name %s", c.op, err, way)
			}
		}
	}
	real := backend.Backend{URL: "s3://b", Source: backend.FromEnv}
	if err := real.CheckWorkflow("up", false); err != nil {
		t.Errorf("up on s3: %v", err)
	}
}
