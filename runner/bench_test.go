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
//	make bench-policy   (go test ./runner -run XXX -bench PolicyPass -benchtime 5x)
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
			dir := b.TempDir()
			for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml"} {
				data, err := os.ReadFile(filepath.Join(src, f))
				if err != nil {
					b.Fatal(err)
				}
				testenv.Write(b, filepath.Join(dir, f), string(data))
			}
			eng, err := engine.New(engine.Options{Environ: testenv.Environ(b, nil)})
			if err != nil {
				b.Fatal(err)
			}
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
