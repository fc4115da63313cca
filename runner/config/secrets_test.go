package config_test

import (
	"slices"
	"testing"

	"github.com/containercraft/konductor-action/runner/config"
)

// A leaf of a secret key is plain only when the stack file holds that value
// unencrypted at that path: `secure:` leaves and values an ESC environment
// supplied (in no file) are secrets.
func TestSecretLeaves(t *testing.T) {
	doc := []byte(`environment: [platform/dev]
config:
  app:stash:
    enabled: true
    port: 8080
    values:
      color: blue
      token:
        secure: v1:AAAA
    list: [a, {secure: v1:BBBB}]
  app:db:
    secure: v1:CCCC
`)
	// As the engine reports the decrypted key: the file's values, and a
	// value the environment added (values.apiKey) that the file lacks.
	got := config.SecretLeaves(doc, "app", "app:stash",
		`{"enabled":true,"port":8080,"values":{"color":"blue","token":"tok-1","apiKey":"from-esc-9"},"list":["a","b-secret"]}`)
	want := []string{"b-secret", "tok-1", "from-esc-9"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("SecretLeaves = %q, want %q", got, want)
	}
	// A scalar secret key, and one only an environment sets.
	if got := config.SecretLeaves(doc, "app", "app:db", "postgres://x"); !slices.Equal(got, []string{"postgres://x"}) {
		t.Errorf("scalar: %q", got)
	}
	if got := config.SecretLeaves(doc, "app", "app:esconly", `{"k":"v1"}`); !slices.Equal(got, []string{"v1"}) {
		t.Errorf("environment-only key: %q", got)
	}
	// A file value changed by the environment is not the file's value.
	if got := config.SecretLeaves(doc, "app", "app:stash", `{"values":{"color":"red"}}`); !slices.Equal(got, []string{"red"}) {
		t.Errorf("overridden: %q", got)
	}
}
