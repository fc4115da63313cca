// Package config reads a repository's Pulumi project and stack files (and the
// optional konductor.yaml) into a typed, validated description of a stack:
// which modules are enabled, with what settings. A file that is wrong in any
// way yields Errors naming the file, the line, the key path and the reason.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/metadata"
)

// Keys under the project namespace that are not modules.
const (
	KeyLabels     = "labels"
	KeyCompliance = "compliance"
)

// Stack is one stack's validated configuration.
type Stack struct {
	Project string
	Name    string
	Dir     string // the work dir holding Pulumi.yaml
	File    string // the stack file, Pulumi.<stack>.yaml
	// Modules are the enabled modules in dependency order.
	Modules []Enabled
	// Labels are user labels applied to every resource.
	Labels map[string]string
	// Compliance is the compliance block stamped on every resource.
	Compliance metadata.Compliance
	// Secrets lists the key paths that hold encrypted values.
	Secrets []string
	// Settings is konductor.yaml, or its defaults when absent.
	Settings *Settings
	// SettingsFile is where Settings come from (absolute; it may not exist
	// when it is the default dir/konductor.yaml).
	SettingsFile string
}

// Enabled is an enabled module with its validated config (as read from the
// file: encrypted values read as Secret).
type Enabled struct {
	Module modules.Module
	Config any
}

// ModuleNames returns the enabled modules' names in order.
func (s *Stack) ModuleNames() []string {
	names := make([]string, len(s.Modules))
	for i, m := range s.Modules {
		names[i] = m.Module.Name()
	}
	return names
}

// ProjectName reads the project name from dir/Pulumi.yaml.
func ProjectName(dir string) (string, error) {
	file := filepath.Join(dir, "Pulumi.yaml")
	root, err := readYAML(file)
	if err != nil {
		return "", err
	}
	var p struct {
		Name string `yaml:"name"`
	}
	if err := root.Decode(&p); err != nil {
		return "", Errors{{File: file, Line: root.Line, Reason: err.Error()}}
	}
	if p.Name == "" {
		return "", Errors{{File: file, Path: "name", Reason: "required: the Pulumi project name"}}
	}
	return p.Name, nil
}

// Load reads and validates stack in dir against the registry, with the
// settings of dir/konductor.yaml.
func Load(dir, stack string, reg *modules.Registry) (*Stack, error) {
	return LoadWithSettings(dir, stack, reg, "")
}

// LoadWithSettings is Load with the settings read from settingsFile
// (dir/konductor.yaml when empty), which must then exist.
func LoadWithSettings(dir, stack string, reg *modules.Registry, settingsFile string) (*Stack, error) {
	if stack == "" {
		return nil, Errors{{Reason: "no stack given (use --stack)"}}
	}
	// Modules resolve relative paths (render_dir, chart_path) against it.
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	project, err := ProjectName(dir)
	if err != nil {
		return nil, err
	}
	if settingsFile != "" {
		if settingsFile, err = filepath.Abs(settingsFile); err != nil {
			return nil, err
		}
	}
	settings, err := LoadSettingsFile(dir, settingsFile)
	if err != nil {
		return nil, err
	}
	if settingsFile == "" {
		settingsFile = filepath.Join(dir, SettingsFile)
	}
	file := filepath.Join(dir, "Pulumi."+stack+".yaml")
	root, err := readYAML(file)
	if err != nil {
		return nil, err
	}
	st := &Stack{Project: project, Name: stack, Dir: dir, File: file, Settings: settings, SettingsFile: settingsFile}
	d := &decoder{file: file}
	if root.Kind != yaml.MappingNode {
		d.fail(root, "", "expected a mapping with a config key, got %s", nodeKind(root))
		return nil, d.errs
	}
	var enabled []string
	configs := map[string]any{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "config" {
			continue // secretsprovider, encryptionsalt, environment...: Pulumi's own
		}
		cfg := root.Content[i+1]
		if cfg.Kind == yaml.ScalarNode && cfg.Tag == "!!null" {
			break
		}
		if cfg.Kind != yaml.MappingNode {
			d.fail(cfg, "config", "expected a mapping, got %s", nodeKind(cfg))
			break
		}
		for j := 0; j+1 < len(cfg.Content); j += 2 {
			k, v := cfg.Content[j], cfg.Content[j+1]
			ns, key, found := strings.Cut(k.Value, ":")
			if !found {
				ns, key = project, k.Value // Pulumi reads a bare key as project-scoped
			}
			if ns != project {
				continue // provider keys (aws:region, kubernetes:context) belong to the providers
			}
			path := project + ":" + key
			switch key {
			case KeyLabels:
				d.decode(v, reflect.ValueOf(&st.Labels).Elem(), path)
				continue
			case KeyCompliance:
				d.decode(v, reflect.ValueOf(&st.Compliance).Elem(), path)
				continue
			}
			m, ok := reg.Get(key)
			if !ok {
				known := append(reg.Names(), KeyLabels, KeyCompliance)
				d.fail(k, path, "unknown module%s", DidYouMean(key, known))
				if !strings.Contains(d.errs[len(d.errs)-1].Reason, "known:") {
					d.errs[len(d.errs)-1].Reason += " (known modules: " + strings.Join(reg.Names(), ", ") + ")"
				}
				continue
			}
			on, c := decodeModule(d, m, v, path)
			if on {
				enabled = append(enabled, key)
				configs[key] = c
			}
		}
	}
	st.Secrets = d.secrets
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	ordered, err := reg.Order(enabled)
	if err != nil {
		var de *modules.DependencyError
		if errors.As(err, &de) {
			return nil, Errors{{File: file, Path: project + ":" + de.Module, Reason: de.Reason}}
		}
		return nil, err
	}
	for _, m := range ordered {
		st.Modules = append(st.Modules, Enabled{Module: m, Config: configs[m.Name()]})
	}
	return st, nil
}

