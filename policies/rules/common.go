package rules

import (
	"fmt"
	"strings"

	"github.com/containercraft/konductor-action/modules/metadata"
)

// requiredMetadata: every resource that takes labels/tags carries konductor's
// ownership metadata.
func requiredMetadata() Rule {
	return Rule{
		Name: "required-metadata",
		Description: "Resources that take labels or tags carry konductor's ownership metadata " +
			"(Kubernetes metadata.labels, AWS and Azure tags).",
		Provider: "all",
		Level:    Advisory,
		Properties: []Property{
			{
				Name: "kubernetesLabels", Type: "array", Items: "string",
				Description: "metadata.labels keys every Kubernetes object must carry (Namespaces are checked by k8s-namespace-metadata)",
				Default:     stringsDefault(metadata.LabelManagedBy, metadata.LabelStack, metadata.LabelModule),
			},
			{
				Name: "cloudTags", Type: "array", Items: "string",
				Description: "tag keys every taggable AWS and Azure resource must carry",
				Default:     stringsDefault(metadata.TagManagedBy, metadata.TagStack, metadata.TagModule),
			},
			{
				Name: "managedByValue", Type: "string",
				Description: "required value of the managed-by label/tag",
				Default:     metadata.ManagedByValue,
			},
		},
		Check: func(r Resource, cfg Config) []Violation {
			switch {
			case isK8sObject(r.Type):
				if isNamespace(r.Type) {
					return nil // k8s-namespace-metadata owns Namespaces
				}
				return checkK8sLabels(r, cfg)
			case isAWSTaggable(r):
				return checkKeys(awsEffectiveTags(r), "tags", "tag", cfg.Strings("cloudTags"),
					metadata.TagManagedBy, cfg.String("managedByValue"))
			case isAzureTaggable(r):
				tags, ok := r.Properties["tags"]
				if !ok {
					tags = map[string]any{}
				}
				return checkKeys(tags, "tags", "tag", cfg.Strings("cloudTags"),
					metadata.TagManagedBy, cfg.String("managedByValue"))
			}
			return nil
		},
	}
}

// checkK8sLabels checks metadata.labels of a Kubernetes object.
func checkK8sLabels(r Resource, cfg Config) []Violation {
	labels, ok := get(r.Properties, "metadata", "labels")
	if !ok {
		labels = map[string]any{}
	}
	return checkKeys(labels, "metadata.labels", "label", cfg.Strings("kubernetesLabels"),
		metadata.LabelManagedBy, cfg.String("managedByValue"))
}

// checkKeys checks that the map m (labels or tags) has every required key
// with a non-empty value, and managedByKey (if required) equal to
// managedByValue. An Unknown map or value counts as present.
func checkKeys(m any, field, noun string, required []string, managedByKey, managedByValue string) []Violation {
	if IsUnknown(m) {
		return nil
	}
	mm, _ := asMap(m)
	var missing []string
	var vs []Violation
	for _, k := range required {
		v, ok := mm[k]
		if IsUnknown(v) {
			continue
		}
		s, _ := asString(v)
		if !ok || s == "" {
			missing = append(missing, k)
			continue
		}
		if k == managedByKey && managedByValue != "" && s != managedByValue {
			vs = append(vs, Violation{
				Message:     fmt.Sprintf("%s %q is %q, not %q.", noun, k, s, managedByValue),
				Remediation: fmt.Sprintf("set %s[%q] to %q.", field, k, managedByValue),
			})
		}
	}
	if len(missing) > 0 {
		example := make([]string, len(missing))
		for i, k := range missing {
			example[i] = fmt.Sprintf("%q: %q", k, placeholder(k, managedByKey, managedByValue))
		}
		vs = append([]Violation{{
			Message: fmt.Sprintf("missing %s(s) %s.", noun, quoteList(missing)),
			Remediation: fmt.Sprintf("set %s {%s}; resources registered with a konductor module's Env.Options() "+
				"get them from the metadata transform.", field, strings.Join(example, ", ")),
		}}, vs...)
	}
	return vs
}

// placeholder is the example value shown for a missing metadata key.
func placeholder(key, managedByKey, managedByValue string) string {
	switch key {
	case managedByKey:
		return managedByValue
	case metadata.LabelStack, metadata.TagStack:
		return "<stack>"
	case metadata.LabelModule, metadata.TagModule:
		return "<module>"
	case metadata.LabelGitCommit, metadata.TagGitCommit:
		return "<git commit>"
	}
	return "<value>"
}

