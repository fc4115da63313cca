// Package metadatatest runs modules under mocks (pulumi.WithMocks) the way the
// runner and the Pulumi engine run them: each module inside its
// konductor:index:Module component carrying metadata.Options, with the
// engine-side transforms actually applied (the SDK's mock monitor does not
// run them; see metadata.Options).
package metadatatest

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/metadata"
)

// Resource is one registered resource as the provider would receive it:
// its inputs after every transform.
type Resource struct {
	URN    string
	Type   string
	Name   string
	Parent string
	Custom bool
	// Provider is the provider reference ("<urn>::<id>"), empty for the
	// default provider.
	Provider string
	Inputs   resource.PropertyMap
}

// Mocks is a pulumi.MockResourceMonitor that applies resource transforms
// like the engine's resource monitor does: for each registration it runs
// the resource's own transforms, then each ancestor's (nearest first),
// invoking the callbacks the SDK registered through the same callback
// protocol the engine uses. Stack transforms are not emulated.
type Mocks struct {
	// NewResourceFunc, when set, returns the ID and state of a new resource
	// from its transformed args; by default the state echoes the inputs
	// and the ID is "<name>-id".
	NewResourceFunc func(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error)
	// CallFunc, when set, answers invokes; by default they return nothing.
	CallFunc func(args pulumi.MockCallArgs) (resource.PropertyMap, error)

	mu         sync.Mutex
	resources  []Resource
	transforms map[string][]*pulumirpc.Callback // declared, by URN
	parents    map[string]string
	conns      map[string]*grpc.ClientConn
}

var _ pulumi.MockResourceMonitor = (*Mocks)(nil)

// Call implements pulumi.MockResourceMonitor.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if m.CallFunc != nil {
		return m.CallFunc(args)
	}
	return resource.PropertyMap{}, nil
}

// NewResource implements pulumi.MockResourceMonitor.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	req := args.RegisterRPC
	if req == nil { // a read: no transforms
		return m.newResource(args)
	}
	urn := urnOf(req.GetParent(), args.TypeToken, args.Name)

	m.mu.Lock()
	if m.transforms == nil {
		m.transforms, m.parents = map[string][]*pulumirpc.Callback{}, map[string]string{}
	}
	m.transforms[urn] = req.GetTransforms()
	m.parents[urn] = req.GetParent()
	chain := append([]*pulumirpc.Callback(nil), req.GetTransforms()...)
	for p := req.GetParent(); p != ""; p = m.parents[p] {
		chain = append(chain, m.transforms[p]...)
	}
	m.mu.Unlock()

	props := req.GetObject()
	for _, cb := range chain {
		var err error
		if props, err = m.invoke(cb, req, props); err != nil {
			return "", nil, fmt.Errorf("transform of %s: %w", urn, err)
		}
	}
	inputs, err := plugin.UnmarshalProperties(props, plugin.MarshalOptions{
		KeepUnknowns: true, KeepSecrets: true, KeepResources: true,
	})
	if err != nil {
		return "", nil, err
	}
	args.Inputs = inputs

	m.mu.Lock()
	m.resources = append(m.resources, Resource{
		URN: urn, Type: args.TypeToken, Name: args.Name, Parent: req.GetParent(),
		Custom: args.Custom, Provider: req.GetProvider(), Inputs: inputs,
	})
	m.mu.Unlock()
	return m.newResource(args)
}

func (m *Mocks) newResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	if m.NewResourceFunc != nil {
		return m.NewResourceFunc(args)
	}
	return args.Name + "-id", args.Inputs, nil
}

