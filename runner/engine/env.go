package engine

// This file finds the pinned tools and makes the environment the CLI runs
// with: offline, deterministic, on the resolved backend.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containercraft/konductor-action/runner/backend"
)

// executable is os.Executable, replaced in tests.
var executable = os.Executable

// InstallTree finds the pinned tools shipped with konductor (`make dist`,
// the container image): konductor and pulumi in <root>/bin, provider
// plugins in <root>/plugins. It returns "" for what is not there, so a
// binary built elsewhere falls back to PATH.
func InstallTree() (root, plugins string) {
	exe, err := executable()
	if err != nil {
		return "", ""
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	bin := filepath.Dir(exe)
	if fi, err := os.Stat(filepath.Join(bin, "pulumi")); err == nil && !fi.IsDir() {
		root = filepath.Dir(bin)
	}
	if fi, err := os.Stat(filepath.Join(filepath.Dir(bin), "plugins")); err == nil && fi.IsDir() {
		plugins = filepath.Join(filepath.Dir(bin), "plugins")
	}
	return root, plugins
}

// Env returns the environment the CLI runs with for a work dir: offline,
// deterministic, with the backend the Pulumi CLI would use (backend.Resolve),
// or the embedded default when none is configured.
func (e *Engine) Env(workDir string) (map[string]string, error) {
	env := make(map[string]string, len(e.vars)+8)
	for k, v := range e.vars {
		env[k] = v
	}
	env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
	env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] = "true"
	env["PULUMI_SKIP_CONFIRMATIONS"] = "true"
	b, err := backend.Resolve(workDir, e.getenv)
	if err != nil {
		return nil, err
	}
	switch h := e.getenv("PULUMI_HOME"); {
	case h != "":
		env["PULUMI_HOME"] = h
	case b.Source == backend.FromLogin:
		// The login's credentials are in the CLI's own home.
	default:
		if c, err := os.UserCacheDir(); err == nil {
			env["PULUMI_HOME"] = filepath.Join(c, "konductor", "pulumi-home")
		}
	}
	if b.Embedded() {
		if err := os.MkdirAll(strings.TrimPrefix(b.URL, "file://"), 0o755); err != nil {
			return nil, fmt.Errorf("embedded file backend: %w", err)
		}
		// The embedded default works out of the box: an empty passphrase
		// unless the user set one. A real backend needs the user's.
		if _, ok := e.vars[EnvPassphrase]; !ok && e.getenv("PULUMI_CONFIG_PASSPHRASE_FILE") == "" {
			env[EnvPassphrase] = ""
		}
	}
	env[EnvBackendURL] = b.URL
	path := e.getenv("PATH")
	if e.opts.PluginPath != "" {
		path = e.opts.PluginPath + string(os.PathListSeparator) + path
	}
	env["PATH"] = path
	return env, nil
}
