package runner_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/containercraft/konductor-action/modules/builtin"
	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/policy"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/testenv"
)

// BenchmarkPolicyPass measures what the baseline pack costs a preview of
// the example stack (kubernetes module, render mode): compare the two
// sub-benchmarks' ns/op, run side by side in one process:
//
//	make demo && go test ./runner -run XXX -bench PolicyPass -benchtime 4x
func BenchmarkPolicyPass(b *testing.B) {
	testenv.PluginPath(b)
	src, err := filepath.Abs("../examples/platform")
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		baseline string
	}{{"without-policies", ""}, {"with-baseline", testenv.BaselinePack(b)}} {
		b.Run(tc.name, func(b *testing.B) {
			// The example itself (its chart_path is prepared by `make
			// demo`), with state in a throwaway file backend.
			if _, err := os.Stat(filepath.Join(src, ".konductor", "charts", "cert-manager", "Chart.yaml")); err != nil {
				b.Fatalf("the example's chart is missing: run `make demo` first (%v)", err)
			}
			eng, err := engine.New(engine.Options{Environ: testenv.Environ(b, map[string]string{
				"PULUMI_BACKEND_URL": "file://" + b.TempDir(),
			})})
			if err != nil {
				b.Fatal(err)
			}
			dir := src
			r := &runner.Runner{Registry: builtin.Registry(), Engine: eng, Policy: policy.Options{Baseline: tc.baseline}}
			for b.Loop() {
				res, err := r.Run(context.Background(), runner.Request{Operation: result.Preview, Dir: dir, Stack: "dev"})
				if err != nil || res.Status != result.Succeeded {
					b.Fatalf("preview: %v %+v", err, res)
				}
			}
		})
	}
}
