package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakePulumi writes a pulumi "binary" that reports version.
func fakePulumi(t *testing.T, file, version string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("#!/bin/sh\necho "+version+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// An install tree (dist/, the image) works with no KONDUCTOR_* variable:
// the engine uses the pulumi next to the running binary and the tree's
// plugins, not whatever is on PATH. Variables and options still win.
func TestInstallTreeDefaults(t *testing.T) {
	tree := t.TempDir()
	fakePulumi(t, filepath.Join(tree, "bin", "pulumi"), "v3.274.1")
	if err := os.MkdirAll(filepath.Join(tree, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	onPath := t.TempDir()
	fakePulumi(t, filepath.Join(onPath, "pulumi"), "v3.1.0")
	t.Setenv("PATH", onPath+string(os.PathListSeparator)+os.Getenv("PATH"))
	elsewhere := t.TempDir()
	fakePulumi(t, filepath.Join(elsewhere, "bin", "pulumi"), "v3.200.0")

	defer func(f func() (string, error)) { executable = f }(executable)
	setExe := func(p string) { executable = func() (string, error) { return p, nil } }

	cases := []struct {
		name        string
		exe         string
		environ     []string
		wantVersion string
		wantPlugins string // prefix of the engine's PATH
	}{
		{"install tree", filepath.Join(tree, "bin", "konductor"), []string{"PATH=/usr/bin"}, "3.274.1", filepath.Join(tree, "plugins") + ":/usr/bin"},
		{"variables win", filepath.Join(tree, "bin", "konductor"),
			[]string{"PATH=/usr/bin", EnvPulumiRoot + "=" + elsewhere, EnvPluginPath + "=/opt/plugins"}, "3.200.0", "/opt/plugins:/usr/bin"},
		{"no tree: PATH", filepath.Join(t.TempDir(), "konductor"), []string{"PATH=/usr/bin"}, "3.1.0", "/usr/bin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setExe(c.exe)
			e, err := New(Options{Environ: append(c.environ, "PULUMI_BACKEND_URL=file:///tmp/x")})
			if err != nil {
				t.Fatal(err)
			}
			if got := e.cmd.Version().String(); got != c.wantVersion {
				t.Errorf("pulumi version = %s, want %s (the wrong CLI was picked)", got, c.wantVersion)
			}
			env, err := e.Env(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if env["PATH"] != c.wantPlugins {
				t.Errorf("PATH = %q, want %q", env["PATH"], c.wantPlugins)
			}
		})
	}
}

// A symlink to the binary (say /usr/local/bin/konductor) still finds its tree.
func TestInstallTreeThroughSymlink(t *testing.T) {
	tree := t.TempDir()
	fakePulumi(t, filepath.Join(tree, "bin", "pulumi"), "v3.274.1")
	fakePulumi(t, filepath.Join(tree, "bin", "konductor"), "")
	if err := os.MkdirAll(filepath.Join(tree, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "konductor")
	if err := os.Symlink(filepath.Join(tree, "bin", "konductor"), link); err != nil {
		t.Fatal(err)
	}
	defer func(f func() (string, error)) { executable = f }(executable)
	executable = func() (string, error) { return link, nil }
	root, plugins := InstallTree()
	if root != tree || !strings.HasSuffix(plugins, "/plugins") {
		t.Errorf("InstallTree() = %q, %q, want %q and its plugins", root, plugins, tree)
	}
}
