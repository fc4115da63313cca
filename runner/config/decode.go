package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Secret is the placeholder a string field holds when validation reads an
// encrypted value (`{secure: v1:...}`) it cannot decrypt. At run time the
// engine decrypts config and modules see the real value.
const Secret = "[secret]"

// FieldError is one problem at one place of a config file.
type FieldError struct {
	File   string
	Line   int
	Path   string // key path, e.g. platform:kubernetes.namespaces[0].name
	Reason string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Errors is every problem found in one load; it is reported whole so a user
// fixes a file in one pass.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// decoder fills Go values from YAML nodes strictly: unknown keys, wrong types
// and bad enum values are reported with their key path and line, and the
// fields a node does not mention keep their defaults.
type decoder struct {
	file string
	errs Errors
	// secrets collects the key paths that held encrypted values.
	secrets []string
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &FieldError{File: d.file, Line: line, Path: path, Reason: fmt.Sprintf(format, args...)})
}

// isSecure reports whether n is Pulumi's encrypted form, {secure: <ciphertext>}.
func isSecure(n *yaml.Node) bool {
	return n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "secure"
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // keep the default
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if isSecure(n) {
		d.secrets = append(d.secrets, path)
		if v.Kind() == reflect.String {
			v.SetString(Secret)
			return
		}
		d.fail(n, path, "an encrypted value can only stand where a string is expected, not %s", kindName(v.Type()))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping, got %s", nodeKind(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		kv := pairs(n)
		for i := 0; i+1 < len(kv); i += 2 {
			k, val := keyOf(kv[i]), kv[i+1]
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, elem, join(path, k))
			v.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), elem)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, got %s", nodeKind(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	default:
		d.decodeScalar(n, v, path)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", nodeKind(n))
		return
	}
	fields := structFields(v.Type())
	// parseYAML rejected duplicate keys and pairs expands merge keys, so
	// each field comes once.
	kv := pairs(n)
	for i := 0; i+1 < len(kv); i += 2 {
		k, val := kv[i], kv[i+1]
		name := keyOf(k)
		p := join(path, name)
		f, ok := fields[name]
		if !ok {
			d.fail(k, p, "unknown key%s", DidYouMean(name, slices.Sorted(maps.Keys(fields))))
			continue
		}
		fv := v.FieldByIndex(f.index)
		d.decode(val, fv, p)
		// A null keeps the default, which may be "" (unset) for an enum.
		if r := resolve(val); r.Kind == yaml.ScalarNode && r.Tag == "!!null" {
			continue
		}
		if f.enum != nil && fv.Kind() == reflect.String && fv.String() != Secret && !slices.Contains(f.enum, fv.String()) {
			d.fail(val, p, "%q is not one of %s", fv.String(), strings.Join(f.enum, ", "))
		}
	}
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected %s, got %s", kindName(v.Type()), nodeKind(n))
		return
	}
	switch v.Kind() {
	case reflect.String:
		// Numbers are fine where a string is expected (a version like 1.16).
		if n.Tag == "!!bool" {
			d.fail(n, path, "expected a string, got boolean %s (quote it)", n.Value)
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Tag != "!!bool" {
			// Pulumi's `config set --path` stores "true" as a string when
			// not given --type bool: accept exactly the two literals.
			if n.Tag == "!!str" && (n.Value == "true" || n.Value == "false") {
				v.SetBool(n.Value == "true")
				return
			}
			d.fail(n, path, "expected a boolean (true or false), got %q", n.Value)
			return
		}
		var b bool
		_ = n.Decode(&b)
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 0, v.Type().Bits())
		if err != nil || (n.Tag != "!!int" && n.Tag != "!!str") {
			d.fail(n, path, "expected an integer, got %q", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(n.Value, 0, v.Type().Bits())
		if err != nil {
			d.fail(n, path, "expected a non-negative integer, got %q", n.Value)
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, v.Type().Bits())
		if err != nil {
			d.fail(n, path, "expected a number, got %q", n.Value)
			return
		}
		v.SetFloat(f)
	default:
		d.fail(n, path, "unsupported field type %s", v.Type())
	}
}

type field struct {
	index []int
	enum  []string
}

// structFields maps yaml keys to fields; embedded structs are flattened.
func structFields(t reflect.Type) map[string]field {
	out := map[string]field{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, sub := range structFields(f.Type) {
				sub.index = append([]int{i}, sub.index...)
				out[k] = sub
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fl := field{index: []int{i}}
		if e := f.Tag.Get("enum"); e != "" {
			fl.enum = strings.Split(e, ",")
		}
		out[name] = fl
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "a YAML node"
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	}
	return t.Kind().String()
}

// DidYouMean suggests the closest known name, or lists them when none is
// close; it returns "" or a parenthesised hint to append to a reason.
func DidYouMean(key string, known []string) string {
	best, bestD := "", 1<<30
	for _, k := range known {
		if d := levenshtein(strings.ToLower(key), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" && bestD <= max(2, len(key)/3) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(known) == 0 {
		return ""
	}
	return " (known: " + strings.Join(known, ", ") + ")"
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
