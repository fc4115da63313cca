package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/containercraft/konductor-action/runner/config"
)

// FuzzLoad feeds arbitrary stack files to the loader: it must return a
// stack or an error, never panic.
func FuzzLoad(f *testing.F) {
	seeds := []string{
		"config:\n  app:stash:\n    enabled: true\n    values: {a: b}\n",
		"config:\n  app:stash: {enabled: true, secret: {secure: v1:x}}\n",
		"config:\n  app:compliance: {fisma: {level: high}, nist: {controls: [a]}}\n",
		"config: [1, 2]\n", "- a\n- b\n", "config:\n  app:stash: &a {enabled: *a}\n", "",
		"config:\n  app:labels: {a: [b]}\n", "config:\n  app:downstream: {enabled: true}\n",
	}
	for _, s := range seeds {
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
		st, err := config.Load(dir, "dev", reg)
		if err == nil && st == nil {
			t.Fatal("nil stack without error")
		}
	})
}
