package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/test/testenv"
)

func project(t *testing.T, stacks map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	testenv.Write(t, filepath.Join(dir, "Pulumi.yaml"), "name: platform\nruntime: go\n")
	for name, cfg := range stacks {
		testenv.Write(t, filepath.Join(dir, "Pulumi."+name+".yaml"), cfg)
	}
	return dir
}

func renderStack(name string) string {
	return "config:\n  platform:kubernetes:\n    enabled: true\n    render_dir: rendered/" + name + "\n    namespaces:\n      - name: apps-" + name + "\n"
}

// Several stacks: one invalid stops them all before anything runs (exit 2),
// and flags that contradict each other are refused.
func TestManyStacksBadInput(t *testing.T) {
	t.Setenv("KONDUCTOR_PULUMI_ROOT", "/nonexistent")
	dir := project(t, map[string]string{"dev": renderStack("dev"), "prod": "config:\n  platform:kubernetes:\n    enabled: true\n    namespaces: [{labels: {a: b}}]\n"})
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"preview", "--all"}, []string{"invalid configuration (nothing was run)", "Pulumi.prod.yaml", "namespaces[0].name"}},
		{[]string{"up", "--stack", "dev", "--stack", "prod"}, []string{"nothing was run", "Pulumi.prod.yaml"}},
		{[]string{"preview", "--stack", "dev", "--all"}, []string{"--all and --stack: use one"}},
		{[]string{"preview", "--all", "--parallel", "0"}, []string{"--parallel 0"}},
	} {
		var out, errb bytes.Buffer
		if code := Main(append(tc.args, "--cwd", dir), &out, &errb); code != ExitBadInput {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, ExitBadInput, errb.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("%v: stderr lacks %q:\n%s", tc.args, w, errb.String())
			}
		}
	}
}

// `konductor preview --all` previews every stack side by side on the real
// engine and prints their reports in stack order, with each line of the
// engine's progress (--verbose) marked with its stack.
func TestPreviewAllStacks(t *testing.T) {
	testenv.PluginPath(t)
	testenv.PulumiRoot(t)
	t.Setenv("PULUMI_HOME", t.TempDir())
	t.Setenv("PULUMI_BACKEND_URL", "")
	dir := project(t, map[string]string{"prod": renderStack("prod"), "dev": renderStack("dev"), "qa": renderStack("qa")})
	var out, errb bytes.Buffer
	if code := Main([]string{"preview", "--all", "--parallel", "3", "--cwd", dir, "--verbose"}, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	text := out.String()
	dev, prod, qa := strings.Index(text, "`dev` — preview has changes"), strings.Index(text, "`prod` — preview has changes"), strings.Index(text, "`qa` — preview has changes")
	if dev < 0 || prod < 0 || qa < 0 || !(dev < prod && prod < qa) {
		t.Errorf("reports missing or out of order (dev %d, prod %d, qa %d):\n%s", dev, prod, qa, text)
	}
	for _, s := range []string{"dev", "prod", "qa"} {
		if !strings.Contains(errb.String(), "["+s+"] ") {
			t.Errorf("no progress line marked [%s]:\n%s", s, errb.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "rendered")); err == nil {
		t.Errorf("a preview rendered manifests")
	}
}

// The CLI checks the backend's secrets provider before the engine starts,
// as the action does: exit 2 and the fix.
func TestPreflightMissingPassphrase(t *testing.T) {
	dir := t.TempDir()
	testenv.Write(t, filepath.Join(dir, "Pulumi.yaml"), "name: app\nruntime: go\nbackend:\n  url: s3://acme-state\n")
	testenv.Write(t, filepath.Join(dir, "Pulumi.dev.yaml"), "config: {}\n")
	t.Setenv("PULUMI_BACKEND_URL", "")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE", "")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE_FILE", "")
	t.Setenv("KONDUCTOR_PULUMI_ROOT", "/nonexistent") // reaching the engine would fail otherwise
	var out, errb bytes.Buffer
	code := Main([]string{"preview", "--stack", "dev", "--cwd", dir}, &out, &errb)
	if code != ExitBadInput || !strings.Contains(errb.String(), "PULUMI_CONFIG_PASSPHRASE is not set") || !strings.Contains(errb.String(), "s3://") {
		t.Errorf("exit %d, stderr:\n%s", code, errb.String())
	}
}
