package pack

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/property"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/containercraft/konductor-action/policies/rules"
)

type report struct{ message, urn string }

type fakeManager struct{ reports []report }

func (m *fakeManager) ReportViolation(message, urn string) {
	m.reports = append(m.reports, report{message, urn})
}

func TestNew(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "konductor-baseline" || p.Version().String() != "0.1.0" {
		t.Errorf("pack = %s@%s", p.Name(), p.Version())
	}
	all := rules.All()
	if len(p.Policies()) != len(all) {
		t.Fatalf("%d policies, want %d", len(p.Policies()), len(all))
	}
	for i, pol := range p.Policies() {
		r := all[i]
		if pol.Name() != r.Name || pol.Description() != r.Description {
			t.Errorf("policy %d = %s, want %s", i, pol.Name(), r.Name)
		}
		lvl, _ := Level(r.Level)
		if pol.EnforcementLevel() != lvl {
			t.Errorf("%s: level %v, want %v", r.Name, pol.EnforcementLevel(), lvl)
		}
		_, isStack := pol.(policyx.StackValidationPolicy)
		_, isResource := pol.(policyx.ResourceValidationPolicy)
		if isStack != r.IsStack() || isResource == r.IsStack() {
			t.Errorf("%s: stack=%v resource=%v", r.Name, isStack, isResource)
		}
		// policyx's GetAnalyzerInfo converts the schema with structpb; a
		// default it cannot convert would fail the whole pack.
		if s := pol.ConfigSchema(); s != nil {
			m := map[string]any{}
			for k, v := range s.Properties {
				m[k] = v
			}
			if _, err := structpb.NewStruct(m); err != nil {
				t.Errorf("%s: schema not convertible: %v", r.Name, err)
			}
			for _, prop := range r.Properties {
				if !reflect.DeepEqual(s.Properties[prop.Name]["default"], prop.Default) {
					t.Errorf("%s.%s: schema default %v", r.Name, prop.Name, s.Properties[prop.Name]["default"])
				}
			}
		} else if len(r.Properties) > 0 {
			t.Errorf("%s: properties but no schema", r.Name)
		}
	}
}

func TestValue(t *testing.T) {
	pm := resource.PropertyMap{
		"s":        resource.NewProperty("x"),
		"n":        resource.NewProperty(22.0),
		"b":        resource.NewProperty(true),
		"null":     resource.NewNullProperty(),
		"computed": resource.MakeComputed(resource.NewProperty("")),
		"secret":   resource.MakeSecret(resource.NewProperty("hunter2")),
		"unknownOutput": resource.NewProperty(resource.Output{
			Element: resource.NewNullProperty(), Known: false}),
		"knownSecretOutput": resource.NewProperty(resource.Output{
			Element: resource.NewProperty("v"), Known: true, Secret: true}),
		"arr": resource.NewProperty([]resource.PropertyValue{
			resource.NewProperty("a"), resource.MakeComputed(resource.NewProperty(""))}),
		"obj": resource.NewProperty(resource.PropertyMap{
			"labels": resource.NewProperty(resource.PropertyMap{"k": resource.NewProperty("v")})}),
	}
	got := Map(resource.FromResourcePropertyMap(pm))
	want := map[string]any{
		"s": "x", "n": 22.0, "b": true, "null": nil,
		"computed": rules.Unknown{}, "secret": "hunter2",
		"unknownOutput": rules.Unknown{}, "knownSecretOutput": "v",
		"arr": []any{"a", rules.Unknown{}},
		"obj": map[string]any{"labels": map[string]any{"k": "v"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Map = %#v\nwant %#v", got, want)
	}
}

func policyNamed(t *testing.T, name string) policyx.Policy {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, pol := range p.Policies() {
		if pol.Name() == name {
			return pol
		}
	}
	t.Fatalf("no policy %s", name)
	return nil
}

func TestResourcePolicyUsesConfig(t *testing.T) {
	pol := policyNamed(t, "aws-allowed-regions").(policyx.ResourceValidationPolicy)
	res := policyx.AnalyzerResource{
		Type:       "pulumi:providers:aws",
		URN:        "urn:pulumi:dev::p::pulumi:providers:aws::default_6_83_4",
		Properties: property.NewMap(map[string]property.Value{"region": property.New("ap-southeast-2")}),
	}
	for _, tc := range []struct {
		name   string
		config map[string]any
		want   int
	}{
		{"defaults (engine sent none)", nil, 1},
		{"configured region allowed", map[string]any{"allowedRegions": []any{"ap-southeast-2"}}, 0},
		{"configured region list without it", map[string]any{"allowedRegions": []any{"eu-west-1"}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeManager{}
			err := pol.Validate(context.Background(), policyx.ResourceValidationArgs{Manager: m, Resource: res, Config: tc.config})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.reports) != tc.want {
				t.Fatalf("reports = %+v, want %d", m.reports, tc.want)
			}
			for _, r := range m.reports {
				if r.urn != "" || !strings.Contains(r.message, "Remediation: ") {
					t.Errorf("report = %+v", r)
				}
			}
		})
	}
}

func TestResourcePolicySeesProtectAndProvider(t *testing.T) {
	protect := policyNamed(t, "protect-stateful").(policyx.ResourceValidationPolicy)
	key := policyx.AnalyzerResource{Type: "aws:kms/key:Key", Properties: property.NewMap(nil)}
	m := &fakeManager{}
	_ = protect.Validate(context.Background(), policyx.ResourceValidationArgs{Manager: m, Resource: key})
	if len(m.reports) != 1 {
		t.Errorf("unprotected key: %+v", m.reports)
	}
	key.Options.Protect = true
	m = &fakeManager{}
	_ = protect.Validate(context.Background(), policyx.ResourceValidationArgs{Manager: m, Resource: key})
	if len(m.reports) != 0 {
		t.Errorf("protected key: %+v", m.reports)
	}

	meta := policyNamed(t, "required-metadata").(policyx.ResourceValidationPolicy)
	bucket := policyx.AnalyzerResource{
		Type:       "aws:s3/bucket:Bucket",
		Properties: property.NewMap(map[string]property.Value{"bucket": property.New("b")}),
		Provider: policyx.AnalyzerProviderResource{
			Type: "pulumi:providers:aws",
			Properties: property.NewMap(map[string]property.Value{
				"defaultTags": property.New(`{"tags":{"managed-by":"konductor","konductor:stack":"dev","konductor:module":"aws"}}`),
			}),
		},
	}
	m = &fakeManager{}
	_ = meta.Validate(context.Background(), policyx.ResourceValidationArgs{Manager: m, Resource: bucket})
	if len(m.reports) != 0 {
		t.Errorf("bucket tagged through provider defaultTags: %+v", m.reports)
	}
}

func TestStackPolicyReportsURN(t *testing.T) {
	pol := policyNamed(t, "aws-s3-encryption").(policyx.StackValidationPolicy)
	const urn = "urn:pulumi:dev::p::aws:s3/bucketV2:BucketV2::logs"
	m := &fakeManager{}
	err := pol.Validate(context.Background(), policyx.StackValidationArgs{Manager: m, Resources: []policyx.AnalyzerResource{{
		Type: "aws:s3/bucketV2:BucketV2", URN: urn, Name: "logs",
		Properties: property.NewMap(map[string]property.Value{
			"bucket":                             property.New("logs"),
			"serverSideEncryptionConfigurations": property.New(property.Computed),
		}),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.reports) != 1 || m.reports[0].urn != urn {
		t.Errorf("reports = %+v", m.reports)
	}
}
