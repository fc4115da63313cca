package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Limits on what one config file can make the loader do. yaml.v3 bounds
// nesting while it parses, but a yaml.Node tree keeps each alias as a
// pointer to its anchor: a walker that follows them (the decoder,
// SecurePaths) recurses forever on a cyclic alias and does exponential work
// on an alias bomb. parseYAML rejects both before anything walks the tree.
const (
	// MaxFileSize is the largest config file read. Real stack files are a
	// few KiB; the limit keeps a runaway file from costing minutes.
	MaxFileSize = 1 << 20
	// maxNodes bounds a document's node count with its aliases expanded.
	// A file under MaxFileSize cannot hold many more nodes without
	// aliases, so in practice only an alias bomb reaches it.
	maxNodes = MaxFileSize
	// maxDepth bounds nesting (aliases expanded), so the recursive walkers
	// stay shallow. No real config nests beyond a dozen levels.
	maxDepth = 1000
)

// parseYAML parses a config document and checks that it is safe and
// unambiguous to walk: no cyclic alias, at most maxNodes nodes and maxDepth
// levels once aliases are expanded, no key given twice in a mapping, merge
// keys (<<) given a mapping or a list of mappings. It returns the document's
// top node (an empty mapping for an empty document). Every tree the walkers
// of this package see comes from here, which is what keeps them finite.
// stack says the document is a stack file: paths in errors then start at
// the Pulumi key below config (app:stash.values), as the decoder's do.
func parseYAML(file string, b []byte, stack bool) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, Errors{{File: file, Reason: "malformed YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode}, nil
	}
	c := &checker{file: file, stack: stack, anchored: map[*yaml.Node]*extent{}}
	c.walk(doc.Content[0])
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return doc.Content[0], nil
}

// tooBig is the error for a file of more than MaxFileSize bytes.
func tooBig(file string) error {
	return Errors{{File: file, Reason: fmt.Sprintf("file is larger than %d bytes (%d KiB), the limit for a config file", MaxFileSize, MaxFileSize>>10)}}
}

// checker is parseYAML's one walk over a document. It follows each alias
// once per reference, but the size and depth of an anchored node are
// memoised, so the walk is linear in the file even for an alias bomb.
type checker struct {
	file  string
	stack bool
	errs  Errors
	// abort stops the walk at a cyclic alias or a blown limit: going on
	// could only repeat the error or run long.
	abort bool
	segs  []string // key path to the current node ("[i]" for list items)
	level int      // nesting of the current node, aliases expanded
	reach int      // deepest level reached so far, aliases expanded
	count int      // nodes seen so far, aliases expanded
	// anchored holds what the walk knows of each anchored node: while it
	// is not done, it is on the current path and an alias to it is a cycle.
	anchored map[*yaml.Node]*extent
}

type extent struct {
	done  bool
	nodes int // nodes with aliases expanded
	depth int // levels with aliases expanded
}

func (c *checker) fail(n *yaml.Node, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{File: c.file, Line: n.Line, Path: c.path(), Reason: fmt.Sprintf(format, args...)})
}

// path renders c.segs like the decoder's paths; a pathological depth is
// cut short so the error stays readable.
func (c *checker) path() string {
	segs := c.segs
	if c.stack && len(segs) > 1 && segs[0] == "config" {
		segs = segs[1:]
	}
	const show = 12
	cut := len(segs) > show
	if cut {
		segs = segs[:show]
	}
	var b strings.Builder
	for _, s := range segs {
		if b.Len() > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	if cut {
		b.WriteString("…")
	}
	return b.String()
}

func (c *checker) walk(n *yaml.Node) {
	if c.abort {
		return
	}
	c.level++
	defer func() { c.level-- }()
	c.reach = max(c.reach, c.level)
	if c.level > maxDepth {
		c.fail(n, "nested more than %d levels deep", maxDepth)
		c.abort = true
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		c.alias(n)
		return
	}
	c.count++
	if c.count > maxNodes {
		c.fail(n, "the file holds more than %d YAML nodes", maxNodes)
		c.abort = true
		return
	}
	var e *extent
	startCount, startReach := c.count, c.reach
	if n.Anchor != "" {
		e = &extent{}
		c.anchored[n] = e
		c.reach = c.level
	}
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, item := range n.Content {
			c.segs = append(c.segs, fmt.Sprintf("[%d]", i))
			c.walk(item)
			c.segs = c.segs[:len(c.segs)-1]
		}
	case yaml.MappingNode:
		c.mapping(n)
	}
	if e != nil {
		e.done = true
		e.nodes = c.count - startCount + 1
		e.depth = c.reach - c.level + 1
		c.reach = max(c.reach, startReach)
	}
}

