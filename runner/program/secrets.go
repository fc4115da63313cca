package program

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// minContained is the shortest secret looked for inside a longer string; a
// shorter one marks only a value equal to it, or "1" would make every
// number that holds a 1 a secret.
const minContained = 4

// secrets holds a module's secret config values. A module decodes its
// config into plain Go types (it must read and validate the values), so
// the secretness Pulumi attached to them is gone by the time they reach a
// resource. The transform and exports below put it back: any input or
// output that holds one of the values becomes a Pulumi secret, so the
// engine encrypts it in state, shows [secret] in diffs and marks outputs.
type secrets []string

func (s secrets) in(v string) bool {
	for _, x := range s {
		if v == x || (len(x) >= minContained && strings.Contains(v, x)) {
			return true
		}
	}
	return false
}

// transform marks every input of a resource that holds a secret. It runs
// engine-side, so it reaches the children of remote components (Helm
// charts) too, and sees resolved values: plain ones to check, outputs that
// are already secret or unknown to leave alone.
func (s secrets) transform() pulumi.ResourceTransform {
	return func(_ context.Context, a *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
		changed := false
		props := pulumi.Map{}
		maps.Copy(props, a.Props)
		for k, v := range props {
			if nv, ok := s.mark(v); ok {
				props[k] = nv
				changed = true
			}
		}
		if !changed {
			// nil keeps the resource's options untouched.
			return nil
		}
		return &pulumi.ResourceTransformResult{Props: props, Opts: a.Opts}
	}
}

// mark returns v with each value holding a secret made a secret.
func (s secrets) mark(v pulumi.Input) (pulumi.Input, bool) {
	switch x := v.(type) {
	case pulumi.String:
		if s.in(string(x)) {
			return pulumi.ToSecret(x), true
		}
	case pulumi.Map:
		out, changed := pulumi.Map{}, false
		for k, e := range x {
			ne, ok := s.mark(e)
			out[k] = ne
			changed = changed || ok
		}
		if changed {
			return out, true
		}
	case pulumi.StringMap:
		m := make(pulumi.Map, len(x))
		for k, e := range x {
			m[k] = e
		}
		return s.mark(m)
	case pulumi.Array:
		out, changed := make(pulumi.Array, len(x)), false
		for i, e := range x {
			ne, ok := s.mark(e)
			out[i] = ne
			changed = changed || ok
		}
		if changed {
			return out, true
		}
	case pulumi.StringArray:
		a := make(pulumi.Array, len(x))
		for i, e := range x {
			a[i] = e
		}
		return s.mark(a)
	case pulumi.Float64, pulumi.Int, pulumi.Bool:
		if s.in(plainText(x)) {
			return pulumi.ToSecret(x), true
		}
	}
	return v, false
}

// export makes an exported value secret when it holds a secret, once it
// resolves (a module's outputs are mostly outputs of its resources).
func (s secrets) export(v pulumi.Input) pulumi.Input {
	if nv, ok := s.mark(v); ok {
		return nv
	}
	if _, ok := v.(pulumi.Output); !ok {
		return v
	}
	return pulumi.ToOutput(v).ApplyT(func(x any) pulumi.AnyOutput {
		if s.holds(x) {
			return pulumi.ToSecret(pulumi.Any(x)).(pulumi.AnyOutput)
		}
		return pulumi.Any(x)
	})
}

// holds reports whether a resolved value holds a secret anywhere.
func (s secrets) holds(v any) bool {
	switch x := v.(type) {
	case string:
		return s.in(x)
	case map[string]any:
		for _, e := range x {
			if s.holds(e) {
				return true
			}
		}
	case map[string]string:
		for _, e := range x {
			if s.in(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if s.holds(e) {
				return true
			}
		}
	case []string:
		for _, e := range x {
			if s.in(e) {
				return true
			}
		}
	case nil:
	default:
		return s.in(plainText(x))
	}
	return false
}

func plainText(v any) string { return fmt.Sprint(v) }
