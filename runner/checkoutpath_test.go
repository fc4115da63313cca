package runner_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/testenv"
)

// newSharedStateRunner is newKubeRunner with the state in backend, so that
// two checkouts of one project share their stacks' state as they would with
// a remote backend. Each runner has its own PULUMI_HOME, like another machine.
func newSharedStateRunner(t *testing.T, backend string) *runner.Runner {
	t.Helper()
	return newKubeRunnerEnv(t, map[string]string{engine.EnvBackendURL: "file://" + backend})
}

// TestCheckoutPathNeverChangesPlan deploys a render-mode stack whose
// render_dir and chart_path are relative to the work dir, then previews the
// unchanged stack from a copy of the project in another directory against
// the same state: nothing may change. A path resolved against the work dir
// that reached a resource input as an absolute path would differ between the
// checkouts and replace the provider, and through it every resource.
func TestCheckoutPathNeverChangesPlan(t *testing.T) {
	start := time.Now()
	state := t.TempDir() // outside both checkouts
	const renderDir, chartPath = "    render_dir: rendered", "charts/cert-manager"
	first := testenv.Project(t, "platform", "dev", kubeStack(renderDir, chartPath, true, "apps"))
	if err := os.CopyFS(filepath.Join(first, chartPath), os.DirFS(testenv.CertManagerChart(t))); err != nil {
		t.Fatal(err)
	}
	deployer := newSharedStateRunner(t, state)
	runOp(t, deployer, first, result.Up)
	// The provider resolves both relative paths against the work dir: the
	// manifests land under it, the chart is loaded from it.
	if _, ok := readManifests(t, filepath.Join(first, "rendered"))[key("Deployment", "cert-manager", "cert-manager")]; !ok {
		t.Fatalf("no cert-manager Deployment rendered under %s/rendered", first)
	}
	// Not only what the preview diffs (it never diffs a component such as
	// the chart): nothing in the state may hold the work dir.
	if export := testenv.Pulumi(t, first, deployer.Getenv, "stack", "export", "--stack", "dev"); strings.Contains(export, first) {
		var lines []string
		for _, l := range strings.Split(export, "\n") {
			if strings.Contains(l, first) {
				lines = append(lines, strings.TrimSpace(l))
			}
		}
		t.Errorf("the state holds the work dir %s:\n%s", first, strings.Join(lines, "\n"))
	}

	// The second checkout holds what the repository holds (the stack file
	// with its encryption salt, the vendored chart), not the rendered output.
	second := filepath.Join(t.TempDir(), "elsewhere", "checkout")
	if err := os.CopyFS(second, os.DirFS(first)); err != nil {
		t.Fatal(err)
	}
	for _, generated := range []string{"rendered", ".konductor"} {
		if err := os.RemoveAll(filepath.Join(second, generated)); err != nil {
			t.Fatal(err)
		}
	}
	other := newSharedStateRunner(t, state)
	res := runOp(t, other, second, result.Preview)
	for _, op := range []result.Op{result.OpCreate, result.OpUpdate, result.OpReplace, result.OpDelete} {
		if res.Counts[op] == 0 {
			continue
		}
		var changed []string
		for _, s := range res.Steps {
			if s.Op != result.OpSame {
				changed = append(changed, fmt.Sprintf("%s %s %s: diffs %+v, replace reasons %v", s.Op, s.Type, s.Name, s.Diffs, s.ReplaceReasons))
			}
		}
		t.Fatalf("preview of the unchanged stack from another checkout: counts %v, want no changes; steps:\n%s",
			res.Counts, strings.Join(changed, "\n"))
	}
	if res.Counts[result.OpSame] < 50 {
		t.Errorf("preview counts %v, want the whole stack (50+) unchanged", res.Counts)
	}

	// A real change previewed from the other checkout is that change alone.
	testenv.Write(t, filepath.Join(second, "Pulumi.dev.yaml"),
		strings.Replace(readFile(t, filepath.Join(second, "Pulumi.dev.yaml")), "tier: apps", "tier: frontend", 1))
	assertLabelUpdate(t, runOp(t, other, second, result.Preview))
	if _, err := os.Stat(filepath.Join(second, "rendered")); !os.IsNotExist(err) {
		t.Errorf("a preview wrote into the second checkout's render_dir (stat: %v)", err)
	}
	t.Logf("checkout-path test: %s", time.Since(start).Round(time.Millisecond))
}

func readFile(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
