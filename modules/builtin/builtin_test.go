package builtin_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/modules"
	awsmod "github.com/containercraft/konductor-action/modules/aws"
	azuremod "github.com/containercraft/konductor-action/modules/azure"
	"github.com/containercraft/konductor-action/modules/builtin"
	"github.com/containercraft/konductor-action/modules/certmanager"
	helmmod "github.com/containercraft/konductor-action/modules/helm"
	k8smod "github.com/containercraft/konductor-action/modules/kubernetes"
	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/modules/metadata/metadatatest"
)

// All five modules composed in one program (under mocks: no cloud or
// cluster here) put the global metadata on every resource that takes it,
// and a 200-character compliance value never breaks a Kubernetes label.
func TestEveryResourceCarriesMetadata(t *testing.T) {
	reg := builtin.Registry()
	facts := metadatatest.Facts()
	long := strings.Repeat("AC-2(4) audit; ", 14)[:200]
	facts.Compliance.Nist.Controls = []string{long}
	facts.Compliance.Fisma.ATO.ID = long

	cfg := func(name string, edit func(any)) any {
		m, _ := reg.Get(name)
		c := m.NewConfig()
		edit(c)
		if err := m.Validate(c); err != nil {
			t.Fatalf("%s config: %v", name, err)
		}
		return c
	}
	chart := t.TempDir()
	k8sCfg := cfg("kubernetes", func(c any) {
		c.(*k8smod.Config).RenderDir = t.TempDir()
		c.(*k8smod.Config).Namespaces = []k8smod.Namespace{{Name: "apps"}}
	})
	cmCfg := cfg("cert_manager", func(c any) { c.(*certmanager.Config).ChartPath = chart })
	helmCfg := cfg("helm", func(c any) {
		c.(*helmmod.Config).Releases = []helmmod.Release{{Name: "web", Chart: "oci://registry.example.com/web", Version: "1.0.0", Namespace: "web", CreateNamespace: true}}
	})
	awsCfg := cfg("aws", func(c any) { c.(*awsmod.Config).Region = "us-east-1" })
	azCfg := cfg("azure", func(c any) {
		c.(*azuremod.Config).Location = "westeurope"
		c.(*azuremod.Config).Storage.AccountName = "konductordev"
	})

	mocks := metadatatest.Run(t, nil, func(ctx *pulumi.Context) error {
		outs := map[string]modules.Outputs{}
		for _, step := range []struct {
			name string
			cfg  any
		}{{"kubernetes", k8sCfg}, {"cert_manager", cmCfg}, {"helm", helmCfg}, {"aws", awsCfg}, {"azure", azCfg}} {
			m, _ := reg.Get(step.name)
			deps := map[string]modules.Outputs{}
			for _, d := range m.DependsOn() {
				deps[d] = outs[d]
			}
			o, err := metadatatest.Deploy(ctx, m, step.cfg, facts, deps)
			if err != nil {
				return err
			}
			outs[step.name] = o
		}
		return nil
	})

	byURN := map[string]metadatatest.Resource{}
	for _, r := range mocks.Resources() {
		byURN[r.URN] = r
	}
	checked := map[string]int{}
	for _, r := range mocks.Resources() {
		if !r.Custom || strings.HasPrefix(r.Type, "pulumi:providers:") {
			continue
		}
		module := moduleOf(r, byURN)
		switch {
		case strings.HasPrefix(r.Type, "kubernetes:") && !strings.HasPrefix(r.Type, "kubernetes:helm.sh/"):
			md := r.Inputs["metadata"]
			if !md.IsObject() {
				t.Errorf("%s: no metadata", r.URN)
				continue
			}
			labels := md.ObjectValue()["labels"]
			if !labels.IsObject() {
				t.Errorf("%s: no labels", r.URN)
				continue
			}
			l := labels.ObjectValue()
			want := map[string]string{metadata.LabelManagedBy: metadata.ManagedByValue, metadata.LabelStack: "dev", metadata.LabelModule: module}
			for k, v := range want {
				if got := l[resource.PropertyKey(k)]; !got.IsString() || got.StringValue() != v {
					t.Errorf("%s: label %s = %v, want %s", r.URN, k, got, v)
				}
			}
			for k, v := range l {
				if v.IsString() && (len(v.StringValue()) > 63 || !metadata.ValidLabelValue(v.StringValue())) {
					t.Errorf("%s: label %s = %q is not a valid label value", r.URN, k, v.StringValue())
				}
			}
			checked["kubernetes"]++
		case strings.HasPrefix(r.Type, "aws:") || strings.HasPrefix(r.Type, "azure-native:"):
			tags := r.Inputs["tags"]
			if !metadata.TakesTags(r.Type) {
				if !tags.IsNull() && tags.V != nil {
					t.Errorf("%s: %s takes no tags but got %v", r.URN, r.Type, tags)
				}
				continue
			}
			if !tags.IsObject() {
				t.Errorf("%s: no tags", r.URN)
				continue
			}
			tg := tags.ObjectValue()
			for k, v := range map[string]string{metadata.TagManagedBy: metadata.ManagedByValue, metadata.TagStack: "dev", metadata.TagModule: module} {
				if got := tg[resource.PropertyKey(k)]; !got.IsString() || got.StringValue() != v {
					t.Errorf("%s: tag %s = %v, want %s", r.URN, k, got, v)
				}
			}
			if len(tg) > 50 {
				t.Errorf("%s: %d tags, over the cloud's cap of 50", r.URN, len(tg))
			}
			checked[strings.SplitN(r.Type, ":", 2)[0]]++
		}
	}
	for _, p := range []string{"kubernetes", "aws", "azure-native"} {
		if checked[p] == 0 {
			t.Errorf("no %s resource was checked: %v", p, checked)
		}
	}
	t.Logf("checked: %v", checked)
}

// moduleOf names the module whose component is the resource's ancestor.
func moduleOf(r metadatatest.Resource, byURN map[string]metadatatest.Resource) string {
	for p := r.Parent; p != ""; p = byURN[p].Parent {
		if a, ok := byURN[p]; ok && a.Type == "konductor:index:Module" {
			return a.Name
		}
		if _, ok := byURN[p]; !ok {
			break
		}
	}
	return ""
}
