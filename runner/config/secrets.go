package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// SecretLeaves returns the values of a secret config key that are secrets,
// given the stack file (doc) and the key's decrypted value as the engine
// reports it (a JSON document for an object, else the scalar's text).
//
// Pulumi marks a whole top-level key secret when any leaf under it is
// encrypted, and ESC environments (`environment:`) add values that are not
// in the file at all. A leaf is therefore plain only when the stack file
// holds that very value, unencrypted, at the same path; every other leaf of
// a secret key (each `secure:` value, everything an environment supplied)
// is a secret. Erring that way can only hide a plain value, never show a
// secret one.
func SecretLeaves(doc []byte, project, key, decrypted string) []string {
	plain := fileValue(doc, project, key)
	// An object or a list arrives as JSON; a scalar is its text, as the
	// program reads it.
	var v any = decrypted
	if t := strings.TrimSpace(decrypted); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		var obj any
		if json.Unmarshal([]byte(decrypted), &obj) == nil {
			v = obj
		}
	}
	seen := map[string]bool{}
	var out []string
	var walk func(v, file any)
	walk = func(v, file any) {
		switch x := v.(type) {
		case map[string]any:
			fm, _ := file.(map[string]any)
			for _, k := range slices.Sorted(maps.Keys(x)) {
				walk(x[k], lookup(fm, k))
			}
		case []any:
			fl, _ := file.([]any)
			for i, e := range x {
				var f any
				if i < len(fl) {
					f = fl[i]
				}
				walk(e, f)
			}
		case nil, bool:
			// A boolean tells nothing worth hiding, and masking "true"
			// would garble every text konductor writes.
		default:
			s := scalarText(x)
			if s == "" || sameScalar(file, s) {
				return
			}
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	walk(v, plain)
	return out
}

func lookup(m map[string]any, k string) any {
	if m == nil {
		return nil
	}
	return m[k]
}

// sameScalar reports whether the file holds the plain scalar s there (an
// encrypted {secure: …} map or nothing is not plain).
func sameScalar(file any, s string) bool {
	switch file.(type) {
	case nil, map[string]any, []any:
		return false
	}
	return scalarText(file) == s
}

func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

// fileValue is key's value in the stack file (nil when absent or the file
// cannot be read: then every leaf of the key counts as secret).
func fileValue(doc []byte, project, key string) any {
	var f struct {
		Config map[string]any `yaml:"config"`
	}
	if yaml.Unmarshal(doc, &f) != nil {
		return nil
	}
	for k, v := range f.Config {
		if k == key || (!strings.Contains(k, ":") && project+":"+k == key) {
			return normalize(v)
		}
	}
	return nil
}

// normalize makes YAML's scalars compare like the engine's JSON: numbers
// and booleans as their text.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case nil:
		return nil
	case string:
		return x
	case float64:
		return scalarText(x)
	}
	return fmt.Sprint(v)
}
