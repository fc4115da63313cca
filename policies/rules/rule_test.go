package rules

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"testing"
)

// TestAll pins the rule set and default levels, and checks every rule is
// well-formed.
func TestAll(t *testing.T) {
	want := map[string]Level{
		"required-metadata":          Advisory,
		"protect-stateful":           Advisory,
		"k8s-no-privileged":          Mandatory,
		"k8s-no-host-namespaces":     Mandatory,
		"k8s-image-pinned":           Advisory,
		"k8s-resource-limits":        Advisory,
		"k8s-namespace-metadata":     Advisory,
		"aws-s3-public-access-block": Mandatory,
		"aws-s3-encryption":          Advisory,
		"aws-kms-rotation":           Advisory,
		"aws-sg-no-admin-ingress":    Mandatory,
		"aws-iam-no-star":            Mandatory,
		"aws-allowed-regions":        Advisory,
		"azure-storage-secure":       Mandatory,
		"azure-allowed-locations":    Advisory,
	}
	all := All()
	if len(all) != len(want) {
		t.Errorf("All() has %d rules, want %d", len(all), len(want))
	}
	nameRE := regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	seen := map[string]bool{}
	for i, r := range all {
		if i > 0 && all[i-1].Name >= r.Name {
			t.Errorf("All() not sorted at %q", r.Name)
		}
		if seen[r.Name] {
			t.Errorf("duplicate rule %q", r.Name)
		}
		seen[r.Name] = true
		if !nameRE.MatchString(r.Name) || r.Name == "all" {
			t.Errorf("bad rule name %q", r.Name)
		}
		if lvl, ok := want[r.Name]; !ok {
			t.Errorf("unexpected rule %q", r.Name)
		} else if r.Level != lvl {
			t.Errorf("%s: level %q, want %q", r.Name, r.Level, lvl)
		}
		if r.Description == "" {
			t.Errorf("%s: no description", r.Name)
		}
		switch r.Provider {
		case "all", "kubernetes", "aws", "azure":
		default:
			t.Errorf("%s: provider %q", r.Name, r.Provider)
		}
		if (r.Check == nil) == (r.CheckStack == nil) {
			t.Errorf("%s: exactly one of Check and CheckStack must be set", r.Name)
		}
		if r.IsStack() && len(r.Properties) > 0 {
			t.Errorf("%s: stack rules cannot take properties (policyx passes no config to stack policies)", r.Name)
		}
		for _, p := range r.Properties {
			if p.Name == "" || p.Name == "enforcementLevel" || p.Description == "" {
				t.Errorf("%s: bad property %+v", r.Name, p)
			}
			switch p.Type {
			case "string", "boolean", "number", "integer":
			case "array":
				if p.Items == "" {
					t.Errorf("%s.%s: array without item type", r.Name, p.Name)
				}
			default:
				t.Errorf("%s.%s: type %q", r.Name, p.Name, p.Type)
			}
			// Defaults must survive a JSON round trip unchanged: they go into
			// the JSON schema and come back from the engine as JSON.
			b, err := json.Marshal(p.Default)
			if err != nil {
				t.Fatal(err)
			}
			var back any
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, p.Default) {
				t.Errorf("%s.%s: default %#v is not JSON-shaped", r.Name, p.Name, p.Default)
			}
			if err := p.Check(p.Default); err != nil {
				t.Errorf("%s.%s: default fails its own type: %v", r.Name, p.Name, err)
			}
		}
		for old, hint := range r.Retired {
			if hint == "" || slices.ContainsFunc(r.Properties, func(p Property) bool { return p.Name == old }) {
				t.Errorf("%s: retired property %q is still a property or has no hint", r.Name, old)
			}
		}
	}
}

func TestConfigMerge(t *testing.T) {
	r, _ := Lookup("aws-allowed-regions")
	if got := r.Config(nil).Strings("allowedRegions"); len(got) != 5 {
		t.Errorf("defaults = %v", got)
	}
	got := r.Config(map[string]any{"allowedRegions": []any{"eu-north-1"}, "enforcementLevel": "mandatory", "other": 1})
	if !reflect.DeepEqual(got, Config{"allowedRegions": []any{"eu-north-1"}}) {
		t.Errorf("merged config = %#v", got)
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup(nope) found a rule")
	}
}

// TestPropertyCheck: values as konductor.yaml decodes them (YAML ints stay
// int) are checked against the property's JSON schema type.
func TestPropertyCheck(t *testing.T) {
	boolean := Property{Name: "requireCpuLimit", Type: "boolean"}
	ports := Property{Name: "adminPorts", Type: "array", Items: "number"}
	regions := Property{Name: "allowedRegions", Type: "array", Items: "string"}
	count := Property{Name: "n", Type: "integer"}
	for _, c := range []struct {
		p    Property
		v    any
		want string // error text; "" for a valid value
	}{
		{boolean, true, ""},
		{boolean, false, ""},
		{boolean, "yes", `"yes" is not a boolean (true or false)`},
		{boolean, "true", `"true" is not a boolean (true or false)`},
		{boolean, 1, `1 is not a boolean (true or false)`},
		{boolean, nil, `null is not a boolean (true or false)`},
		{ports, []any{22, 3389.0}, ""},
		{ports, []any{22, "ssh"}, `element 1, "ssh", is not a number`},
		{ports, 22, `22 is not a list of numbers`},
		{regions, []any{"eu-west-1"}, ""},
		{regions, "eu-west-1", `"eu-west-1" is not a list of strings`},
		{regions, []any{"cpu", "memory"}, ""},
		{count, 3, ""},
		{count, 2.5, `2.5 is not a whole number`},
		{Property{Name: "s", Type: "string"}, []any{"a"}, `["a"] is not a string`},
	} {
		err := c.p.Check(c.v)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s.Check(%#v) = %q, want %q", c.p.Name, c.v, got, c.want)
		}
	}
}