// decodeModule decodes one module section; validation (required fields,
// enums beyond types) runs only when the module is enabled, but unknown keys
// and wrong types are reported either way.
func decodeModule(d *decoder, m modules.Module, n *yaml.Node, path string) (bool, any) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping with enabled: true|false, got %s", nodeKind(n))
		return false, nil
	}
	rest := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	enabled := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "enabled" {
			d.decode(n.Content[i+1], reflect.ValueOf(&enabled).Elem(), path+".enabled")
			continue
		}
		rest.Content = append(rest.Content, n.Content[i], n.Content[i+1])
	}
	cfg := m.NewConfig()
	before := len(d.errs)
	d.decode(rest, reflect.ValueOf(cfg).Elem(), path)
	if !enabled || len(d.errs) > before {
		return enabled, cfg
	}
	if err := m.Validate(cfg); err != nil {
		addValidation(d, n, path, err)
	}
	return true, cfg
}

// addValidation turns a module's validation error(s) into FieldErrors.
func addValidation(d *decoder, n *yaml.Node, path string, err error) {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var fe *modules.FieldError
		if errors.As(e, &fe) {
			full := join(path, fe.Path)
			if slices.Contains(d.secrets, full) {
				// The field holds an encrypted value, read here as the
				// Secret placeholder: the module validates the real value
				// when the program runs (DecodeModule).
				continue
			}
			d.fail(lineOf(n, fe.Path), full, "%s", fe.Reason)
		} else {
			d.fail(n, path, "%v", e)
		}
	}
}

// lineOf finds the node at a dotted path below n, or n itself.
func lineOf(n *yaml.Node, path string) *yaml.Node {
	cur := n
	for _, part := range strings.Split(path, ".") {
		name, _, _ := strings.Cut(part, "[")
		if cur.Kind != yaml.MappingNode {
			return cur
		}
		found := false
		for i := 0; i+1 < len(cur.Content); i += 2 {
			if cur.Content[i].Value == name {
				cur, found = cur.Content[i+1], true
				break
			}
		}
		if !found {
			return cur
		}
	}
	return cur
}

func readYAML(file string) (*yaml.Node, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, Errors{{File: file, Reason: "file not found"}}
		}
		return nil, Errors{{File: file, Reason: err.Error()}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, Errors{{File: file, Reason: "malformed YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode}, nil
	}
	return doc.Content[0], nil
}

// DecodeModule decodes a module's config from a JSON or YAML document (the
// engine's decrypted config at run time) and validates it.
func DecodeModule(m modules.Module, doc []byte) (any, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(doc, &n); err != nil {
		return nil, fmt.Errorf("module %s: %w", m.Name(), err)
	}
	d := &decoder{}
	if len(n.Content) == 0 {
		n = yaml.Node{Kind: yaml.MappingNode}
	} else {
		n = *n.Content[0]
	}
	on, cfg := decodeModule(d, m, &n, m.Name())
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	if !on {
		return nil, fmt.Errorf("module %s: not enabled", m.Name())
	}
	return cfg, nil
}
