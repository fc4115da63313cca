package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/test/stashmod"
)

// Bad input never crashes: each case below is an error users can read, not
// a Go fatal error (stack overflow) or a hang. A fatal error exits with
// status 2 like a config error does, so these assert on the message.

// aliasBomb is billion laughs in a provider key the loader otherwise
// ignores: nine levels of ten aliases each, 10^9 nodes expanded.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("config:\n  aws:a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for c := 'b'; c <= 'i'; c++ {
		p := string(c - 1)
		fmt.Fprintf(&b, "  aws:%c: &%c [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", c, c, p, p, p, p, p, p, p, p, p, p)
	}
	return b.String()
}

// deepAliases nests 1,200 levels through a chain of aliases, each line
// shallow.
func deepAliases() string {
	var b strings.Builder
	b.WriteString("config:\n  aws:d0: &d0 [x]\n")
	for i := 1; i <= 1200; i++ {
		fmt.Fprintf(&b, "  aws:d%d: &d%d [*d%d]\n", i, i, i-1)
	}
	return b.String()
}

// oversize is a valid stack file just over config.MaxFileSize.
func oversize() string {
	s := "config:\n  app:stash: {enabled: true}\n"
	return s + "#" + strings.Repeat("x", config.MaxFileSize-len(s)-1) + "\n" // MaxFileSize+1 bytes
}

// within runs f, failing the test if it takes longer than a hang would.
func within(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("still running after 10s: the input hangs the loader")
	}
}

// loadErr loads stack YAML and returns the config error's text.
func loadErr(t *testing.T, stack string) string {
	t.Helper()
	var err error
	within(t, func() { _, err = config.Load(project(t, stack), "dev", registry()) })
	var ce config.Errors
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v (%T), want config.Errors", err, err)
	}
	return err.Error()
}

func wantAll(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("error %q lacks %q", got, w)
		}
	}
}

func TestCyclicAlias(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"provider key", "config:\n  aws:x: &a {b: *a}\n",
			[]string{"Pulumi.dev.yaml:2: aws:x.b: ", "alias *a refers back to its own anchor &a", "cyclic alias"}},
		{"module config", "config:\n  app:stash: &a\n    enabled: true\n    values:\n      x: *a\n",
			[]string{"Pulumi.dev.yaml:5: app:stash.values.x: ", "cyclic alias"}},
		{"through a merge key", "config:\n  app:stash: &a\n    enabled: true\n    <<: *a\n",
			[]string{"Pulumi.dev.yaml:4: app:stash.<<: ", "cyclic alias"}},
		{"in a list", "config:\n  aws:tags: &t [a, [b, *t]]\n",
			[]string{"Pulumi.dev.yaml:2: aws:tags[1][1]: ", "cyclic alias"}},
		{"outside config", "environment: &e {imports: [*e]}\nconfig: {}\n",
			[]string{"Pulumi.dev.yaml:1: environment.imports[0]: ", "cyclic alias"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantAll(t, loadErr(t, tc.yaml), tc.want...)
			// The walk that finds secrets to mask reads the same file.
			var err error
			within(t, func() { _, err = config.SecurePaths([]byte(tc.yaml), "app") })
			var ce config.Errors
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "cyclic alias") {
				t.Errorf("SecurePaths: err = %v, want a cyclic alias config.Errors", err)
			}
		})
	}
	t.Run("konductor.yaml", func(t *testing.T) {
		dir := project(t, "config: {}\n")
		write(t, filepath.Join(dir, "konductor.yaml"), "stacks:\n  dev: &d\n    policies:\n      rules:\n        r: {properties: {p: *d}}\n")
		var err error
		within(t, func() { _, err = config.Load(dir, "dev", registry()) })
		wantAll(t, fmt.Sprint(err), "konductor.yaml:5: stacks.dev.policies.rules.r.properties.p: ", "cyclic alias")
	})
}

func TestAliasBomb(t *testing.T) {
	start := time.Now()
	got := loadErr(t, aliasBomb())
	wantAll(t, got, "Pulumi.dev.yaml:7: aws:f[8]: ", "alias *e takes the file past 1048576 YAML nodes once expanded (an alias bomb?)")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to reject an alias bomb", d)
	}
	var err error
	within(t, func() { _, err = config.SecurePaths([]byte(aliasBomb()), "app") })
	wantAll(t, fmt.Sprint(err), "aws:f[8]: ", "alias bomb")

	// The same in konductor.yaml, where rule properties are free-form.
	dir := project(t, "config: {}\n")
	write(t, filepath.Join(dir, "konductor.yaml"), "policies:\n  rules:\n    r:\n      properties:\n"+
		strings.ReplaceAll(strings.TrimPrefix(aliasBomb(), "config:\n"), "  aws:", "        "))
	within(t, func() { _, err = config.Load(dir, "dev", registry()) })
	wantAll(t, fmt.Sprint(err), "konductor.yaml:10: policies.rules.r.properties.f[8]: ", "alias bomb")
}

