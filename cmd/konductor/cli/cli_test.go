package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Bad input exits 2 with the file, key and reason, before any engine starts
// (no Pulumi CLI is configured here: reaching the engine would fail
// differently).
func TestBadInputExitsTwo(t *testing.T) {
	t.Setenv("KONDUCTOR_PULUMI_ROOT", "/nonexistent")
	cases := []struct {
		name  string
		stack string
		args  []string
		want  []string
	}{
		{"unknown module", "config:\n  platform:kubernets:\n    enabled: true\n", []string{"preview"}, []string{"Pulumi.dev.yaml:2", "platform:kubernets", `did you mean "kubernetes"?`, "nothing was run"}},
		{"unknown key", "config:\n  platform:kubernetes:\n    enabled: true\n    namespace: [a]\n", []string{"up"}, []string{"Pulumi.dev.yaml:4", "platform:kubernetes.namespace", `did you mean "namespaces"?`}},
		{"wrong type", "config:\n  platform:kubernetes:\n    enabled: true\n    namespaces: {a: b}\n", []string{"destroy"}, []string{"platform:kubernetes.namespaces", "expected a list"}},
		{"missing required", "config:\n  platform:kubernetes:\n    enabled: true\n    namespaces: [{labels: {a: b}}]\n", []string{"validate"}, []string{"platform:kubernetes.namespaces[0].name", "required"}},
		{"malformed", "config:\n  platform:kubernetes: [\n", []string{"preview"}, []string{"Pulumi.dev.yaml", "malformed YAML"}},
		{"no stack flag", "config: {}\n", []string{"preview", "--stack="}, []string{"--stack is required"}},
		{"bad flag", "config: {}\n", []string{"preview", "--nope"}, []string{"unknown flag"}},
		{"config file missing", "config: {}\n", []string{"validate", "--config-file", "ci/konductor.yaml"}, []string{"ci/konductor.yaml", "file not found"}},
		{"cancel: bad age", "config: {}\n", []string{"cancel", "--older-than", "soon"}, []string{"--older-than", `"soon" is not a lock age`}},
		{"cancel: invalid config", "config:\n  platform:kubernets:\n    enabled: true\n", []string{"cancel"}, []string{"Pulumi.dev.yaml:2", "platform:kubernets"}},
		{"bad key in config file", "config: {}\n", []string{"validate", "--config-file", "__dir__/ci.yaml"}, []string{"ci.yaml:3", "stacks.dev.branchs", `did you mean "branch"?`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: platform\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "Pulumi.dev.yaml"), []byte(tc.stack), 0o644)
			os.WriteFile(filepath.Join(dir, "ci.yaml"), []byte("stacks:\n  dev:\n    branchs: main\n"), 0o644)
			var out, errb bytes.Buffer
			var args []string
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "__dir__", dir))
			}
			args = append(args, "--cwd", dir)
			if !strings.HasPrefix(strings.Join(tc.args, " "), "preview --stack") {
				args = append(args, "--stack", "dev")
			}
			code := Main(args, &out, &errb)
			if code != ExitBadInput {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, ExitBadInput, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			if out.Len() != 0 {
				t.Errorf("stdout should be empty on bad input, got %q", out.String())
			}
		})
	}
}

func TestModulesListing(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"modules"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, w := range []string{"kubernetes —", "namespaces[].name", "render_dir", "aws —", "azure —"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("modules output lacks %q:\n%s", w, out.String())
		}
	}
}

// `konductor version` names the build (set by the Makefile's ldflags).
func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"version"}, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := out.String(); !strings.HasPrefix(got, "konductor ") || !strings.Contains(got, runtime.Version()) {
		t.Errorf("version = %q", got)
	}
}
