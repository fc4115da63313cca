package runner_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/stashmod"
)

// cancelEngine is an engine for Cancel's decisions: a Pulumi Cloud backend
// (no lock files) with an update in progress since started, and a state
// whose pending operations a refresh resolves as the real one does (it
// keeps pending creates; adopted ones exist when exists says so).
type cancelEngine struct {
	started   time.Time
	cancelled bool
	state     engine.State
	exists    map[string]bool
	refreshes []engine.Request
}

func (e *cancelEngine) Run(_ context.Context, req engine.Request) (*result.Result, error) {
	e.refreshes = append(e.refreshes, req)
	var left []engine.PendingOperation
	for _, p := range e.state.Pending {
		if p.Kind == "creating" && !req.ClearPendingCreates {
			left = append(left, p)
		}
	}
	e.state.Pending = left
	e.state.Resources = slices.DeleteFunc(e.state.Resources, func(urn string) bool { _, known := e.exists[urn]; return known && !e.exists[urn] })
	return &result.Result{Stack: req.Stack.Name, Operation: req.Operation, Status: result.Succeeded}, nil
}

func (e *cancelEngine) Config(context.Context, string, string) (auto.ConfigMap, error) {
	return nil, nil
}
func (e *cancelEngine) BackendURL(string) (string, error) { return "https://api.pulumi.com", nil }
func (e *cancelEngine) ReadState(context.Context, string, string) (*engine.State, error) {
	st := e.state
	return &st, nil
}
func (e *cancelEngine) AdoptPendingCreates(_ context.Context, _, _ string, ids map[string]string) error {
	var keep []engine.PendingOperation
	for _, p := range e.state.Pending {
		if _, ok := ids[p.URN]; ok {
			e.state.Resources = append(e.state.Resources, p.URN)
		} else {
			keep = append(keep, p)
		}
	}
	e.state.Pending = keep
	return nil
}
func (e *cancelEngine) KeepFieldManagers(context.Context, string, string, []string) (int, error) {
	return 0, nil
}
func (e *cancelEngine) CancelUpdate(context.Context, string, string) error {
	e.cancelled = true
	return nil
}
func (e *cancelEngine) UpdateInProgress(context.Context, string, string) (time.Time, error) {
	return e.started, nil
}

func cancelDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"Pulumi.yaml": "name: app\n", "Pulumi.dev.yaml": "config:\n  app:stash:\n    enabled: true\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	nsURN     = "urn:pulumi:dev::app::kubernetes:core/v1:Namespace::apps"
	goneURN   = "urn:pulumi:dev::app::kubernetes:core/v1:ConfigMap::gone"
	bucketURN = "urn:pulumi:dev::app::aws:s3/bucketV2:BucketV2::logs"
	updURN    = "urn:pulumi:dev::app::kubernetes:core/v1:Namespace::team"
)

// On Pulumi Cloud an update younger than the stale age is kept, and
// nothing else happens; an older one is cancelled. Then the pending
// creates konductor can check (Kubernetes objects, by name) are kept or
// dropped by the refresh as the cluster has them, a pending update is
// resolved, and a cloud create is left for a person (not OK), until the
// person asks to clear it.
func TestCancelDecisions(t *testing.T) {
	now := time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)
	meta := func(name, ns string) map[string]any {
		m := map[string]any{"name": name}
		if ns != "" {
			m["namespace"] = ns
		}
		return map[string]any{"metadata": m}
	}
	eng := &cancelEngine{started: now.Add(-20 * time.Minute), exists: map[string]bool{nsURN: true, goneURN: false}}
	eng.state.Pending = []engine.PendingOperation{
		{URN: nsURN, Type: "kubernetes:core/v1:Namespace", Kind: "creating", Inputs: meta("apps", "")},
		{URN: goneURN, Type: "kubernetes:core/v1:ConfigMap", Kind: "creating", Inputs: meta("gone", "apps")},
		{URN: bucketURN, Type: "aws:s3/bucketV2:BucketV2", Kind: "creating"},
		{URN: updURN, Type: "kubernetes:core/v1:Namespace", Kind: "updating"},
	}
	r := &runner.Runner{Registry: modules.NewRegistry(stashmod.Module), Engine: eng}
	req := runner.CancelRequest{Dir: cancelDir(t), Stack: "dev", OlderThan: time.Hour, Now: now}

	rep, err := r.Cancel(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || eng.cancelled || len(eng.refreshes) != 0 || !strings.Contains(rep.Kept, "began 20m ago, less than the stale age (1h)") {
		t.Fatalf("a 20m-old update: kept=%q cancelled=%v refreshes=%d", rep.Kept, eng.cancelled, len(eng.refreshes))
	}
	if md := rep.Markdown(); !strings.Contains(md, "cancel: lock kept") || !strings.Contains(md, "may still be in flight under the kept lock") {
		t.Errorf("markdown:\n%s", md)
	}

	req.OlderThan = 15 * time.Minute
	rep, err = r.Cancel(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !eng.cancelled || len(eng.refreshes) != 1 || eng.refreshes[0].Operation != result.Refresh || eng.refreshes[0].ClearPendingCreates {
		t.Fatalf("cancelled=%v refreshes=%+v", eng.cancelled, eng.refreshes)
	}
	if rep.OK() || len(rep.Left) != 1 || rep.Left[0].URN != bucketURN {
		t.Errorf("left = %+v, want the S3 bucket's create only", rep.Left)
	}
	md := rep.Markdown()
	for _, want := range []string{
		"### ⚠️ `dev` — cancel: needs a person",
		"cancelled on Pulumi Cloud",
		"creating `kubernetes:core/v1:Namespace` **apps**: made before the interruption: read back by the refresh and kept in the state",
		"creating `kubernetes:core/v1:ConfigMap` **gone**: never made: the refresh found no such object and dropped it",
		"creating `aws:s3/bucketV2:BucketV2` **logs**: still pending: konductor cannot tell whether the provider made it",
		"`konductor cancel --stack dev --clear-pending-creates`",
		"updating `kubernetes:core/v1:Namespace` **team**: resolved by the refresh",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}

	req.ClearPendingCreates = true
	rep, err = r.Cancel(context.Background(), req)
	if err != nil || !rep.OK() || !strings.Contains(rep.Markdown(), "**logs**: dropped (--clear-pending-creates)") {
		t.Errorf("with --clear-pending-creates: %v\n%s", err, rep.Markdown())
	}

	// An unknown stack is bad input, before anything is touched.
	req.Stack = "prod"
	var ce config.Errors
	if _, err := r.Cancel(context.Background(), req); !errors.As(err, &ce) || !strings.Contains(err.Error(), `no stack "prod" here`) {
		t.Errorf("unknown stack: %v, want config.Errors (exit 2)", err)
	}
}
