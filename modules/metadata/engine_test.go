package metadata

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TestRealEngineRunsInheritedTransforms checks, with the real Pulumi CLI
// and no provider plugin, what metadatatest.Mocks emulates: the engine runs
// the component's transform (Options) for its children and grandchildren,
// and the values the transform's merge helpers produce (plain and from a
// secret output) reach the resource. Stash resources stand in for cloud
// resources (the metadata transform itself leaves pulumi:* types alone, so
// a probe on the same component applies the tag merge to them).
//
// It also pins down a limitation of Go transforms: deletedWith is dropped
// from a resource the transform changes.
//
// It needs the pinned CLI: KONDUCTOR_PULUMI_ROOT=<dir holding bin/pulumi>
// (set by `make test`).
func TestRealEngineRunsInheritedTransforms(t *testing.T) {
	root := os.Getenv("KONDUCTOR_PULUMI_ROOT")
	if root == "" {
		t.Skip("KONDUCTOR_PULUMI_ROOT not set: no pulumi CLI")
	}
	ctx := context.Background()
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true})
	if err != nil {
		t.Skipf("pulumi CLI in %s: %v", root, err)
	}
	dir := t.TempDir()
	f := Facts{Project: "platform", Stack: "dev", Git: Git{Commit: "abc", Repository: "acme/infra"}}
	want := awsRules.merge(f, "demo", map[string]string{"own": "x"})

	var mu sync.Mutex
	var seen []string
	probe := func(_ context.Context, a *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
		mu.Lock()
		seen = append(seen, a.Type+" "+a.Name)
		mu.Unlock()
		if a.Type != "pulumi:index:Stash" {
			return nil
		}
		props := maps.Clone(a.Props)
		props["input"] = mergeStrings(props["input"], func(own map[string]string) map[string]string {
			return awsRules.merge(f, "demo", own)
		})
		return &pulumi.ResourceTransformResult{Props: props, Opts: a.Opts}
	}
	program := func(ctx *pulumi.Context) error {
		comp := &ModuleComponent{}
		opts := append(Options(f, "demo"), pulumi.Transforms([]pulumi.ResourceTransform{probe}))
		if err := ctx.RegisterComponentResource(ModuleComponentType, "demo", comp, opts...); err != nil {
			return err
		}
		anchor, err := pulumi.NewStash(ctx, "anchor", &pulumi.StashArgs{Input: pulumi.String("a")})
		if err != nil {
			return err
		}
		child, err := pulumi.NewStash(ctx, "child", &pulumi.StashArgs{Input: pulumi.StringMap{"own": pulumi.String("x")}},
			pulumi.Parent(comp), pulumi.DeletedWith(anchor))
		if err != nil {
			return err
		}
		var nested ModuleComponent
		if err := ctx.RegisterComponentResource("demo:index:Nested", "nested", &nested, pulumi.Parent(comp)); err != nil {
			return err
		}
		grandchild, err := pulumi.NewStash(ctx, "grandchild", &pulumi.StashArgs{
			Input: pulumi.ToSecret(pulumi.StringMap{"own": pulumi.String("x")}),
		}, pulumi.Parent(&nested))
		if err != nil {
			return err
		}
		outside, err := pulumi.NewStash(ctx, "outside", &pulumi.StashArgs{Input: pulumi.StringMap{"own": pulumi.String("x")}})
		if err != nil {
			return err
		}
		ctx.Export("child", child.Output)
		ctx.Export("grandchild", grandchild.Output)
		ctx.Export("outside", outside.Output)
		return nil
	}
	stack, err := auto.UpsertStackInlineSource(ctx, "dev", "platform", program, auto.Pulumi(cmd), auto.WorkDir(dir),
		auto.EnvVars(map[string]string{
			"PULUMI_BACKEND_URL":       "file://" + dir,
			"PULUMI_CONFIG_PASSPHRASE": "test",
			"PULUMI_SKIP_UPDATE_CHECK": "true",
		}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := stack.Up(ctx, optup.SuppressProgress())
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	for _, name := range []string{"child", "grandchild"} {
		got := map[string]string{}
		for k, v := range res.Outputs[name].Value.(map[string]any) {
			got[k] = v.(string)
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: engine stored %v, want %v", name, got, want)
		}
	}
	if !res.Outputs["grandchild"].Secret {
		t.Error("grandchild: secrecy lost through the transform")
	}
	if got := res.Outputs["outside"].Value.(map[string]any); len(got) != 1 {
		t.Errorf("outside the component: %v, want untouched", got)
	}
	// Known SDK limitation (v3.274.1): a Go transform that returns a result
	// hands back options without deletedWith, and the engine takes them
	// whole. If this starts failing, the SDK carries it now: drop the note
	// in README.md.
	dep, err := stack.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		Resources []struct {
			URN         string `json:"urn"`
			DeletedWith string `json:"deletedWith"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(dep.Deployment, &state); err != nil {
		t.Fatal(err)
	}
	for _, r := range state.Resources {
		if strings.HasSuffix(r.URN, "::child") && r.DeletedWith != "" {
			t.Errorf("deletedWith survived the transform (%s): the SDK limitation is gone", r.DeletedWith)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	for _, w := range []string{"pulumi:index:Stash child", "demo:index:Nested nested", "pulumi:index:Stash grandchild"} {
		if !slices.Contains(seen, w) {
			t.Errorf("the engine did not run the inherited transform for %s (saw %v)", w, seen)
		}
	}
	if slices.Contains(seen, "pulumi:index:Stash outside") {
		t.Error("the transform ran outside its component")
	}
}
