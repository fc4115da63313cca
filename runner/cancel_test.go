package runner_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/testenv"
)

// Cancelling a running up (what SIGINT/SIGTERM do in the CLI) stops it
// cleanly: the result says cancelled, and the stack is not left locked, so
// the next run succeeds.
func TestCancelLeavesStackUsable(t *testing.T) {
	dir := testenv.Project(t, "app", "dev", "config:\n  app:stash:\n    enabled: true\n    mode: slow\n    slow_seconds: 60\n    values: {a: b}\n")
	r := newRunner(t, testenv.Environ(t, nil))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(8 * time.Second) // the program is inside its minute-long wait
		cancel()
	}()
	res, err := r.Run(ctx, runner.Request{Operation: result.Up, Dir: dir, Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.Failed || !strings.HasPrefix(res.Error, "cancelled") {
		t.Fatalf("status %s error %q, want failed and cancelled", res.Status, res.Error)
	}
	testenv.Write(t, dir+"/Pulumi.dev.yaml", "config:\n  app:stash:\n    enabled: true\n    values: {a: b}\n")
	res, err = r.Run(context.Background(), runner.Request{Operation: result.Up, Dir: dir, Stack: "dev"})
	if err != nil || res.Status != result.Succeeded {
		t.Fatalf("rerun after cancel: %v %s %s", err, res.Status, res.Error)
	}
}
