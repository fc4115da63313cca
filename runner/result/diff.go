package result

// This file turns the engine's old and new property values into
// property diffs and rendered values: secrets as [secret], unknowns as
// (known after apply).

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// propertyDiffs uses the provider's detailed diff when it sent one and
// diffs the inputs otherwise.
func propertyDiffs(md apitype.StepEventMetadata, oldIn, newIn map[string]any) []PropertyDiff {
	if len(md.DetailedDiff) == 0 {
		diffs := flatDiff("", oldIn, newIn)
		for i := range diffs {
			for _, k := range md.Keys {
				if diffs[i].Path == k || strings.HasPrefix(diffs[i].Path, k+".") || strings.HasPrefix(diffs[i].Path, k+"[") {
					diffs[i].Replaces = true
				}
			}
		}
		return diffs
	}
	var out []PropertyDiff
	for path, d := range md.DetailedDiff {
		pd := PropertyDiff{Path: path}
		switch d.Kind {
		case apitype.DiffAdd, apitype.DiffAddReplace:
			pd.Kind = Added
		case apitype.DiffDelete, apitype.DiffDeleteReplace:
			pd.Kind = Deleted
		default:
			pd.Kind = Updated
		}
		pd.Replaces = strings.HasSuffix(string(d.Kind), "-replace")
		if o, ok := lookup(oldIn, path); ok && pd.Kind != Added {
			pd.Old = Render(o)
		}
		if n, ok := lookup(newIn, path); ok && pd.Kind != Deleted {
			pd.New = Render(n)
		}
		out = append(out, pd)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// flatDiff lists leaf-level differences between two property trees.
// Secrets and unknowns are leaves: their insides are never walked.
func flatDiff(path string, old, new any) []PropertyDiff {
	var out []PropertyDiff
	var walk func(p string, o, n any, hasO, hasN bool)
	walk = func(p string, o, n any, hasO, hasN bool) {
		om, oIsMap := o.(map[string]any)
		nm, nIsMap := n.(map[string]any)
		if oIsMap && isSecret(om) {
			oIsMap = false
		}
		if nIsMap && isSecret(nm) {
			nIsMap = false
		}
		switch {
		case (oIsMap || !hasO) && (nIsMap || !hasN) && (oIsMap || nIsMap):
			keys := map[string]bool{}
			for k := range om {
				keys[k] = true
			}
			for k := range nm {
				keys[k] = true
			}
			for _, k := range slices.Sorted(maps.Keys(keys)) {
				ov, ho := om[k]
				nv, hn := nm[k]
				walk(joinPath(p, k), ov, nv, ho, hn)
			}
			return
		}
		oa, oIsArr := o.([]any)
		na, nIsArr := n.([]any)
		if (oIsArr || !hasO) && (nIsArr || !hasN) && (oIsArr || nIsArr) {
			for i := range max(len(oa), len(na)) {
				var ov, nv any
				ho, hn := i < len(oa), i < len(na)
				if ho {
					ov = oa[i]
				}
				if hn {
					nv = na[i]
				}
				walk(fmt.Sprintf("%s[%d]", p, i), ov, nv, ho, hn)
			}
			return
		}
		switch {
		case !hasO && hasN:
			out = append(out, PropertyDiff{Path: p, Kind: Added, New: Render(n)})
		case hasO && !hasN:
			out = append(out, PropertyDiff{Path: p, Kind: Deleted, Old: Render(o)})
		case hasO && hasN:
			if ro, rn := Render(o), Render(n); ro != rn || !equalJSON(o, n) {
				out = append(out, PropertyDiff{Path: p, Kind: Updated, Old: ro, New: rn})
			}
		}
	}
	walk(path, old, new, old != nil, new != nil)
	return out
}

func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// joinPath builds Pulumi's property path syntax: a.b, a["x.y"], a[0].
func joinPath(p, k string) string {
	if strings.ContainsAny(k, ".[]\" ") || k == "" {
		return p + "[" + strconv.Quote(k) + "]"
	}
	if p == "" {
		return k
	}
	return p + "." + k
}

// lookup follows a Pulumi property path into a property tree.
func lookup(v any, path string) (any, bool) {
	cur := v
	for _, part := range splitPath(path) {
		switch c := cur.(type) {
		case map[string]any:
			if isSecret(c) {
				return c, true
			}
			x, ok := c[part]
			if !ok {
				return nil, false
			}
			cur = x
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func splitPath(path string) []string {
	var parts []string
	for len(path) > 0 {
		switch path[0] {
		case '.':
			path = path[1:]
		case '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return append(parts, path)
			}
			inner := path[1:end]
			if uq, err := strconv.Unquote(inner); err == nil {
				// quoted keys may contain ']'
				inner = uq
			} else if strings.HasPrefix(inner, "\"") {
				q := strings.Index(path[1:], "\"]")
				if q > 0 {
					inner, _ = strconv.Unquote(path[1 : q+2])
					end = q + 2
				}
			}
			parts = append(parts, inner)
			path = path[end+1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			parts = append(parts, path[:end])
			path = path[end:]
		}
	}
	return parts
}

func isSecret(m map[string]any) bool {
	_, ok := m[secretSig]
	return ok
}

// Render shows a property value in one line: secrets as [secret], unknowns
// as (known after apply), strings quoted. It never cuts: a value is cut
// for display (Clip) only after it was masked, so a cut cannot leave a
// secret's prefix behind.
func Render(v any) string { return render(v) }

// Clip cuts a rendered value longer than maxValue bytes, with a marker.
func Clip(s string) string {
	if len(s) > maxValue {
		cut := maxValue
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + fmt.Sprintf("… (%d more bytes)", len(s)-cut)
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if x == unknownString {
			return UnknownText
		}
		return strconv.Quote(x)
	case map[string]any:
		if isSecret(x) {
			return SecretText
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = strconv.Quote(k) + ": " + render(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = render(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}

func diffOutputs(old, new map[string]any) map[string]Output {
	out := map[string]Output{}
	for k, n := range new {
		o := Output{Value: Render(n)}
		if m, ok := n.(map[string]any); ok && isSecret(m) {
			o.Secret = true
		} else if !holdsSecretOrUnknown(n) {
			o.Raw = n
		}
		if ov, ok := old[k]; !ok {
			if old != nil {
				o.Change = Added
			}
		} else if ro := Render(ov); ro != o.Value {
			o.Old, o.Change = ro, Updated
		}
		out[k] = o
	}
	for k, ov := range old {
		if _, ok := new[k]; !ok && new != nil {
			out[k] = Output{Old: Render(ov), Change: Deleted}
		}
	}
	return out
}

// holdsSecretOrUnknown reports whether a value holds a secret or an
// unknown anywhere: such a value has no full form to pass on.
func holdsSecretOrUnknown(v any) bool {
	switch x := v.(type) {
	case string:
		return x == unknownString
	case map[string]any:
		if isSecret(x) {
			return true
		}
		for _, e := range x {
			if holdsSecretOrUnknown(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if holdsSecretOrUnknown(e) {
				return true
			}
		}
	}
	return false
}
