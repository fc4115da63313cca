package runner

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/containercraft/konductor-action/runner/backend"
	"github.com/containercraft/konductor-action/runner/config"
)

// Preflight reports, before anything runs, an environment that cannot work
// for the stack's backend and secrets provider: a self-managed backend with
// the passphrase provider and no passphrase, Pulumi Cloud without a token
// or a login. The CLI and the action both check it, so both fail early
// (exit 2) with the fix, not deep in the engine.
func Preflight(getenv func(string) string, b backend.Backend, dir, stack string) error {
	if b.Embedded() {
		return nil // works as it is (the engine supplies an empty passphrase)
	}
	fail := func(format string, args ...any) error {
		return config.Errors{{File: config.StackFile(dir, stack), Reason: fmt.Sprintf(format, args...)}}
	}
	var file struct {
		SecretsProvider string `yaml:"secretsprovider"`
	}
	if data, err := os.ReadFile(config.StackFile(dir, stack)); err == nil {
		_ = yaml.Unmarshal(data, &file) // the config loader reports a malformed file
	}
	scheme, _, _ := strings.Cut(b.URL, "://")
	switch {
	case scheme == "https" || scheme == "http":
		if getenv("PULUMI_ACCESS_TOKEN") == "" && b.Source != backend.FromLogin {
			return fail("the backend is %s but PULUMI_ACCESS_TOKEN is not set: pass it to the step (env: PULUMI_ACCESS_TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}) or run `pulumi login`", b)
		}
	case file.SecretsProvider == "" || file.SecretsProvider == "passphrase":
		if getenv("PULUMI_CONFIG_PASSPHRASE") == "" && getenv("PULUMI_CONFIG_PASSPHRASE_FILE") == "" {
			return fail("the %s:// backend keeps this stack's secrets with the passphrase provider, but PULUMI_CONFIG_PASSPHRASE is not set: pass it to the step (env: PULUMI_CONFIG_PASSPHRASE: ${{ secrets.PULUMI_CONFIG_PASSPHRASE }}) or export it; secrets are not available to pull requests from forks", scheme)
		}
	}
	return nil
}
