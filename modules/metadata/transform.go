package metadata

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ModuleComponentType is the type of the component resource that parents
// every resource of one module.
const ModuleComponentType = "konductor:index:Module"

// Options returns the options for a module's component resource: the
// metadata transform of Transform, which the component's children inherit.
//
// Why an engine-side transform (pulumi.Transforms) and not the SDK-side
// pulumi.Transformations: only engine-side transforms reach the children
// of remote components (Helm Chart v4, kustomize and yaml v2 resources are
// registered by the kubernetes provider, not by this program), and they see
// every resource as a plain property map with wire names ("tags",
// "metadata"), the same for every provider, instead of each SDK's typed args
// struct.
//
// Under mocks (pulumi.RunErr with pulumi.WithMocks; sdk v3.274.1 has no
// pulumi.RunWithMocks) engine-side transforms are accepted but not run: the
// mock monitor advertises the transforms feature, the SDK starts its
// callback server and registers the callback, and the mock only hands each
// resource's *own* transforms to MockResourceArgs (never the parent's:
// inheritance is the engine's job), with untransformed inputs. Tests therefore use metadatatest.Mocks, which does what the
// engine's resource monitor does: it invokes the registered callbacks over
// the SDK's callback protocol for the resource, then its parents, in
// engine order, and records the transformed inputs. engine_test.go checks
// the same inheritance with the real CLI.
func Options(f Facts, module string) []pulumi.ResourceOption {
	return []pulumi.ResourceOption{pulumi.Transforms([]pulumi.ResourceTransform{Transform(f, module)})}
}

// ModuleComponent is the component resource of one module.
type ModuleComponent struct {
	pulumi.ResourceState
}

// NewModuleComponent registers the component resource of module (type
// ModuleComponentType, named after the module) with Options(f, module)
// followed by opts. Every resource of the module is its child (see
// modules.Env.Parent), so every one carries the metadata.
func NewModuleComponent(ctx *pulumi.Context, f Facts, module string, opts ...pulumi.ResourceOption) (*ModuleComponent, error) {
	c := &ModuleComponent{}
	all := append(Options(f, module), opts...)
	if err := ctx.RegisterComponentResource(ModuleComponentType, module, c, all...); err != nil {
		return nil, err
	}
	return c, nil
}

type kind int

const (
	kindNone kind = iota
	kindKubernetes
	kindAWS
	kindAzure
)

// kindOf classifies a resource type token for the transform.
func kindOf(typ string, custom bool) kind {
	if !custom {
		// Components (including remote ones such as Chart v4) take no
		// labels or tags; their children get them.
		return kindNone
	}
	switch {
	case strings.HasPrefix(typ, "kubernetes:"):
		for _, p := range []string{"kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize"} {
			if strings.HasPrefix(typ, p) {
				return kindNone
			}
		}
		// *List types hold ListMeta (no labels); *Patch types edit objects
		// konductor does not own, which must not claim to be managed by it.
		if strings.HasSuffix(typ, "List") || strings.HasSuffix(typ, "Patch") {
			return kindNone
		}
		return kindKubernetes
	case strings.HasPrefix(typ, "aws:") && TakesTags(typ):
		return kindAWS
	case strings.HasPrefix(typ, "azure-native:") && TakesTags(typ):
		return kindAzure
	}
	return kindNone
}

