package config

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// SecurePath locates one encrypted value of a stack file.
type SecurePath struct {
	Key  string // namespace:key, as Pulumi names the config key
	Path []any  // map keys (string) and list indexes (int) below it
}

// SecurePaths finds the {secure: …} values in a stack file, provider keys
// included, reading aliases and merge keys as the loader does. A file the
// loader would reject for its YAML (malformed, too big, a cyclic alias, an
// alias bomb, a duplicate key) is an Errors without a file name: the caller
// knows it.
func SecurePaths(doc []byte, project string) ([]SecurePath, error) {
	if len(doc) > MaxFileSize {
		return nil, tooBig("")
	}
	root, err := parseYAML("", doc, true)
	if err != nil {
		return nil, err
	}
	var out []SecurePath
	// parseYAML bounds the tree with aliases expanded (maxNodes, maxDepth),
	// so this walk is finite and shallow.
	var walk func(n *yaml.Node, key string, path []any)
	walk = func(n *yaml.Node, key string, path []any) {
		n = resolve(n)
		switch n.Kind {
		case yaml.MappingNode:
			if isSecure(n) {
				out = append(out, SecurePath{Key: key, Path: slices.Clone(path)})
				return
			}
			kv := pairs(n)
			for i := 0; i+1 < len(kv); i += 2 {
				walk(kv[i+1], key, append(path, keyOf(kv[i])))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, key, append(path, i))
			}
		}
	}
	top := pairs(root)
	for i := 0; i+1 < len(top); i += 2 {
		cfg := resolve(top[i+1])
		if keyOf(top[i]) != "config" || cfg.Kind != yaml.MappingNode {
			continue
		}
		kv := pairs(cfg)
		for j := 0; j+1 < len(kv); j += 2 {
			key := keyOf(kv[j])
			if !strings.Contains(key, ":") {
				key = project + ":" + key
			}
			walk(kv[j+1], key, nil)
		}
	}
	return out, nil
}
