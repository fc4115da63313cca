package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/test/stashmod"
)

func registry() *modules.Registry {
	return modules.NewRegistry(stashmod.Module, stashmod.New("downstream", "stash"),
		stashmod.New("loop-a", "loop-b"), stashmod.New("loop-b", "loop-a"))
}

func project(t *testing.T, stackYAML string) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "Pulumi.yaml"), "name: app\nruntime: go\n")
	write(t, filepath.Join(dir, "Pulumi.dev.yaml"), stackYAML)
	return dir
}

func write(t *testing.T, file, s string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadValid(t *testing.T) {
	dir := project(t, `encryptionsalt: v1:abc
config:
  aws:region: us-east-1
  app:labels:
    team: platform
  app:stash:
    enabled: "true"   # as written by pulumi config set --path
    mode: slow
    values: {a: "1", b: 2}
    secret:
      secure: v1:AAAABBBB
  app:downstream:
    enabled: true
`)
	st, err := config.Load(dir, "dev", registry())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(st.ModuleNames(), ","); got != "stash,downstream" {
		t.Errorf("order = %s, want stash,downstream", got)
	}
	c := st.Modules[0].Config.(*stashmod.Config)
	if c.Mode != "slow" || c.Values["b"] != "2" || c.Secret != config.Secret {
		t.Errorf("config = %+v", c)
	}
	if st.Labels["team"] != "platform" {
		t.Errorf("labels = %v", st.Labels)
	}
	if len(st.Secrets) != 1 || st.Secrets[0] != "app:stash.secret" {
		t.Errorf("secrets = %v", st.Secrets)
	}
}

func TestDefaultsAndDisabled(t *testing.T) {
	dir := project(t, "config:\n  app:stash:\n    enabled: true\n  app:downstream:\n    enabled: false\n    values: {x: y}\n")
	st, err := config.Load(dir, "dev", registry())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Modules) != 1 || st.Modules[0].Config.(*stashmod.Config).Mode != "fast" {
		t.Errorf("want only stash with default mode fast, got %+v", st.Modules)
	}
}

// Every bad input names the file, the line, the key path and the reason.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"malformed YAML", "config:\n  app:stash: {enabled: true\n", []string{"Pulumi.dev.yaml", "malformed YAML"}},
		{"unknown key with hint", "config:\n  app:stash:\n    enabled: true\n    valeus: {a: b}\n", []string{"Pulumi.dev.yaml:4", "app:stash.valeus", "unknown key", `did you mean "values"?`}},
		{"wrong type", "config:\n  app:stash:\n    enabled: yes please\n", []string{"Pulumi.dev.yaml:3", "app:stash.enabled", "expected a boolean"}},
		{"wrong type list", "config:\n  app:stash:\n    enabled: true\n    values: [a, b]\n", []string{"app:stash.values", "expected a mapping"}},
		{"bad enum", "config:\n  app:stash:\n    enabled: true\n    mode: turbo\n", []string{"Pulumi.dev.yaml:4", "app:stash.mode", `"turbo" is not one of fast, slow`}},
		{"unknown module", "config:\n  app:stahs:\n    enabled: true\n", []string{"Pulumi.dev.yaml:2", "app:stahs", "unknown module", `did you mean "stash"?`}},
		{"unknown module far", "config:\n  app:zzzzzzzz:\n    enabled: true\n", []string{"app:zzzzzzzz", "unknown module", "known", "downstream", "stash"}},
		{"missing dependency", "config:\n  app:downstream:\n    enabled: true\n", []string{"Pulumi.dev.yaml", "app:downstream", `depends on "stash", which is not enabled`}},
		{"cycle", "config:\n  app:loop-a:\n    enabled: true\n  app:loop-b:\n    enabled: true\n", []string{"dependency cycle", "loop-a -> loop-b -> loop-a"}},
		{"validation", "config:\n  app:stash:\n    enabled: true\n    values: {\"\": x}\n", []string{"app:stash.values", "empty key"}},
		{"module not a mapping", "config:\n  app:stash: true\n", []string{"app:stash", "expected a mapping with enabled"}},
		{"bad compliance", "config:\n  app:compliance:\n    fisma:\n      levle: high\n", []string{"app:compliance.fisma.levle", `did you mean "level"?`}},
		{"bad fisma level", "config:\n  app:compliance:\n    fisma:\n      level: extreme\n", []string{"app:compliance.fisma.level", "not one of low, moderate, high"}},
		{"invalid plain value", "config:\n  app:stash:\n    enabled: true\n    secret: a b\n", []string{"app:stash.secret", "must not contain brackets or spaces"}},
		{"secret where a map is expected", "config:\n  app:stash:\n    enabled: true\n    values:\n      secure: v1:xx\n", []string{"app:stash.values", "encrypted value can only stand where a string"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(project(t, tc.yaml), "dev", registry())
			var ce config.Errors
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want config.Errors", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestMissingFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := config.Load(dir, "dev", registry()); err == nil || !strings.Contains(err.Error(), "Pulumi.yaml: file not found") {
		t.Errorf("err = %v", err)
	}
	write(t, filepath.Join(dir, "Pulumi.yaml"), "name: app\n")
	if _, err := config.Load(dir, "prod", registry()); err == nil || !strings.Contains(err.Error(), "Pulumi.prod.yaml: file not found") {
		t.Errorf("err = %v", err)
	}
}

func TestSettings(t *testing.T) {
	dir := project(t, "config: {}\n")
	write(t, filepath.Join(dir, "konductor.yaml"), "stacks:\n  dev:\n    branch: main\n    paths: [\"infra/**\"]\n    polices: {}\n")
	_, err := config.Load(dir, "dev", registry())
	if err == nil || !strings.Contains(err.Error(), "konductor.yaml:5") || !strings.Contains(err.Error(), `stacks.dev.polices: unknown key (did you mean "policies"?)`) {
		t.Errorf("err = %v", err)
	}
	write(t, filepath.Join(dir, "konductor.yaml"), "stacks:\n  dev:\n    branch: main\n    policies:\n      rules:\n        k8s-no-privileged: {enforcement: advisory}\n")
	st, err := config.Load(dir, "dev", registry())
	if err != nil {
		t.Fatal(err)
	}
	if st.Settings.Stacks["dev"].Policies.Rules["k8s-no-privileged"].Enforcement != "advisory" {
		t.Errorf("settings = %+v", st.Settings)
	}
}

func TestDecodeModule(t *testing.T) {
	// The engine hands config over as JSON, with secrets decrypted.
	cfg, err := config.DecodeModule(stashmod.Module, []byte(`{"enabled":true,"secret":"hunter2","values":{"a":"b"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.(*stashmod.Config); c.Secret != "hunter2" || c.Mode != "fast" {
		t.Errorf("cfg = %+v", c)
	}
	// A secret is validated once decrypted.
	_, err = config.DecodeModule(stashmod.Module, []byte(`{"enabled":true,"secret":"a b"}`))
	if err == nil || !strings.Contains(err.Error(), "must not contain brackets or spaces") {
		t.Errorf("an invalid decrypted secret: err = %v", err)
	}
}
