package web

import (
	"errors"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/modules"
	k8smod "github.com/containercraft/konductor-action/modules/kubernetes"
	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/modules/metadata/metadatatest"
)

// The defaults alone make a valid config, with the pinned image.
func TestDefaults(t *testing.T) {
	c := Defaults()
	if c.Image != Image || c.Namespace != "web" || c.Replicas != 1 {
		t.Errorf("defaults %+v", c)
	}
	if err := Module.Validate(&c); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

// Every mistake is a field error naming its key, so the CLI can point at the
// line of Pulumi.<stack>.yaml.
func TestValidation(t *testing.T) {
	c := Defaults()
	c.Namespace = "Web_Site"
	c.Image = "nginx:latest"
	c.Replicas = 0
	c.Message = ""
	c.Resources.MemoryLimit = "lots"
	err := Module.Validate(&c)
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *modules.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("not a field error: %v", e)
		}
		got = append(got, fe.Path)
	}
	if want := "namespace image replicas message resources.memory_limit"; strings.Join(got, " ") != want {
		t.Errorf("error paths %v, want %s\n%v", got, want, err)
	}
	for _, img := range []string{"nginx", "nginx:1.27.3", "ghcr.io/acme/web@sha256:" + strings.Repeat("a", 64)} {
		c := Defaults()
		c.Image = img
		if err := Module.Validate(&c); (err == nil) != (img != "nginx") {
			t.Errorf("image %q: %v", img, err)
		}
	}
}

// Under mocks, deployed after the kubernetes module as the runner does, every
// object goes through the kubernetes module's provider and carries the
// global metadata labels with this module's name.
func TestDeploy(t *testing.T) {
	k8sCfg := k8smod.Module.NewConfig()
	k8sCfg.(*k8smod.Config).RenderDir = t.TempDir()
	c := Defaults()
	mocks := metadatatest.Run(t, nil, func(ctx *pulumi.Context) error {
		facts := metadatatest.Facts()
		k8sOut, err := metadatatest.Deploy(ctx, k8smod.Module, k8sCfg, facts, nil)
		if err != nil {
			return err
		}
		_, err = metadatatest.Deploy(ctx, Module, &c, facts, map[string]modules.Outputs{k8smod.Name: k8sOut})
		return err
	})
	want := map[string]int{"kubernetes:core/v1:Namespace": 1, "kubernetes:core/v1:ConfigMap": 1, "kubernetes:apps/v1:Deployment": 1, "kubernetes:core/v1:Service": 1}
	for typ, n := range want {
		rs := mocks.ByType(typ)
		if len(rs) != n {
			t.Errorf("%s: %d resources, want %d", typ, len(rs), n)
			continue
		}
		for _, r := range rs {
			if !strings.Contains(r.Provider, "kubernetes") {
				t.Errorf("%s: provider %q, want the kubernetes module's", r.URN, r.Provider)
			}
			labels := r.Inputs["metadata"].ObjectValue()["labels"].ObjectValue()
			for k, v := range map[string]string{metadata.LabelManagedBy: metadata.ManagedByValue, metadata.LabelModule: Name, metadata.LabelStack: "dev"} {
				if got := labels[resource.PropertyKey(k)]; !got.IsString() || got.StringValue() != v {
					t.Errorf("%s: label %s = %v, want %s", r.URN, k, got, v)
				}
			}
		}
	}
	dep := mocks.ByType("kubernetes:apps/v1:Deployment")
	if len(dep) == 1 {
		img := dep[0].Inputs["spec"].ObjectValue()["template"].ObjectValue()["spec"].ObjectValue()["containers"].ArrayValue()[0].ObjectValue()["image"]
		if img.StringValue() != Image {
			t.Errorf("image = %v, want the pin %s", img, Image)
		}
	}
}
