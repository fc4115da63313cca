package rules

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Unknown stands for a value the engine does not know yet, e.g. during a
// preview an input computed from another resource's output.
type Unknown struct{}

// IsUnknown reports whether v is an Unknown value.
func IsUnknown(v any) bool {
	_, ok := v.(Unknown)
	return ok
}

// get follows keys through nested maps. It stops (ok=false) at a missing key
// or a non-map, and returns an Unknown as soon as it meets one.
func get(m map[string]any, keys ...string) (any, bool) {
	var cur any = m
	for _, k := range keys {
		if IsUnknown(cur) {
			return cur, true
		}
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = mm[k]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

func asMap(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

func asSlice(v any) ([]any, bool) {
	s, ok := v.([]any)
	return s, ok
}

func asString(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

// asBool accepts a bool, or the strings "true"/"false" (provider resources
// may carry their config as strings).
func asBool(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		p, err := strconv.ParseBool(b)
		return p, err == nil
	}
	return false, false
}

func asNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
}

// stringList reads a list of strings (a single string counts as a list of
// one). unknown is true if the list or any element is Unknown.
func stringList(v any) (out []string, unknown bool) {
	switch x := v.(type) {
	case Unknown:
		return nil, true
	case string:
		return []string{x}, false
	case []any:
		for _, e := range x {
			if IsUnknown(e) {
				unknown = true
				continue
			}
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out, unknown
}

// jsonObject reads a value that is either an object or a JSON-encoded object
// (IAM policy documents, provider config).
func jsonObject(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case string:
		var m map[string]any
		if err := json.Unmarshal([]byte(x), &m); err != nil {
			return nil, false
		}
		return m, true
	}
	return nil, false
}

// typeParts splits a type token "pkg:module:Kind" (ok=false otherwise).
func typeParts(t string) (pkg, module, kind string, ok bool) {
	parts := strings.Split(t, ":")
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// canonicalType drops the API version of an Azure Native type token:
// azure-native:storage/v20230101:StorageAccount -> azure-native:storage:StorageAccount.
func canonicalType(t string) string {
	pkg, module, kind, ok := typeParts(t)
	if !ok || pkg != "azure-native" {
		return t
	}
	if i := strings.Index(module, "/v"); i >= 0 {
		module = module[:i]
	}
	return pkg + ":" + module + ":" + kind
}

// globMatch matches s against a pattern in which '*' matches any run of
// characters (including '/' and ':').
func globMatch(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == s
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i := 1; i < len(parts)-1; i++ {
		j := strings.Index(s, parts[i])
		if j < 0 {
			return false
		}
		s = s[j+len(parts[i]):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