func TestDeepNesting(t *testing.T) {
	wantAll(t, loadErr(t, deepAliases()), "Pulumi.dev.yaml:", "nests the file more than 1000 levels deep")
	deep := "config:\n  aws:x: " + strings.Repeat("[", 1500) + strings.Repeat("]", 1500) + "\n"
	wantAll(t, loadErr(t, deep), "Pulumi.dev.yaml:2: aws:x[0][0]", "nested more than 1000 levels deep")
}

func TestOversizeFile(t *testing.T) {
	wantAll(t, loadErr(t, oversize()), "Pulumi.dev.yaml: file is larger than 1048576 bytes (1024 KiB), the limit for a config file")
	if _, err := config.SecurePaths([]byte(oversize()), "app"); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Errorf("SecurePaths: err = %v", err)
	}
	// Exactly at the limit is fine.
	at := oversize()
	at = at[:len(at)-2] + "\n"
	if len(at) != config.MaxFileSize {
		t.Fatalf("len = %d", len(at))
	}
	if _, err := config.Load(project(t, at), "dev", registry()); err != nil {
		t.Errorf("a file of exactly MaxFileSize: %v", err)
	}
	dir := project(t, "config: {}\n")
	write(t, filepath.Join(dir, "konductor.yaml"), "stacks: {}\n#"+strings.Repeat("x", config.MaxFileSize))
	_, err := config.Load(dir, "dev", registry())
	wantAll(t, fmt.Sprint(err), "konductor.yaml: file is larger than")
}

func TestDuplicateKeys(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"map field", "config:\n  app:stash:\n    enabled: true\n    values:\n      a: x\n      a: y\n",
			[]string{"Pulumi.dev.yaml:6: app:stash.values.a: duplicate key, at lines 5 and 6"}},
		{"struct field", "config:\n  app:stash:\n    enabled: true\n    mode: fast\n    mode: slow\n",
			[]string{"Pulumi.dev.yaml:5: app:stash.mode: duplicate key, at lines 4 and 5"}},
		{"repeated config", "config:\n  app:stash: {enabled: true}\nencryptionsalt: v1:x\nconfig:\n  aws:region: us-east-1\n",
			[]string{"Pulumi.dev.yaml:4: config: duplicate key, at lines 1 and 4"}},
		{"module twice", "config:\n  app:stash:\n    enabled: true\n  app:stash:\n    enabled: false\n",
			[]string{"Pulumi.dev.yaml:4: app:stash: duplicate key, at lines 2 and 4"}},
		{"module twice through an alias key", "config:\n  &k app:stash: {enabled: true}\n  *k : {enabled: false}\n",
			[]string{"Pulumi.dev.yaml:3: app:stash: duplicate key, at lines 2 and 3"}},
		{"module bare and namespaced", "config:\n  stash: {enabled: true}\n  app:stash: {enabled: false}\n",
			[]string{"Pulumi.dev.yaml:3: app:stash: duplicate key: given as \"stash\" and \"app:stash\", at lines 2 and 3"}},
		{"merge key twice", "config:\n  app:stash: &s {enabled: true}\n  app:downstream:\n    <<: *s\n    <<: *s\n",
			[]string{"Pulumi.dev.yaml:5: app:downstream.<<: merge key given twice, at lines 4 and 5"}},
		{"provider key", "config:\n  aws:region: us-east-1\n  aws:region: us-west-2\n",
			[]string{"Pulumi.dev.yaml:3: aws:region: duplicate key, at lines 2 and 3"}},
		{"same line", "config:\n  app:stash: {enabled: true, enabled: false}\n",
			[]string{"Pulumi.dev.yaml:2: app:stash.enabled: duplicate key, twice on line 2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantAll(t, loadErr(t, tc.yaml), tc.want...)
		})
	}
	t.Run("konductor.yaml", func(t *testing.T) {
		dir := project(t, "config: {}\n")
		write(t, filepath.Join(dir, "konductor.yaml"), "stacks:\n  dev: {branch: main}\n  dev: {branch: prod}\n")
		_, err := config.Load(dir, "dev", registry())
		wantAll(t, fmt.Sprint(err), "konductor.yaml:3: stacks.dev: duplicate key, at lines 2 and 3")
	})
	t.Run("Pulumi.yaml", func(t *testing.T) {
		dir := project(t, "config: {}\n")
		write(t, filepath.Join(dir, "Pulumi.yaml"), "name: app\nruntime: go\nname: other\n")
		_, err := config.Load(dir, "dev", registry())
		wantAll(t, fmt.Sprint(err), "Pulumi.yaml:3: name: duplicate key, at lines 1 and 3")
	})
}

