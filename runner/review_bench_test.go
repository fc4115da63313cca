package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/modules/builtin"
	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/policy"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/testenv"
)

// BenchmarkReviewedDeploy measures what deploying exactly what was
// reviewed costs a deploy of the example stack (kubernetes and
// cert-manager in render mode, the baseline pack on): "today" is the
// gating preview with the policies then `up`; "reviewed" also saves the
// gating preview's plan, compares it with the review and runs `up --plan`.
// Each iteration changes a label, so every deploy has work to do; the
// pull request's preview that makes the review is not timed. Compare the
// sub-benchmarks' ns/op, run side by side in one process:
//
//	make demo && go test ./runner -run XXX -bench ReviewedDeploy -benchtime 3x
func BenchmarkReviewedDeploy(b *testing.B) {
	testenv.PluginPath(b)
	src, err := filepath.Abs("../examples/platform")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(src, ".konductor", "charts", "cert-manager", "Chart.yaml")); err != nil {
		b.Fatalf("the example's chart is missing: run `make demo` first (%v)", err)
	}
	baseline := testenv.BaselinePack(b)
	for _, reviewed := range []bool{false, true} {
		name := "today"
		if reviewed {
			name = "reviewed"
		}
		b.Run(name, func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "platform")
			if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
				b.Fatal(err)
			}
			_ = os.RemoveAll(filepath.Join(dir, ".konductor", "manifests"))
			stackFile := filepath.Join(dir, "Pulumi.dev.yaml")
			orig, err := os.ReadFile(stackFile)
			if err != nil {
				b.Fatal(err)
			}
			eng, err := engine.New(engine.Options{Environ: testenv.Environ(b, map[string]string{
				"PULUMI_BACKEND_URL": "file://" + b.TempDir(),
			})})
			if err != nil {
				b.Fatal(err)
			}
			r := &runner.Runner{Registry: builtin.Registry(), Engine: eng, Policy: policy.Options{Baseline: baseline}}
			run := func(req runner.Request) *result.Result {
				req.Dir, req.Stack = dir, "dev"
				res, err := r.Run(context.Background(), req)
				if err != nil || res.Status != result.Succeeded {
					b.Fatalf("%s: %v %+v", req.Operation, err, res)
				}
				return res
			}
			run(runner.Request{Operation: result.Up}) // deployed once, untimed
			i := 0
			for b.Loop() {
				b.StopTimer()
				i++
				cfg := strings.Replace(string(orig), "team: platform", fmt.Sprintf("team: platform-%d", i), 1)
				if err := os.WriteFile(stackFile, []byte(cfg), 0o644); err != nil {
					b.Fatal(err)
				}
				req := runner.Request{Operation: result.Up}
				if reviewed {
					rv, err := result.DecodeReview(run(runner.Request{Operation: result.Preview}).Review)
					if err != nil {
						b.Fatal(err)
					}
					req.Review = &runner.ReviewCheck{Reviewed: &rv, Source: "the benchmark's preview", Fail: true}
				}
				b.StartTimer()
				res := run(req)
				if reviewed && !res.Reviewed.Matched() {
					b.Fatalf("the deploy is not what was reviewed: %+v", res.Reviewed)
				}
			}
		})
	}
}
