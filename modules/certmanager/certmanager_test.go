package certmanager

import (
	"errors"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/versions"
)

func TestDefaults(t *testing.T) {
	c := Defaults()
	if c.Version != versions.Get(Name, "version") || c.Repository != DefaultRepository || c.Namespace != DefaultNamespace ||
		!c.Issuers.Enabled || c.Issuers.Name != DefaultIssuer || !c.KeepCRDs {
		t.Errorf("defaults %+v", c)
	}
	if err := Module.Validate(&c); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestValues(t *testing.T) {
	c := Defaults()
	c.Values = map[string]any{"webhook": map[string]any{"replicaCount": 2}, "crds": map[string]any{"keep": false}}
	v := Values(&c)
	if v["crds"].(map[string]any)["enabled"] != true || v["crds"].(map[string]any)["keep"] != false {
		t.Errorf("crds = %v, want enabled with the user's keep", v["crds"])
	}
	wh := v["webhook"].(map[string]any)
	if wh["replicaCount"] != 2 || wh["resources"] == nil {
		t.Errorf("webhook = %v, want the user's replicaCount merged with the module's resources", wh)
	}
	if got := v["resources"].(map[string]any)["limits"].(map[string]any)["memory"]; got != "512Mi" {
		t.Errorf("controller limits.memory = %v", got)
	}
}

func TestValidation(t *testing.T) {
	c := Defaults()
	c.Version = "latest"
	c.Repository = "charts.jetstack.io"
	c.Namespace = "Cert_Manager"
	c.Resources.Webhook.Requests.Memory = "1Gi"
	c.Resources.CAInjector.Limits.CPU = "fast"
	c.Issuers.Name = "My CA"
	c.Issuers.Duration = "10y"
	err := Module.Validate(&c)
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *modules.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("not a field error: %v", e)
		}
		got = append(got, fe.Path)
	}
	want := "version repository namespace resources.webhook.requests.memory resources.cainjector.limits.cpu issuers.name issuers.duration"
	if strings.Join(got, " ") != want {
		t.Errorf("error paths %v, want %s\n%v", got, want, err)
	}
	// A local chart needs no repository; disabled issuers are not checked.
	c = Defaults()
	c.ChartPath, c.Repository = "charts/cert-manager", ""
	c.Issuers = Issuers{Enabled: false}
	if err := Module.Validate(&c); err != nil {
		t.Error(err)
	}
}