// Transform returns the resource transform that stamps the metadata of f
// and module on a resource:
//   - Kubernetes resources (kubernetes:* except helm.sh, yaml, kustomize,
//     *List and *Patch types): metadata.labels and metadata.annotations get
//     KubernetesMetadata; the resource's own keys are kept and win over the
//     user labels, konductor's keys win over everything.
//   - AWS and Azure resources whose type takes tags (TakesTags): `tags` gets
//     konductor's keys, the resource's own tags, the user labels and the
//     compliance block, in that priority, within the cloud's limits.
//     tagsAll (AWS) is computed by the provider and left alone.
//   - Anything else is not touched (the transform returns nil, so the
//     resource's options are not round-tripped either).
//
// The transform works on plain values and on outputs (secret or unknown
// maps are merged once known).
//
// Caveat (Go SDK v3.274.1): for a resource the transform changes, the SDK
// returns options to the engine without deletedWith/replaceWith, so those
// options are lost on labelled and tagged resources (engine_test.go).
func Transform(f Facts, module string) pulumi.ResourceTransform {
	user, managed := f.kubernetesLayers(module)
	labels := func(own map[string]string) map[string]string {
		return overlay(user.labels, own, managed.labels, managed.keys)
	}
	annotations := func(own map[string]string) map[string]string {
		return overlay(user.annotations, own, managed.annotations, managed.keys)
	}
	tags := func(rules tagRules) func(map[string]string) map[string]string {
		return func(own map[string]string) map[string]string { return rules.merge(f, module, own) }
	}
	return func(_ context.Context, a *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
		props := pulumi.Map{}
		maps.Copy(props, a.Props)
		switch kindOf(a.Type, a.Custom) {
		case kindKubernetes:
			props["metadata"] = mergeMetadata(props["metadata"], labels, annotations)
		case kindAWS:
			props["tags"] = mergeStrings(props["tags"], tags(awsRules))
		case kindAzure:
			rules := azureRules
			if a.Type == "azure-native:storage:StorageAccount" {
				rules = azureStorageRules
			}
			props["tags"] = mergeStrings(props["tags"], tags(rules))
		default:
			return nil
		}
		return &pulumi.ResourceTransformResult{Props: props, Opts: a.Opts}
	}
}

type mergeFunc func(own map[string]string) map[string]string

// mergeStrings merges into a string map input that may be absent, plain,
// or an output (then merged when it resolves).
func mergeStrings(in pulumi.Input, merge mergeFunc) pulumi.Input {
	if m, ok := plainStrings(in); ok {
		return pulumi.ToStringMap(merge(m))
	}
	return pulumi.ToOutput(in).ApplyT(func(v any) map[string]string { return merge(stringsOf(v)) })
}

// mergeMetadata merges labels and annotations into a Kubernetes metadata
// input. An empty annotation map is only written where one was already.
func mergeMetadata(in pulumi.Input, labels, annotations mergeFunc) pulumi.Input {
	switch m := in.(type) {
	case nil:
		out := pulumi.Map{"labels": pulumi.ToStringMap(labels(nil))}
		if a := annotations(nil); len(a) > 0 {
			out["annotations"] = pulumi.ToStringMap(a)
		}
		return out
	case pulumi.Map:
		out := maps.Clone(m)
		out["labels"] = mergeStrings(m["labels"], labels)
		if m["annotations"] != nil || len(annotations(nil)) > 0 {
			out["annotations"] = mergeStrings(m["annotations"], annotations)
		}
		return out
	}
	return pulumi.ToOutput(in).ApplyT(func(v any) map[string]any {
		m, _ := v.(map[string]any)
		out := maps.Clone(m)
		if out == nil {
			out = map[string]any{}
		}
		out["labels"] = anyMap(labels(stringsOf(m["labels"])))
		if a := annotations(stringsOf(m["annotations"])); len(a) > 0 || m["annotations"] != nil {
			out["annotations"] = anyMap(a)
		}
		return out
	})
}

func plainStrings(in pulumi.Input) (map[string]string, bool) {
	switch v := in.(type) {
	case nil:
		return map[string]string{}, true
	case pulumi.StringMap:
		out := make(map[string]string, len(v))
		for k, e := range v {
			s, ok := e.(pulumi.String)
			if !ok {
				return nil, false
			}
			out[k] = string(s)
		}
		return out, true
	case pulumi.Map:
		out := make(map[string]string, len(v))
		for k, e := range v {
			s, ok := e.(pulumi.String)
			if !ok {
				return nil, false
			}
			out[k] = string(s)
		}
		return out, true
	}
	return nil, false
}

// stringsOf reads a resolved map value; non-string entries are printed.
func stringsOf(v any) map[string]string {
	out := map[string]string{}
	switch m := v.(type) {
	case map[string]string:
		maps.Copy(out, m)
	case map[string]any:
		for k, e := range m {
			switch s := e.(type) {
			case nil:
			case string:
				out[k] = s
			default:
				out[k] = fmt.Sprint(s)
			}
		}
	}
	return out
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
