package testenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/containercraft/konductor-action/modules/versions"
)

// certManagerModule is the Go module whose zip carries cert-manager's Helm
// chart (deploy/charts/cert-manager); its version is the pinned default.
const certManagerModule = "github.com/cert-manager/cert-manager"

// CertManagerChart returns a copy, in a temp dir of t, of the upstream
// cert-manager chart at the pinned version, taken from the Go module zip (no
// Helm repository needed, as `make demo` does). The chart in the source tree
// carries placeholder versions (v0.0.0, set by cert-manager's release tool),
// so the copy's Chart.yaml gets the real ones: appVersion is the image tag
// the chart deploys.
func CertManagerChart(t testing.TB) string {
	t.Helper()
	version := versions.Get("cert_manager", "version") // certmanager.Name; not imported to keep testenv light
	out, err := exec.Command("go", "mod", "download", "-json", certManagerModule+"@"+version).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		t.Fatalf("go mod download %s@%s: %v", certManagerModule, version, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download printed %s (%v)", out, err)
	}
	dst := filepath.Join(t.TempDir(), "cert-manager")
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(mod.Dir, "deploy", "charts", "cert-manager"))); err != nil {
		t.Fatal(err)
	}
	if err := fixChartVersion(filepath.Join(dst, "Chart.yaml"), version); err != nil {
		t.Fatal(err)
	}
	return dst
}

var chartVersionLine = regexp.MustCompile(`(?m)^(version|appVersion): .*$`)

func fixChartVersion(file, version string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if n := len(chartVersionLine.FindAll(b, -1)); n != 2 {
		return fmt.Errorf("%s: %d version lines, want version and appVersion", file, n)
	}
	b = chartVersionLine.ReplaceAll(b, []byte("${1}: "+version))
	if err := os.Chmod(file, 0o644); err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}