// Merge keys work as users write them: keys written in the mapping win over
// merged ones, and of merged mappings the earlier wins; neither is a
// duplicate.
func TestMergeKeys(t *testing.T) {
	dir := project(t, `config:
  app:labels: &labels
    team: platform
  app:stash: &stash
    enabled: true
    mode: slow
    values: {a: "1"}
    secret:
      secure: v1:AAAA
  app:downstream:
    <<: [{mode: fast, values: {b: "2"}}, *stash]
    slow_seconds: 3
  aws:tags:
    <<: *labels
    env: dev
`)
	st, err := config.Load(dir, "dev", registry())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(st.ModuleNames(), ","); got != "stash,downstream" {
		t.Fatalf("modules = %s, want stash,downstream (downstream enabled through the merge)", got)
	}
	want := &stashmod.Config{Mode: "fast", Values: map[string]string{"b": "2"}, Secret: config.Secret, SlowSeconds: 3}
	if got := st.Modules[1].Config.(*stashmod.Config); !reflect.DeepEqual(got, want) {
		t.Errorf("downstream config = %+v, want %+v", got, want)
	}
	if got := strings.Join(st.Secrets, ","); got != "app:stash.secret,app:downstream.secret" {
		t.Errorf("secrets = %s", got)
	}
	ps, err := config.SecurePaths([]byte(readFile(t, filepath.Join(dir, "Pulumi.dev.yaml"))), "app")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ps); got != "[{app:stash [secret]} {app:downstream [secret]}]" {
		t.Errorf("SecurePaths = %s", got)
	}

	t.Run("explicit key wins", func(t *testing.T) {
		st, err := config.Load(project(t, "config:\n  app:stash: &s {enabled: true, mode: slow}\n  app:downstream:\n    enabled: false\n    <<: *s\n"), "dev", registry())
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(st.ModuleNames(), ","); got != "stash" {
			t.Errorf("modules = %s, want stash (downstream's own enabled: false wins)", got)
		}
	})
	t.Run("error in merged config names its line", func(t *testing.T) {
		got := loadErr(t, "config:\n  app:stash: {enabled: true}\n  app:downstream:\n    <<: &d {enabled: true, mode: turbo}\n")
		wantAll(t, got, "Pulumi.dev.yaml:4: app:downstream.mode: \"turbo\" is not one of fast, slow")
	})
	t.Run("merge of a scalar", func(t *testing.T) {
		got := loadErr(t, "config:\n  app:stash:\n    <<: 3\n    enabled: true\n")
		wantAll(t, got, "Pulumi.dev.yaml:3: app:stash.<<: a merge key (<<) takes a mapping or a list of mappings")
	})
	t.Run("konductor.yaml", func(t *testing.T) {
		dir := project(t, "config: {}\n")
		write(t, filepath.Join(dir, "konductor.yaml"), "stacks:\n  dev: &dev\n    branch: main\n    paths: [\"infra/**\"]\n  prod:\n    <<: *dev\n    branch: release\n")
		st, err := config.Load(dir, "dev", registry())
		if err != nil {
			t.Fatal(err)
		}
		if p := st.Settings.Stacks["prod"]; p.Branch != "release" || len(p.Paths) != 1 || p.Paths[0] != "infra/**" {
			t.Errorf("prod = %+v", p)
		}
	})
}

func TestSecurePaths(t *testing.T) {
	doc := `config:
  aws:secretKey:
    secure: v1:a
  app:stash:
    enabled: true
    secret: {secure: v1:b}
    values:
      - plain
      - secure: v1:c
  stash2: &s
    x: {secure: v1:d}
  aws:copy: *s
`
	ps, err := config.SecurePaths([]byte(doc), "app")
	if err != nil {
		t.Fatal(err)
	}
	want := "[{aws:secretKey []} {app:stash [secret]} {app:stash [values 1]} {app:stash2 [x]} {aws:copy [x]}]"
	if got := fmt.Sprint(ps); got != want {
		t.Errorf("SecurePaths = %s, want %s", got, want)
	}
	for _, bad := range []string{"config: {a: [}\n", "config:\n  aws:x: 1\n  aws:x: 2\n"} {
		_, err := config.SecurePaths([]byte(bad), "app")
		var ce config.Errors
		if !errors.As(err, &ce) {
			t.Errorf("%q: err = %v, want config.Errors", bad, err)
		}
	}
}

func readFile(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
