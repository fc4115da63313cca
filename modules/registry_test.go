package modules_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/modules"
)

func stub(name string, deps ...string) modules.Module {
	return modules.Define(modules.Spec[struct{}]{
		Name:      name,
		DependsOn: deps,
		Deploy: func(*pulumi.Context, *struct{}, modules.Env) (modules.Outputs, error) {
			return nil, nil
		},
	})
}

// A custom build's modules join the built-in ones; one that would replace a
// built-in, or whose name is not a config key, is refused.
func TestRegistryWith(t *testing.T) {
	base := modules.NewRegistry(stub("kubernetes"))
	reg, err := base.With(stub("acme_web", "kubernetes"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(reg.Names(), ","); got != "acme_web,kubernetes" {
		t.Errorf("names = %s", got)
	}
	if got := strings.Join(base.Names(), ","); got != "kubernetes" {
		t.Errorf("With changed the registry it extends: %s", got)
	}
	order, err := reg.Order([]string{"acme_web", "kubernetes"})
	if err != nil || order[0].Name() != "kubernetes" {
		t.Errorf("order = %v, %v", order, err)
	}
	for _, tc := range []struct {
		mods []modules.Module
		want string
	}{
		{[]modules.Module{stub("kubernetes")}, `"kubernetes" is added twice, or takes the name of a built-in`},
		{[]modules.Module{stub("x"), stub("x")}, `"x" is added twice`},
		{[]modules.Module{stub("Acme-Web")}, `"Acme-Web": use lowercase letters`},
		{[]modules.Module{stub("")}, `"": use lowercase`},
		{[]modules.Module{nil}, "nil module"},
	} {
		if _, err := base.With(tc.mods...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("With(%v) = %v, want %q", tc.mods, err, tc.want)
		}
	}
}