// invoke runs one transform callback on props, as the engine does.
func (m *Mocks) invoke(cb *pulumirpc.Callback, req *pulumirpc.RegisterResourceRequest, props *structpb.Struct) (*structpb.Struct, error) {
	conn, err := m.conn(cb.GetTarget())
	if err != nil {
		return nil, err
	}
	request, err := proto.Marshal(&pulumirpc.TransformRequest{
		Type:       req.GetType(),
		Name:       req.GetName(),
		Custom:     req.GetCustom(),
		Parent:     req.GetParent(),
		Properties: props,
		Options: &pulumirpc.TransformResourceOptions{
			DependsOn:               req.GetDependencies(),
			Protect:                 req.Protect,
			IgnoreChanges:           req.GetIgnoreChanges(),
			ReplaceOnChanges:        req.GetReplaceOnChanges(),
			Version:                 req.GetVersion(),
			Aliases:                 req.GetAliases(),
			Provider:                req.GetProvider(),
			Providers:               req.GetProviders(),
			CustomTimeouts:          req.GetCustomTimeouts(),
			PluginDownloadUrl:       req.GetPluginDownloadURL(),
			RetainOnDelete:          req.RetainOnDelete,
			DeletedWith:             req.GetDeletedWith(),
			AdditionalSecretOutputs: req.GetAdditionalSecretOutputs(),
		},
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := pulumirpc.NewCallbacksClient(conn).Invoke(ctx, &pulumirpc.CallbackInvokeRequest{
		Token: cb.GetToken(), Request: request,
	})
	if err != nil {
		return nil, err
	}
	var out pulumirpc.TransformResponse
	if err := proto.Unmarshal(resp.GetResponse(), &out); err != nil {
		return nil, err
	}
	if out.GetProperties() == nil { // the transform changed nothing
		return props, nil
	}
	return out.GetProperties(), nil
}

func (m *Mocks) conn(target string) (*grpc.ClientConn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.conns[target]; ok {
		return c, nil
	}
	c, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	if m.conns == nil {
		m.conns = map[string]*grpc.ClientConn{}
	}
	m.conns[target] = c
	return c, nil
}

// Close closes the connections to the SDK's callback servers.
func (m *Mocks) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.conns {
		_ = c.Close()
	}
	m.conns = nil
}

// Resources returns the registered resources, sorted by URN.
func (m *Mocks) Resources() []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]Resource(nil), m.resources...)
	sort.Slice(out, func(i, j int) bool { return out[i].URN < out[j].URN })
	return out
}

// ByType returns the registered resources of type typ, sorted by URN.
func (m *Mocks) ByType(typ string) []Resource {
	var out []Resource
	for _, r := range m.Resources() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// urnOf computes a resource's URN the way the mock monitor does.
func urnOf(parent, typ, name string) string {
	p := resource.URN(parent)
	var parentType tokens.Type
	if p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(p.Stack(), p.Project(), parentType, tokens.Type(typ), name))
}

// Facts returns the facts the module tests deploy with: project "platform",
// stack "dev", a git commit on main of owner/infra, and fisma level.
func Facts() metadata.Facts {
	return metadata.Facts{
		Project: "platform",
		Stack:   "dev",
		Git: metadata.Git{
			Repository: "acme/infra",
			Commit:     "0123456789abcdef0123456789abcdef01234567",
			Branch:     "main",
			Actor:      "octocat",
		},
		Compliance: metadata.Compliance{Fisma: metadata.Fisma{Level: "moderate"}},
		Labels:     map[string]string{"team": "platform"},
	}
}

// Deploy deploys mod with cfg inside the module component, as the runner
// does: a konductor:index:Module component named after the module carrying
// metadata.Options(f, mod.Name()), passed to Deploy as env.Parent.
func Deploy(ctx *pulumi.Context, mod modules.Module, cfg any, f metadata.Facts, deps map[string]modules.Outputs) (modules.Outputs, error) {
	comp, err := metadata.NewModuleComponent(ctx, f, mod.Name())
	if err != nil {
		return nil, err
	}
	out, err := mod.Deploy(ctx, cfg, modules.Env{Project: f.Project, Stack: f.Stack, Deps: deps, Parent: comp})
	if err != nil {
		return nil, err
	}
	return out, ctx.RegisterResourceOutputs(comp, pulumi.Map{})
}

// Run runs a program under Mocks for project "platform", stack "dev" and
// returns the mocks to inspect. It fails the test on error.
func Run(t testing.TB, mocks *Mocks, program pulumi.RunFunc) *Mocks {
	t.Helper()
	if mocks == nil {
		mocks = &Mocks{}
	}
	t.Cleanup(mocks.Close)
	if err := pulumi.RunErr(program, pulumi.WithMocks("platform", "dev", mocks)); err != nil {
		t.Fatalf("program: %v", err)
	}
	return mocks
}

