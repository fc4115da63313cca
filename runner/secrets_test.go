package runner_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/report"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/testenv"
)

// A value set with `pulumi config set --secret` stays a secret all the way:
// the kubernetes provider (render mode) writes the real value into the
// manifest, while the state file, `pulumi stack export` and the preview
// hold only ciphertext or [secret].
func TestConfigSecretsStayEncrypted(t *testing.T) {
	t.Parallel()
	const (
		annotation = "tok-Annot-8c1d2e7f" // a whole leaf
		embedded   = "pw-In-A-Label-44f1" // a label value
	)
	dir := testenv.Project(t, "platform", "dev", `config:
  platform:kubernetes:
    enabled: true
    render_dir: rendered
    namespaces:
      - name: team-a
        labels:
          tier: web
        annotations:
          owner: team-a@example.com
`)
	r := newKubeRunner(t)
	getenv := r.Getenv
	state := filepath.Join(dir, engine.LocalStateDir)
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "PULUMI_BACKEND_URL" {
			return "file://" + state
		}
		return getenv(k)
	}
	testenv.Pulumi(t, dir, env, "stack", "init", "dev")
	testenv.Pulumi(t, dir, env, "config", "set", "--secret", "--path", "kubernetes.namespaces[0].annotations.token", annotation)
	testenv.Pulumi(t, dir, env, "config", "set", "--secret", "--path", "kubernetes.namespaces[0].labels.secret-tier", embedded)
	if b, _ := os.ReadFile(filepath.Join(dir, "Pulumi.dev.yaml")); strings.Contains(string(b), annotation) {
		t.Fatalf("the stack file holds the secret in clear:\n%s", b)
	}

	pre := runOp(t, r, dir, result.Preview)
	md := report.Markdown(pre, report.Options{})
	if strings.Contains(md, annotation) || strings.Contains(md, embedded) {
		t.Errorf("the preview shows a secret:\n%s", md)
	}
	runOp(t, r, dir, result.Up)

	// The provider got the real values.
	objs := readManifests(t, filepath.Join(dir, "rendered"))
	ns, ok := objs[key("Namespace", "", "team-a")]
	if !ok {
		t.Fatalf("no team-a namespace rendered: %v", objs)
	}
	if ns.Metadata.Annotations["token"] != annotation || ns.Metadata.Labels["secret-tier"] != embedded {
		t.Errorf("rendered namespace metadata: labels %v annotations %v", ns.Metadata.Labels, ns.Metadata.Annotations)
	}
	// Not a byte of state holds them.
	n := 0
	err := filepath.WalkDir(state, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		for _, s := range []string{annotation, embedded} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds the secret %q in clear", p, s)
			}
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("reading the state (%d files): %v", n, err)
	}
	export := testenv.Pulumi(t, dir, env, "stack", "export", "--stack", "dev")
	if !strings.Contains(export, "team-a") || !strings.Contains(export, "ciphertext") {
		t.Errorf("stack export has no namespace or no ciphertext:\n%.2000s", export)
	}
	for _, s := range []string{annotation, embedded} {
		if strings.Contains(export, s) {
			t.Errorf("pulumi stack export shows %q", s)
		}
	}
	// Not vacuous: decrypted, the state holds them.
	shown := testenv.Pulumi(t, dir, env, "stack", "export", "--stack", "dev", "--show-secrets")
	if !strings.Contains(shown, annotation) || !strings.Contains(shown, embedded) {
		t.Errorf("the decrypted state lacks the values:\n%.2000s", shown)
	}
}
