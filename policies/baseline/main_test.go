package main

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// startPack builds the pack binary and starts it the way the engine does
// (exec, read the port from the first stdout line, speak the Analyzer gRPC
// protocol), returning a client.
func startPack(t *testing.T) pulumirpc.AnalyzerClient {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the pack binary")
	}
	bin := filepath.Join(t.TempDir(), "konductor-baseline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	portc := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		portc <- strings.TrimSpace(line)
	}()
	var port string
	select {
	case port = <-portc:
	case <-time.After(30 * time.Second):
		t.Fatal("pack did not print its port")
	}
	conn, err := grpc.NewClient("127.0.0.1:"+port, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return pulumirpc.NewAnalyzerClient(conn)
}

func props(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	pm := resource.NewPropertyMapFromMap(m)
	s, err := plugin.MarshalProperties(pm, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func byPolicy(ds []*pulumirpc.AnalyzeDiagnostic) map[string][]*pulumirpc.AnalyzeDiagnostic {
	out := map[string][]*pulumirpc.AnalyzeDiagnostic{}
	for _, d := range ds {
		out[d.GetPolicyName()] = append(out[d.GetPolicyName()], d)
	}
	return out
}

// TestAnalyzerProtocol drives the built pack over gRPC in the order the
// engine uses (Handshake, ConfigureStack, GetAnalyzerInfo, Configure,
// Analyze, AnalyzeStack) and proves per-rule config reaches the rules.
func TestAnalyzerProtocol(t *testing.T) {
	c := startPack(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if _, err := c.Handshake(ctx, &pulumirpc.AnalyzerHandshakeRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConfigureStack(ctx, &pulumirpc.AnalyzerStackConfigureRequest{
		Stack: "dev", Project: "konductor", Organization: "organization", DryRun: true,
	}); err != nil {
		t.Fatal(err)
	}
	info, err := c.GetAnalyzerInfo(ctx, &emptypb.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetName() != "konductor-baseline" || info.GetVersion() != "0.1.0" || !info.GetSupportsConfig() {
		t.Errorf("info = %s@%s supportsConfig=%v", info.GetName(), info.GetVersion(), info.GetSupportsConfig())
	}
	levels := map[string]pulumirpc.EnforcementLevel{}
	for _, p := range info.GetPolicies() {
		levels[p.GetName()] = p.GetEnforcementLevel()
		if p.GetName() == "aws-allowed-regions" {
			def := p.GetConfigSchema().GetProperties().GetFields()["allowedRegions"].GetStructValue().GetFields()["default"]
			if len(def.GetListValue().GetValues()) != 5 {
				t.Errorf("allowedRegions schema default = %v", def)
			}
		}
	}
	if len(levels) != 15 || levels["k8s-no-privileged"] != pulumirpc.EnforcementLevel_MANDATORY ||
		levels["k8s-image-pinned"] != pulumirpc.EnforcementLevel_ADVISORY {
		t.Errorf("policies = %v", levels)
	}

	// What the engine sends for {"aws-allowed-regions": {"enforcementLevel":
	// "mandatory", "allowedRegions": ["eu-west-1"]}, "k8s-image-pinned": "disabled"}.
	// "k8s-resource-limits": {"requireCpuLimit": true} switches CPU limits on.
	regions, _ := structpb.NewStruct(map[string]any{"allowedRegions": []any{"eu-west-1"}})
	cpuLimit, _ := structpb.NewStruct(map[string]any{"requireCpuLimit": true})
	empty, _ := structpb.NewStruct(nil)
	if _, err := c.Configure(ctx, &pulumirpc.ConfigureAnalyzerRequest{PolicyConfig: map[string]*pulumirpc.PolicyConfig{
		"aws-allowed-regions": {EnforcementLevel: pulumirpc.EnforcementLevel_MANDATORY, Properties: regions},
		"k8s-image-pinned":    {EnforcementLevel: pulumirpc.EnforcementLevel_DISABLED, Properties: empty},
		"k8s-resource-limits": {EnforcementLevel: pulumirpc.EnforcementLevel_ADVISORY, Properties: cpuLimit},
	}}); err != nil {
		t.Fatal(err)
	}

	// us-east-1 is allowed by default, not by the configured list.
	resp, err := c.Analyze(ctx, &pulumirpc.AnalyzeRequest{
		Type: "pulumi:providers:aws", Name: "default_6_83_4",
		Urn:        "urn:pulumi:dev::konductor::pulumi:providers:aws::default_6_83_4",
		Properties: props(t, map[string]any{"region": "us-east-1", "version": "6.83.4"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := byPolicy(resp.GetDiagnostics())
	if d := got["aws-allowed-regions"]; len(d) != 1 || d[0].GetEnforcementLevel() != pulumirpc.EnforcementLevel_MANDATORY ||
		!strings.Contains(d[0].GetMessage(), `provider region "us-east-1" is not an allowed region ("eu-west-1")`) ||
		!strings.Contains(d[0].GetMessage(), "Remediation: ") {
		t.Errorf("aws-allowed-regions diagnostics = %v", d)
	}

	// A disabled rule does not run; the others do, with their default levels.
	resp, err = c.Analyze(ctx, &pulumirpc.AnalyzeRequest{
		Type: "kubernetes:core/v1:Pod", Name: "web", Urn: "urn:pulumi:dev::konductor::kubernetes:core/v1:Pod::web",
		Properties: props(t, map[string]any{
			"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "web"},
			"spec": map[string]any{"hostNetwork": true, "containers": []any{
				map[string]any{"name": "web", "image": "nginx:latest"},
			}},
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	got = byPolicy(resp.GetDiagnostics())
	if len(got["k8s-image-pinned"]) != 0 {
		t.Errorf("disabled rule ran: %v", got["k8s-image-pinned"])
	}
	if d := got["k8s-no-host-namespaces"]; len(d) != 1 || d[0].GetEnforcementLevel() != pulumirpc.EnforcementLevel_MANDATORY {
		t.Errorf("k8s-no-host-namespaces = %v", d)
	}
	for _, name := range []string{"k8s-resource-limits", "required-metadata"} {
		if d := got[name]; len(d) != 1 || d[0].GetEnforcementLevel() != pulumirpc.EnforcementLevel_ADVISORY {
			t.Errorf("%s = %v", name, d)
		}
	}
	if d := got["k8s-resource-limits"]; len(d) != 1 ||
		!strings.Contains(d[0].GetMessage(), `Pod "web": container "web" (spec.containers[0]) sets no cpu request, memory request, memory limit or cpu limit.`) {
		t.Errorf("k8s-resource-limits = %v", d)
	}

	// Requests and a memory limit pass by default; with requireCpuLimit
	// configured above, the missing CPU limit is the one violation.
	resp, err = c.Analyze(ctx, &pulumirpc.AnalyzeRequest{
		Type: "kubernetes:apps/v1:Deployment", Name: "api", Urn: "urn:pulumi:dev::konductor::kubernetes:apps/v1:Deployment::api",
		Properties: props(t, map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "api"},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "api", "image": "nginx:1.27.3", "resources": map[string]any{
					"requests": map[string]any{"cpu": "100m", "memory": "128Mi"},
					"limits":   map[string]any{"memory": "128Mi"},
				}},
			}}}},
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := byPolicy(resp.GetDiagnostics())["k8s-resource-limits"]; len(d) != 1 ||
		!strings.Contains(d[0].GetMessage(), `Deployment "api": container "api" (spec.template.spec.containers[0]) sets no cpu limit.`) {
		t.Errorf("k8s-resource-limits with requireCpuLimit = %v", d)
	}

	// Preview-time unknowns are not violations; protect is visible.
	resp, err = c.Analyze(ctx, &pulumirpc.AnalyzeRequest{
		Type: "aws:kms/key:Key", Name: "k", Urn: "urn:pulumi:dev::konductor::aws:kms/key:Key::k",
		Properties: props(t, map[string]any{
			"enableKeyRotation": resource.MakeComputed(resource.NewProperty("")),
			"tags": map[string]any{"managed-by": "konductor", "konductor:stack": "dev",
				"konductor:module": resource.MakeComputed(resource.NewProperty(""))},
		}),
		Options: &pulumirpc.AnalyzerResourceOptions{Protect: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ds := resp.GetDiagnostics(); len(ds) != 0 {
		t.Errorf("protected key with unknowns: %v", ds)
	}

	// Stack validation reports against the offending resource.
	const bucketURN = "urn:pulumi:dev::konductor::aws:s3/bucketV2:BucketV2::logs"
	stack, err := c.AnalyzeStack(ctx, &pulumirpc.AnalyzeStackRequest{Resources: []*pulumirpc.AnalyzerResource{{
		Type: "aws:s3/bucketV2:BucketV2", Name: "logs", Urn: bucketURN,
		Properties: props(t, map[string]any{
			"bucket":                             "konductor-dev-logs",
			"serverSideEncryptionConfigurations": resource.MakeComputed(resource.NewProperty("")),
		}),
		Options: &pulumirpc.AnalyzerResourceOptions{Protect: true},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	got = byPolicy(stack.GetDiagnostics())
	if d := got["aws-s3-encryption"]; len(d) != 1 || d[0].GetUrn() != bucketURN ||
		d[0].GetEnforcementLevel() != pulumirpc.EnforcementLevel_ADVISORY {
		t.Errorf("aws-s3-encryption = %v", d)
	}
}
