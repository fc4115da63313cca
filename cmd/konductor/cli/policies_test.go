package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `konductor policies` lists every rule with its description and config
// defaults; with --stack, the values konductor.yaml sets.
func TestPoliciesListing(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"policies"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, w := range []string{
		"k8s-resource-limits          advisory   kubernetes requireCpuLimit=false\n",
		"set CPU and memory requests and a memory limit; CPU limits (which throttle) are required only with requireCpuLimit.",
		"k8s-image-pinned             advisory   kubernetes requireDigest=false\n",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("policies output lacks %q:\n%s", w, out.String())
		}
	}

	dir := t.TempDir()
	for name, text := range map[string]string{
		"Pulumi.yaml":     "name: platform\n",
		"Pulumi.dev.yaml": "config: {}\n",
		"konductor.yaml":  "policies:\n  rules:\n    k8s-resource-limits: {enforcement: mandatory, properties: {requireCpuLimit: true}}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	if code := Main([]string{"policies", "--stack", "dev", "--cwd", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if w := "k8s-resource-limits          mandatory* kubernetes requireCpuLimit=true\n"; !strings.Contains(out.String(), w) {
		t.Errorf("policies --stack output lacks %q:\n%s", w, out.String())
	}
}
