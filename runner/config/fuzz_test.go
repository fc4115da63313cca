package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/runner/config"
)

// badSeeds are the inputs that once crashed, hung or were misread: a cyclic
// alias, an alias bomb, deep nesting, an oversize file, duplicate keys and
// merge keys. The fuzz targets start from them (and plain go test runs them).
func badSeeds() []string {
	return []string{
		"config:\n  aws:x: &a {b: *a}\n",
		"config:\n  app:stash: &a\n    enabled: true\n    values:\n      x: *a\n",
		"config:\n  app:stash: &a {enabled: true, <<: *a}\n",
		"a: &a [*a]\n", "&a [*a]\n", "&a {*a : 1}\n",
		aliasBomb(), deepAliases(), oversize(),
		"config:\n  aws:x: " + strings.Repeat("[", 1500) + strings.Repeat("]", 1500) + "\n",
		"config:\n  app:stash:\n    enabled: true\n    values:\n      a: x\n      a: y\n",
		"config:\n  app:stash: {enabled: true}\nconfig:\n  aws:region: us-east-1\n",
		"config:\n  &k app:stash: {enabled: true}\n  *k : {enabled: false}\n",
		"config:\n  stash: {enabled: true}\n  app:stash: {enabled: false}\n",
		"config:\n  app:stash: &s {enabled: true, secret: {secure: v1:x}}\n  app:downstream:\n    <<: *s\n    <<: *s\n",
		"config:\n  app:stash: &s {enabled: true, mode: slow}\n  app:downstream: {<<: [{mode: fast}, *s], values: {a: b}}\n",
		"config:\n  app:stash: {<<: 3, enabled: true}\n",
		"stacks:\n  dev: &d {branch: main, paths: [a]}\n  prod: {<<: *d, branch: prod}\npolicies: {rules: {r: {properties: {p: *d}}}}\n",
	}
}

// wantConfigErrors fails unless err is the config error users are shown.
func wantConfigErrors(t *testing.T, err error, withFile bool) {
	t.Helper()
	var ce config.Errors
	if !errors.As(err, &ce) || len(ce) == 0 {
		t.Fatalf("err = %v (%T), want config.Errors", err, err)
	}
	for _, e := range ce {
		if e.Reason == "" || (withFile && e.File == "") {
			t.Fatalf("error %q lacks a file or reason", e)
		}
	}
}

// quickly runs f and fails when one input takes long: the limits bound
// the work, so a slow input is a hole in them.
func quickly(t *testing.T, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

// FuzzLoad feeds arbitrary stack files to the loader: it must return a
// stack or config.Errors, never panic, overflow the stack or hang; and the
// secrets it finds are among the ones the secret walk finds.
func FuzzLoad(f *testing.F) {
	seeds := []string{
		"config:\n  app:stash:\n    enabled: true\n    values: {a: b}\n",
		"config:\n  app:stash: {enabled: true, secret: {secure: v1:x}}\n",
		"config:\n  app:compliance: {fisma: {level: high}, nist: {controls: [a]}}\n",
		"config: [1, 2]\n", "- a\n- b\n", "config:\n  app:stash: &a {enabled: *a}\n", "",
		"config:\n  app:labels: {a: [b]}\n", "config:\n  app:downstream: {enabled: true}\n",
	}
	for _, s := range append(seeds, badSeeds()...) {
		f.Add(s)
	}
	reg := registry()
	f.Fuzz(func(t *testing.T, stack string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: app\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "Pulumi.dev.yaml"), []byte(stack), 0o644); err != nil {
			t.Fatal(err)
		}
		var st *config.Stack
		var err error
		quickly(t, func() { st, err = config.Load(dir, "dev", reg) })
		if err != nil {
			wantConfigErrors(t, err, true)
			return
		}
		if st == nil {
			t.Fatal("nil stack without error")
		}
		for _, m := range st.Modules {
			if m.Config == nil {
				t.Fatalf("module %s has no config", m.Module.Name())
			}
		}
		// A file the loader accepts is one the secret walk reads, and every
		// encrypted value the loader saw is one it masks.
		var ps []config.SecurePath
		quickly(t, func() { ps, err = config.SecurePaths([]byte(stack), "app") })
		if err != nil {
			t.Fatalf("Load accepted the file, SecurePaths: %v", err)
		}
		var found []string
		for _, p := range ps {
			found = append(found, securePathString(p))
		}
		for _, s := range st.Secrets {
			if !slices.Contains(found, s) {
				t.Fatalf("the loader saw secret %s, SecurePaths found only %v", s, found)
			}
		}
	})
}

// securePathString writes p as the decoder writes key paths.
func securePathString(p config.SecurePath) string {
	s := p.Key
	for _, seg := range p.Path {
		if i, ok := seg.(int); ok {
			s += fmt.Sprintf("[%d]", i)
		} else {
			s += "." + seg.(string)
		}
	}
	return s
}

// FuzzSecurePaths feeds arbitrary stack files to the walk that finds the
// secrets to mask: paths or config.Errors, never a crash or a hang.
func FuzzSecurePaths(f *testing.F) {
	seeds := []string{
		"config:\n  aws:secretKey:\n    secure: v1:a\n  app:stash:\n    values: [plain, {secure: v1:c}]\n",
		"config:\n  stash2: &s {x: {secure: v1:d}}\n  aws:copy: *s\n", "config: ~\n", "",
	}
	for _, s := range append(seeds, badSeeds()...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var ps []config.SecurePath
		var err error
		quickly(t, func() { ps, err = config.SecurePaths([]byte(doc), "app") })
		if err != nil {
			wantConfigErrors(t, err, false)
			return
		}
		for _, p := range ps {
			if !strings.Contains(p.Key, ":") {
				t.Fatalf("key %q has no namespace", p.Key)
			}
			for _, seg := range p.Path {
				switch seg.(type) {
				case string, int:
				default:
					t.Fatalf("path %v holds a %T", p.Path, seg)
				}
			}
		}
	})
}

// FuzzLoadSettings feeds arbitrary konductor.yaml files to its loader:
// settings or config.Errors, never a crash or a hang.
func FuzzLoadSettings(f *testing.F) {
	seeds := []string{
		"stacks:\n  dev:\n    branch: main\n    paths: [\"infra/**\"]\n    policies:\n      rules:\n        r: {enforcement: advisory, properties: {a: [1]}}\n",
		"policies: {baseline: false, packs: [./p]}\n", "stacks: []\n", "",
	}
	for _, s := range append(seeds, badSeeds()...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, config.SettingsFile), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		var s *config.Settings
		var err error
		quickly(t, func() { s, err = config.LoadSettings(dir) })
		if err != nil {
			wantConfigErrors(t, err, true)
			return
		}
		if s == nil {
			t.Fatal("nil settings without error")
		}
	})
}