// alias accounts for the expansion of an alias: its anchor's nodes and
// depth as if written out here, without walking them again.
func (c *checker) alias(n *yaml.Node) {
	e, ok := c.anchored[n.Alias]
	if !ok {
		// The parser defines an anchor before any alias to it, so this is
		// a hand-built tree: walk the target, bounded by maxDepth.
		c.walk(n.Alias)
		return
	}
	if !e.done {
		c.fail(n, "alias *%s refers back to its own anchor &%s, which contains it: a cyclic alias cannot be expanded", n.Value, n.Alias.Anchor)
		c.abort = true
		return
	}
	c.count += e.nodes
	c.reach = max(c.reach, c.level+e.depth-1)
	switch {
	case c.count > maxNodes:
		c.fail(n, "alias *%s takes the file past %d YAML nodes once expanded (an alias bomb?)", n.Value, maxNodes)
		c.abort = true
	case c.reach > maxDepth:
		c.fail(n, "alias *%s nests the file more than %d levels deep once expanded", n.Value, maxDepth)
		c.abort = true
	}
}

func (c *checker) mapping(n *yaml.Node) {
	// yaml.v3 rejects a duplicate key only when it decodes into Go values,
	// and Pulumi does just that later: report it now, naming both lines.
	var first map[string]*yaml.Node
	var merge *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if isMerge(k) {
			if merge != nil {
				c.segs = append(c.segs, "<<")
				c.fail(k, "merge key given twice, %s; merge several mappings with <<: [*a, *b]", lines(merge, k))
				c.segs = c.segs[:len(c.segs)-1]
			}
			merge = k
			continue
		}
		name, ok := scalarKey(k)
		if !ok {
			continue
		}
		if first == nil {
			first = map[string]*yaml.Node{}
		}
		if f, dup := first[name]; dup {
			c.segs = append(c.segs, name)
			c.fail(k, "duplicate key, %s", lines(f, k))
			c.segs = c.segs[:len(c.segs)-1]
			continue
		}
		first[name] = k
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name, ok := scalarKey(k)
		if !ok {
			name = "?" // a complex key has no path of its own
		}
		c.segs = append(c.segs, name)
		c.walk(k)
		c.walk(v)
		if isMerge(k) && !c.abort && !mergeable(v) {
			c.fail(v, "a merge key (<<) takes a mapping or a list of mappings (<<: *defaults or <<: [*a, *b]), got %s", nodeKind(resolve(v)))
		}
		c.segs = c.segs[:len(c.segs)-1]
	}
}

func lines(a, b *yaml.Node) string {
	if a.Line == b.Line {
		return fmt.Sprintf("twice on line %d", a.Line)
	}
	return fmt.Sprintf("at lines %d and %d", a.Line, b.Line)
}

// mergeable reports whether v is a valid merge key value.
func mergeable(v *yaml.Node) bool {
	v = resolve(v)
	if v.Kind == yaml.SequenceNode {
		for _, s := range v.Content {
			if resolve(s).Kind != yaml.MappingNode {
				return false
			}
		}
		return true
	}
	return v.Kind == yaml.MappingNode
}

// resolve is n, or the node it is an alias of.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// scalarKey is the text of a scalar key, written or through an alias.
func scalarKey(k *yaml.Node) (string, bool) {
	k = resolve(k)
	return k.Value, k.Kind == yaml.ScalarNode
}

// keyOf is a key's text as the decoder matches it (an alias key reads as
// its anchor's value, not the anchor's name).
func keyOf(k *yaml.Node) string {
	return resolve(k).Value
}

// isMerge reports whether k is YAML's merge key: a plain <<, not "<<".
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// pairs is a mapping's key/value pairs, flat like Content, with merge keys
// expanded as YAML defines them: a key written in the mapping wins over a
// merged one, and of several merged mappings the earlier wins, so neither
// is a duplicate. n must come from parseYAML (acyclic, bounded).
func pairs(n *yaml.Node) []*yaml.Node {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return nil
	}
	hasMerge := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			hasMerge = true
			break
		}
	}
	if !hasMerge {
		l := len(n.Content) &^ 1
		return n.Content[:l:l] // capped: a caller's append must not write into n
	}
	taken := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if name, ok := scalarKey(n.Content[i]); ok && !isMerge(n.Content[i]) {
			taken[name] = true
		}
	}
	var out []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMerge(k) {
			out = append(out, k, v)
			continue
		}
		srcs := []*yaml.Node{v}
		if v = resolve(v); v.Kind == yaml.SequenceNode {
			srcs = v.Content
		}
		for _, src := range srcs {
			sp := pairs(src)
			for j := 0; j+1 < len(sp); j += 2 {
				name, ok := scalarKey(sp[j])
				if ok && taken[name] {
					continue
				}
				if ok {
					taken[name] = true
				}
				out = append(out, sp[j], sp[j+1])
			}
		}
	}
	return out
}
