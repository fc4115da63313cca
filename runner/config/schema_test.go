package config_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/containercraft/konductor-action/modules/builtin"
	"github.com/containercraft/konductor-action/runner/config"
)

// compile turns a generated schema into a validator, as an editor would
// read it: through its JSON text.
func compile(t *testing.T, s map[string]any) *jsonschema.Schema {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("the generated schema does not compile: %v", err)
	}
	return sch
}

// instance reads a YAML file's text as the JSON value a schema validates.
func instance(t *testing.T, text string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestStackSchemaAcceptsTheExample(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "platform")
	project, err := config.ProjectName(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(config.StackFile(dir, "dev"))
	if err != nil {
		t.Fatal(err)
	}
	sch := compile(t, config.StackSchema(builtin.Registry(), project))
	if err := sch.Validate(instance(t, string(b))); err != nil {
		t.Errorf("examples/platform/Pulumi.dev.yaml fails its schema:\n%v", err)
	}
}

// What the loader accepts beyond plain types: encrypted values where a
// string stands, "true" as pulumi config set --path writes it, bare module
// keys, numbers for strings, nulls, provider keys of other namespaces.
func TestStackSchemaAcceptsWhatTheLoaderAccepts(t *testing.T) {
	sch := compile(t, config.StackSchema(builtin.Registry(), "platform"))
	doc := `encryptionsalt: v1:abc
config:
  aws:region: us-east-1
  kubernetes:context: kind
  platform:labels: {team: {secure: v1:AAAA}}
  platform:compliance: {fisma: {level: moderate}, nist: {controls: [AC-2]}}
  kubernetes:
    enabled: "true"
    kubeconfig:
      secure: v1:AAAABBBB
    namespaces:
      - name: apps
        baseline: {resource_quota: {pods: "20"}, limit_range: {}, default_deny: true}
  platform:cert_manager:
    enabled: true
    version: 1.16
    namespace:
    values: {replicaCount: 2}
  platform:azure:
    enabled: false
    storage: {sku: Standard_ZRS}
`
	if err := sch.Validate(instance(t, doc)); err != nil {
		t.Errorf("a valid stack file fails the schema:\n%v", err)
	}
}

func TestStackSchemaRejects(t *testing.T) {
	sch := compile(t, config.StackSchema(builtin.Registry(), "platform"))
	for name, tc := range map[string]struct{ doc, want string }{
		"wrong type":       {"config:\n  platform:kubernetes: {enabled: true, namespaces: {name: apps}}\n", "/config/platform:kubernetes/namespaces"},
		"unknown key":      {"config:\n  platform:kubernetes: {enabled: true, render: out}\n", "render"},
		"unknown module":   {"config:\n  platform:kubernets: {enabled: true}\n", "platform:kubernets"},
		"unknown bare key": {"config:\n  kubernets: {enabled: true}\n", "kubernets"},
		"bad enum":         {"config:\n  platform:azure: {storage: {sku: Premium}}\n", "/config/platform:azure/storage/sku"},
		"secret bool":      {"config:\n  platform:kubernetes: {enabled: {secure: v1:AA}}\n", "/config/platform:kubernetes/enabled"},
		"null module":      {"config:\n  platform:kubernetes:\n", "/config/platform:kubernetes"},
	} {
		t.Run(name, func(t *testing.T) { rejects(t, sch, tc.doc, tc.want) })
	}
}

// rejects checks that doc fails the schema with an error naming want (the
// instance path or the key), as an editor would show it.
func rejects(t *testing.T, sch *jsonschema.Schema, doc, want string) {
	t.Helper()
	err := sch.Validate(instance(t, doc))
	if err == nil {
		t.Fatalf("accepted:\n%s", doc)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error does not name %q:\n%v", want, err)
	}
	if testing.Verbose() {
		t.Log(err)
	}
}

// Every field of konductor.yaml, then mistakes.
func TestSettingsSchema(t *testing.T) {
	sch := compile(t, config.SettingsSchema())
	full := `stacks:
  dev:
    branch: main
    paths: ["modules/**", "charts/**"]
    protected: false
    on_unreviewed: deploy
    policies:
      packs: [./policy/ourpack]
      baseline: true
      rules:
        protect-stateful: {enforcement: mandatory, override: never}
  prod: {branch: release, protected: true}
  qa:
    on_unreviewed: # null keeps the default, for an enum too
policies:
  packs: [./policy/ourpack]
  baseline: false
  rules:
    aws-allowed-regions:
      enforcement: advisory
      properties: {allowedRegions: [us-east-1]}
      override: reviewers
      override_by: [alice, acme/platform]
`
	if err := sch.Validate(instance(t, full)); err != nil {
		t.Errorf("a konductor.yaml with every field fails the schema:\n%v", err)
	}
	// The loader takes the same file.
	dir := t.TempDir()
	write(t, filepath.Join(dir, config.SettingsFile), full)
	if _, err := config.LoadSettings(dir); err != nil {
		t.Fatalf("the loader rejects what the schema accepts: %v", err)
	}
	for name, tc := range map[string]struct{ doc, want string }{
		"wrong type":  {"stacks:\n  dev: {protected: yes please}\n", "/stacks/dev/protected"},
		"unknown key": {"stacks:\n  dev: {brnach: main}\n", "brnach"},
		"bad enum":    {"policies:\n  rules:\n    r: {enforcement: strict}\n", "/policies/rules/r/enforcement"},
	} {
		t.Run(name, func(t *testing.T) {
			rejects(t, sch, tc.doc, tc.want)
			write(t, filepath.Join(dir, config.SettingsFile), tc.doc)
			if _, err := config.LoadSettings(dir); err == nil {
				t.Errorf("the loader accepts what the schema rejects:\n%s", tc.doc)
			}
		})
	}
}
