package modules

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Registry is the set of modules a build knows.
type Registry struct {
	byName map[string]Module
}

// NewRegistry returns a registry of mods; names must be unique.
func NewRegistry(mods ...Module) *Registry {
	r := &Registry{byName: make(map[string]Module, len(mods))}
	for _, m := range mods {
		if _, dup := r.byName[m.Name()]; dup {
			panic("modules: duplicate module " + m.Name())
		}
		r.byName[m.Name()] = m
	}
	return r
}

// validName is what a module name must look like: it is a key of stack
// config (`pulumi config set --path <name>.enabled true`) and a label value.
var validName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// With returns a new registry holding r's modules and extra, as a custom
// build adds its own modules to the built-in ones. Unlike NewRegistry it
// returns an error, not a panic: the names come from another team's code,
// and a module that took a built-in's name would silently replace it.
func (r *Registry) With(extra ...Module) (*Registry, error) {
	out := &Registry{byName: make(map[string]Module, len(r.byName)+len(extra))}
	for n, m := range r.byName {
		out.byName[n] = m
	}
	for _, m := range extra {
		if m == nil {
			return nil, fmt.Errorf("modules: a nil module was added")
		}
		n := m.Name()
		if !validName.MatchString(n) {
			return nil, fmt.Errorf("modules: module name %q: use lowercase letters, digits and _, starting with a letter", n)
		}
		if _, dup := out.byName[n]; dup {
			return nil, fmt.Errorf("modules: module %q is added twice, or takes the name of a built-in module", n)
		}
		out.byName[n] = m
	}
	return out, nil
}

// Get returns the named module.
func (r *Registry) Get(name string) (Module, bool) {
	m, ok := r.byName[name]
	return m, ok
}

// Names returns every module name, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DependencyError reports a dependency problem among enabled modules.
type DependencyError struct {
	Module string
	Reason string
}

func (e *DependencyError) Error() string { return e.Module + ": " + e.Reason }

// Order returns the enabled modules in dependency order: every module after
// the modules it depends on, ties broken by name so the order is stable.
// A dependency that is not enabled, or a cycle, is an error.
func (r *Registry) Order(enabled []string) ([]Module, error) {
	set := make(map[string]Module, len(enabled))
	for _, n := range enabled {
		m, ok := r.byName[n]
		if !ok {
			return nil, &DependencyError{Module: n, Reason: "unknown module (known: " + strings.Join(r.Names(), ", ") + ")"}
		}
		set[n] = m
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, d := range set[n].DependsOn() {
			if _, ok := set[d]; !ok {
				return nil, &DependencyError{Module: n, Reason: fmt.Sprintf("depends on %q, which is not enabled (set %s.enabled: true)", d, d)}
			}
		}
	}

	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[string]int, len(set))
	var out []Module
	var stack []string
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case done:
			return nil
		case visiting:
			i := slices.Index(stack, n)
			cycle := append(slices.Clone(stack[i:]), n)
			return &DependencyError{Module: n, Reason: "dependency cycle: " + strings.Join(cycle, " -> ")}
		}
		state[n] = visiting
		stack = append(stack, n)
		deps := slices.Clone(set[n].DependsOn())
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		out = append(out, set[n])
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}