// Deployed is a module run under Mocks: its registered resources and its
// resolved outputs.
type Deployed struct {
	*Mocks
	Outputs map[string]any
}

// DeployModule validates cfg, deploys mod alone under mocks the way the
// runner does (see Deploy), and waits for its outputs to resolve.
func DeployModule(t testing.TB, mocks *Mocks, mod modules.Module, cfg any) Deployed {
	t.Helper()
	if err := mod.Validate(cfg); err != nil {
		t.Fatalf("config does not validate: %v", err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	outputs := map[string]any{}
	m := Run(t, mocks, func(ctx *pulumi.Context) error {
		out, err := Deploy(ctx, mod, cfg, Facts(), nil)
		if err != nil {
			return err
		}
		for k, v := range out {
			o, ok := v.(pulumi.Output)
			if !ok {
				mu.Lock()
				outputs[k] = v
				mu.Unlock()
				continue
			}
			wg.Add(1)
			o.ApplyT(func(x any) any {
				mu.Lock()
				defer mu.Unlock()
				outputs[k] = x
				wg.Done()
				return x
			})
		}
		return nil
	})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("outputs did not resolve")
	}
	return Deployed{Mocks: m, Outputs: outputs}
}

// One returns the inputs of the only resource of type typ, or fails.
func (d Deployed) One(t testing.TB, typ string) resource.PropertyMap {
	t.Helper()
	rs := d.ByType(typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of %s, want 1", len(rs), typ)
	}
	return rs[0].Inputs
}

// CheckTaggableList keeps metadata's allow-list of cloud types honest for
// one provider: every type with prefix (e.g. "aws:") that the mocks saw is
// listed by metadata.CloudTypes and mapped in sdkArgs to its SDK args struct,
// every listed type of the provider is in sdkArgs, and a type is listed as
// taking tags exactly when its args struct has a Tags field. argsName says
// which package (a suffix of its import path) and struct name sdkArgs must
// give a type, so the map cannot point at the wrong struct (the SDKs'
// generation rules differ).
func CheckTaggableList(t testing.TB, mocks *Mocks, prefix string, sdkArgs map[string]reflect.Type, argsName func(typ string) (pkg, name string)) {
	t.Helper()
	listed := metadata.CloudTypes()
	for _, res := range mocks.Resources() {
		if !strings.HasPrefix(res.Type, prefix) {
			continue
		}
		if _, ok := listed[res.Type]; !ok {
			t.Errorf("the module creates %s, which metadata's cloudTypes does not list", res.Type)
		}
		if _, ok := sdkArgs[res.Type]; !ok {
			t.Errorf("the module creates %s, which sdkArgs does not map to its args struct", res.Type)
		}
	}
	for typ, args := range sdkArgs {
		if pkg, name := argsName(typ); !strings.HasSuffix(args.PkgPath(), "/"+pkg) || name != args.Name() {
			t.Errorf("sdkArgs[%s] = %s.%s, want …/%s.%s", typ, args.PkgPath(), args.Name(), pkg, name)
		}
		_, hasTags := args.FieldByName("Tags")
		if listed[typ] != hasTags {
			t.Errorf("%s: metadata lists takes-tags=%v, SDK args has Tags=%v", typ, listed[typ], hasTags)
		}
	}
	for typ := range listed {
		if _, ok := sdkArgs[typ]; strings.HasPrefix(typ, prefix) && !ok {
			t.Errorf("metadata lists %s, which no test checks against the SDK", typ)
		}
	}
}

// CheckTags checks that every resource the mocks saw that takes tags
// carries exactly want, and that no other resource has tags.
func CheckTags(t testing.TB, mocks *Mocks, want map[string]string) {
	t.Helper()
	for _, res := range mocks.Resources() {
		tags, has := res.Inputs["tags"]
		if !metadata.TakesTags(res.Type) {
			if has {
				t.Errorf("%s (%s) takes no tags but got %v", res.Name, res.Type, tags)
			}
			continue
		}
		got := map[string]string{}
		for k, v := range tags.ObjectValue() {
			got[string(k)] = v.StringValue()
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s (%s) tags:\n got %v\nwant %v", res.Name, res.Type, got, want)
		}
	}
}
