// Package testenv finds the pinned tools `make test` builds and lays out
// throwaway project directories for engine tests.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// PulumiRoot returns the dir holding the pinned bin/pulumi, or fails the
// test: engine tests must not pass by skipping.
func PulumiRoot(t testing.TB) string {
	t.Helper()
	root := os.Getenv("KONDUCTOR_PULUMI_ROOT")
	if root == "" {
		t.Fatal("KONDUCTOR_PULUMI_ROOT is not set: run the tests with `make test`, which builds the pinned Pulumi CLI")
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "pulumi")); err != nil {
		t.Fatalf("pinned Pulumi CLI missing: %v (run `make tools`)", err)
	}
	return root
}

// PluginPath returns the dir holding the pinned provider plugins, or fails.
func PluginPath(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KONDUCTOR_PLUGIN_PATH")
	if dir == "" {
		t.Fatal("KONDUCTOR_PLUGIN_PATH is not set: run the tests with `make test`")
	}
	if _, err := os.Stat(filepath.Join(dir, "pulumi-resource-kubernetes")); err != nil {
		t.Fatalf("pinned kubernetes provider missing: %v (run `make tools`)", err)
	}
	return dir
}

// Project writes Pulumi.yaml for project and Pulumi.<stack>.yaml with
// stackYAML into a new temp dir and returns it.
func Project(t testing.TB, project, stack, stackYAML string) string {
	t.Helper()
	dir := t.TempDir()
	Write(t, filepath.Join(dir, "Pulumi.yaml"), "name: "+project+"\nruntime: go\n")
	Write(t, filepath.Join(dir, "Pulumi."+stack+".yaml"), stackYAML)
	return dir
}

// Write writes a file or fails the test.
func Write(t testing.TB, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Pulumi runs the pinned CLI in dir with env (for setup steps such as
// `config set --secret`) and returns its combined output.
func Pulumi(t testing.TB, dir string, getenv func(string) string, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(PulumiRoot(t), "bin", "pulumi"), append(args, "--non-interactive")...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + getenv("HOME"), "PATH=" + getenv("PATH"), "PULUMI_HOME=" + getenv("PULUMI_HOME"),
		"PULUMI_CONFIG_PASSPHRASE=" + getenv("PULUMI_CONFIG_PASSPHRASE"), "PULUMI_BACKEND_URL=" + getenv("PULUMI_BACKEND_URL"),
		"PULUMI_SKIP_UPDATE_CHECK=true"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pulumi %v: %v\n%s", args, err, out)
	}
	return string(out)
}
