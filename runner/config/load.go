// Package config reads a repository's Pulumi project and stack files (and the
// optional konductor.yaml) into a typed, validated description of a stack:
// which modules are enabled, with what settings. A file that is wrong in any
// way yields Errors naming the file, the line, the key path and the reason.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
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
	root, err := readYAML(file, false)
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
	file := StackFile(dir, stack)
	root, err := readYAML(file, true)
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
	top := pairs(root)
	for i := 0; i+1 < len(top); i += 2 {
		if keyOf(top[i]) != "config" {
			continue // secretsprovider, encryptionsalt, environment...: Pulumi's own
		}
		cfg := resolve(top[i+1])
		if cfg.Kind == yaml.ScalarNode && cfg.Tag == "!!null" {
			break
		}
		if cfg.Kind != yaml.MappingNode {
			d.fail(cfg, "config", "expected a mapping, got %s", nodeKind(cfg))
			break
		}
		// parseYAML rejected a key written twice; a module can still be
		// named twice, bare and with the project namespace.
		named := map[string]*yaml.Node{}
		kv := pairs(cfg)
		for j := 0; j+1 < len(kv); j += 2 {
			k, v := kv[j], kv[j+1]
			name := keyOf(k)
			ns, key, found := strings.Cut(name, ":")
			if !found {
				ns, key = project, name // Pulumi reads a bare key as project-scoped
			}
			if ns != project {
				continue // provider keys (aws:region, kubernetes:context) belong to the providers
			}
			path := project + ":" + key
			if f, dup := named[path]; dup {
				d.fail(k, path, "duplicate key: given as %q and %q, %s", keyOf(f), name, lines(f, k))
				continue
			}
			named[path] = k
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
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping with enabled: true|false, got %s", nodeKind(n))
		return false, nil
	}
	rest := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	enabled := false
	kv := pairs(n) // merge keys expanded: rest holds no <<
	for i := 0; i+1 < len(kv); i += 2 {
		if keyOf(kv[i]) == "enabled" {
			d.decode(kv[i+1], reflect.ValueOf(&enabled).Elem(), path+".enabled")
			continue
		}
		rest.Content = append(rest.Content, kv[i], kv[i+1])
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

// lineOf finds the node at a dotted path below n ("releases[2].version"),
// or the deepest node on the way that exists. It follows aliases, merge keys
// and list indexes, so an error in one list item points at that item's line;
// the path bounds the walk.
func lineOf(n *yaml.Node, path string) *yaml.Node {
	cur := resolve(n)
	for _, part := range strings.Split(path, ".") {
		name, idx, _ := strings.Cut(part, "[")
		if cur.Kind != yaml.MappingNode {
			return cur
		}
		found := false
		kv := pairs(cur)
		for i := 0; i+1 < len(kv); i += 2 {
			if keyOf(kv[i]) == name {
				cur, found = resolve(kv[i+1]), true
				break
			}
		}
		if !found {
			return cur
		}
		for idx != "" {
			num, rest, _ := strings.Cut(idx, "]")
			i, err := strconv.Atoi(num)
			if err != nil || cur.Kind != yaml.SequenceNode || i < 0 || i >= len(cur.Content) {
				return cur
			}
			cur = resolve(cur.Content[i])
			idx = strings.TrimPrefix(rest, "[")
		}
	}
	return cur
}

// readYAML reads and checks a config file (see parseYAML); stack says it is
// a stack file.
func readYAML(file string, stack bool) (*yaml.Node, error) {
	f, err := os.Open(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, Errors{{File: file, Reason: "file not found"}}
		}
		return nil, Errors{{File: file, Reason: err.Error()}}
	}
	defer f.Close()
	// Read one byte past the limit to tell "at the limit" from "over".
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, Errors{{File: file, Reason: err.Error()}}
	}
	if len(b) > MaxFileSize {
		return nil, tooBig(file)
	}
	return parseYAML(file, b, stack)
}

// DecodeModule decodes a module's config from a JSON or YAML document (the
// engine's decrypted config at run time) and validates it.
func DecodeModule(m modules.Module, doc []byte) (any, error) {
	// No MaxFileSize here: the engine's JSON has any aliases of the file
	// expanded, and parseYAML still bounds the work.
	n, err := parseYAML("", doc, false)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", m.Name(), err)
	}
	d := &decoder{}
	on, cfg := decodeModule(d, m, n, m.Name())
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	if !on {
		return nil, fmt.Errorf("module %s: not enabled", m.Name())
	}
	return cfg, nil
}