// isK8sObject reports whether t is a Kubernetes API object type (one that
// has metadata), as opposed to a provider, a component (Helm chart, YAML,
// Kustomize) or a Patch/List type.
func isK8sObject(t string) bool {
	pkg, module, kind, ok := typeParts(t)
	if !ok || pkg != "kubernetes" {
		return false
	}
	for _, c := range []string{"helm.sh", "yaml", "kustomize"} {
		if module == c || strings.HasPrefix(module, c+"/") {
			return false
		}
	}
	return !strings.HasSuffix(kind, "Patch") && !strings.HasSuffix(kind, "List")
}

func isNamespace(t string) bool {
	_, module, kind, ok := typeParts(t)
	return ok && kind == "Namespace" && strings.HasPrefix(module, "core/")
}

// isAWSTaggable reports whether r is an AWS resource that takes a tags map:
// its type is in the list generated from the SDK, or it sent tags anyway.
func isAWSTaggable(r Resource) bool {
	if !strings.HasPrefix(r.Type, "aws:") {
		return false
	}
	if awsTaggable[r.Type] {
		return true
	}
	_, ok := r.Properties["tags"]
	return ok
}

// isAzureTaggable reports whether r is an Azure Native resource that takes
// tags: its type is in the generated list, or (for service modules the list
// does not cover) it sent tags or a location, which ARM tracked resources -
// the taggable ones - have.
func isAzureTaggable(r Resource) bool {
	if !strings.HasPrefix(r.Type, "azure-native:") {
		return false
	}
	if azureTaggable[canonicalType(r.Type)] {
		return true
	}
	_, hasTags := r.Properties["tags"]
	_, hasLocation := r.Properties["location"]
	return hasTags || hasLocation
}

// awsEffectiveTags merges the provider's defaultTags.tags, the resource's
// tagsAll and its tags (later wins). It returns Unknown if tags is unknown.
func awsEffectiveTags(r Resource) any {
	out := map[string]any{}
	if dt, ok := jsonObject(r.ProviderProperties["defaultTags"]); ok {
		if tags, ok := asMap(dt["tags"]); ok {
			for k, v := range tags {
				out[k] = v
			}
		}
	}
	if all, ok := asMap(r.Properties["tagsAll"]); ok {
		for k, v := range all {
			out[k] = v
		}
	}
	switch tags := r.Properties["tags"].(type) {
	case Unknown:
		return tags
	case map[string]any:
		for k, v := range tags {
			out[k] = v
		}
	}
	return out
}

// defaultStatefulTypes are the types protect-stateful requires protect on.
var defaultStatefulTypes = []string{
	"aws:s3/bucket:Bucket",
	"aws:s3/bucketV2:BucketV2",
	"aws:s3/directoryBucket:DirectoryBucket",
	"aws:kms/key:Key",
	"azure-native:storage:StorageAccount",
	"kubernetes:core/v1:PersistentVolumeClaim",
	"kubernetes:core/v1:Namespace",
}

// protectStateful: stateful resources must carry the protect option, so the
// engine refuses to delete (or replace) them. Policies cannot see deletes,
// so the rule checks the protect flag; it is advisory by default because
// a mandatory default would block every first deploy and every teardown of
// a dev stack. Teams make it mandatory for production in konductor.yaml.
func protectStateful() Rule {
	return Rule{
		Name: "protect-stateful",
		Description: "Stateful resources (buckets, keys, storage accounts, volumes, namespaces) are protected, " +
			"so the engine refuses to delete or replace them.",
		Provider: "all",
		Level:    Advisory,
		Properties: []Property{{
			Name: "statefulTypes", Type: "array", Items: "string",
			Description: "type tokens that must be protected; '*' matches any characters; " +
				"Azure Native tokens are matched without their API version",
			Default: stringsDefault(defaultStatefulTypes...),
		}},
		Check: func(r Resource, cfg Config) []Violation {
			if r.Protect {
				return nil
			}
			t := canonicalType(r.Type)
			for _, p := range cfg.Strings("statefulTypes") {
				if globMatch(canonicalType(p), t) {
					return []Violation{{
						Message: fmt.Sprintf("%s is stateful and not protected: deleting or replacing it "+
							"would destroy its data.", r.Type),
						Remediation: "set the protect resource option (pulumi.Protect(true)); to retire the resource on " +
							"purpose, run `pulumi state unprotect <urn>` and then remove it from the program.",
					}}
				}
			}
			return nil
		},
	}
}
