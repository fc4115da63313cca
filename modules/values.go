package modules

import (
	"maps"
	"slices"
)

// MergeValues returns dst with src merged over it, recursively for maps, as
// Helm coalesces values: a later source wins key by key, and a map in both
// is merged rather than replaced. dst is modified.
func MergeValues(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for _, k := range slices.Sorted(maps.Keys(src)) {
		sv := src[k]
		if sm, ok := sv.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = MergeValues(dm, sm)
				continue
			}
		}
		dst[k] = sv
	}
	return dst
}
