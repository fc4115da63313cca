package rules

import (
	"fmt"
	"strings"

	"github.com/containercraft/konductor-action/modules/metadata"
)

// podSpecPaths maps workload kinds to the path of their pod spec.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"PodTemplate":           {"template", "spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// workloadGroups are the API groups the workload kinds live in (any version).
var workloadGroups = []string{"core", "apps", "extensions", "batch"}

// podSpec returns the pod spec of a workload resource and its dotted path.
// ok is false for other types and for workloads without a (known) pod spec.
func podSpec(r Resource) (spec map[string]any, path string, ok bool) {
	pkg, module, kind, tok := typeParts(r.Type)
	if !tok || pkg != "kubernetes" {
		return nil, "", false
	}
	group, _, _ := strings.Cut(module, "/")
	known := false
	for _, g := range workloadGroups {
		if g == group {
			known = true
		}
	}
	keys, ok := podSpecPaths[kind]
	if !known || !ok {
		return nil, "", false
	}
	v, ok := get(r.Properties, keys...)
	if !ok || IsUnknown(v) {
		return nil, "", false
	}
	spec, ok = asMap(v)
	return spec, strings.Join(keys, "."), ok
}

// container is one container of a pod spec.
type container struct {
	path string // e.g. spec.template.spec.containers[0]
	name string
	spec map[string]any
}

// label names the container in messages.
func (c container) label() string {
	if c.name != "" {
		return fmt.Sprintf("container %q (%s)", c.name, c.path)
	}
	return "container " + c.path
}

// containers lists the containers of a pod spec from the given fields
// (initContainers, containers, ephemeralContainers). Unknown lists and
// elements are skipped.
func containers(spec map[string]any, specPath string, fields ...string) []container {
	var out []container
	for _, f := range fields {
		list, ok := asSlice(spec[f])
		if !ok {
			continue
		}
		for i, e := range list {
			m, ok := asMap(e)
			if !ok {
				continue
			}
			name, _ := asString(m["name"])
			out = append(out, container{path: fmt.Sprintf("%s.%s[%d]", specPath, f, i), name: name, spec: m})
		}
	}
	return out
}

var allContainerFields = []string{"initContainers", "containers", "ephemeralContainers"}

// podCheck makes a check of the pod spec inside a Pod, a workload's
// template or a CronJob's job template; other resources pass.
func podCheck(check func(spec map[string]any, path string, cfg Config) []Violation) func(Resource, Config) []Violation {
	return func(r Resource, cfg Config) []Violation {
		spec, path, ok := podSpec(r)
		if !ok {
			return nil
		}
		return check(spec, path, cfg)
	}
}

func k8sNoPrivileged() Rule {
	return Rule{
		Name:        "k8s-no-privileged",
		Description: "Kubernetes containers do not run privileged.",
		Provider:    "kubernetes",
		Level:       Mandatory,
		Check: podCheck(func(spec map[string]any, path string, _ Config) []Violation {
			var vs []Violation
			for _, c := range containers(spec, path, allContainerFields...) {
				v, _ := get(c.spec, "securityContext", "privileged")
				if b, ok := asBool(v); ok && b {
					vs = append(vs, Violation{
						Message: c.label() + " runs privileged.",
						Remediation: fmt.Sprintf("set %s.securityContext.privileged to false (or remove it) and grant "+
							"only the capabilities it needs in securityContext.capabilities.add.", c.path),
					})
				}
			}
			return vs
		}),
	}
}

func k8sNoHostNamespaces() Rule {
	return Rule{
		Name:        "k8s-no-host-namespaces",
		Description: "Kubernetes pods do not share the node's network, PID or IPC namespaces or mount hostPath volumes.",
		Provider:    "kubernetes",
		Level:       Mandatory,
		Check: podCheck(func(spec map[string]any, path string, _ Config) []Violation {
			var vs []Violation
			for _, f := range []string{"hostNetwork", "hostPID", "hostIPC"} {
				if b, ok := asBool(spec[f]); ok && b {
					vs = append(vs, Violation{
						Message:     fmt.Sprintf("%s.%s is true.", path, f),
						Remediation: fmt.Sprintf("set %s.%s to false (or remove it).", path, f),
					})
				}
			}
			if vols, ok := asSlice(spec["volumes"]); ok {
				for i, e := range vols {
					vol, ok := asMap(e)
					if !ok {
						continue
					}
					if hp, ok := vol["hostPath"]; ok && hp != nil {
						name, _ := asString(vol["name"])
						where := ""
						if hpm, ok := asMap(hp); ok {
							if p, ok := asString(hpm["path"]); ok {
								where = fmt.Sprintf(" of %q", p)
							}
						}
						vs = append(vs, Violation{
							Message: fmt.Sprintf("volume %q (%s.volumes[%d]) mounts hostPath%s.", name, path, i, where),
							Remediation: fmt.Sprintf("replace %s.volumes[%d].hostPath with a persistentVolumeClaim, "+
								"configMap, secret or emptyDir volume.", path, i),
						})
					}
				}
			}
			return vs
		}),
	}
}

// splitImage returns the tag and digest of an image reference
// ("registry:5000/ns/name:tag@sha256:..."); either may be empty.
func splitImage(ref string) (tag, digest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		tag = ref[i+1:]
	}
	return tag, digest
}

func k8sImagePinned() Rule {
	return Rule{
		Name:        "k8s-image-pinned",
		Description: "Kubernetes container images are pinned to a version tag other than latest, or to a digest.",
		Provider:    "kubernetes",
		Level:       Advisory,
		Properties: []Property{{
			Name: "requireDigest", Type: "boolean",
			Description: "require every image to be pinned by digest (name@sha256:...)",
			Default:     false,
		}},
		Check: podCheck(func(spec map[string]any, path string, cfg Config) []Violation {
			requireDigest := cfg.Bool("requireDigest")
			var vs []Violation
			for _, c := range containers(spec, path, allContainerFields...) {
				img, present := c.spec["image"]
				if IsUnknown(img) {
					continue
				}
				ref, _ := asString(img)
				var problem string
				tag, digest := splitImage(ref)
				switch {
				case !present || ref == "":
					problem = "has no image"
				case digest != "":
					continue
				case requireDigest:
					problem = fmt.Sprintf("image %q is not pinned by digest", ref)
				case tag == "":
					problem = fmt.Sprintf("image %q has no tag (it resolves to latest)", ref)
				case tag == "latest":
					problem = fmt.Sprintf("image %q uses the latest tag", ref)
				default:
					continue
				}
				hint := "a fixed version tag (e.g. nginx:1.27.3) or a digest (nginx@sha256:<digest>)"
				if requireDigest {
					hint = "a digest (e.g. nginx@sha256:<digest>)"
				}
				vs = append(vs, Violation{
					Message:     c.label() + " " + problem + ".",
					Remediation: fmt.Sprintf("set %s.image to %s.", c.path, hint),
				})
			}
			return vs
		}),
	}
}

func k8sResourceLimits() Rule {
	return Rule{
		Name:        "k8s-resource-limits",
		Description: "Kubernetes containers set CPU and memory limits.",
		Provider:    "kubernetes",
		Level:       Advisory,
		Properties: []Property{{
			Name: "requiredLimits", Type: "array", Items: "string",
			Description: "resources.limits keys every container and init container must set",
			Default:     stringsDefault("cpu", "memory"),
		}},
		Check: podCheck(func(spec map[string]any, path string, cfg Config) []Violation {
			required := cfg.Strings("requiredLimits")
			var vs []Violation
			// Ephemeral containers cannot have resources.
			for _, c := range containers(spec, path, "initContainers", "containers") {
				limits, _ := get(c.spec, "resources", "limits")
				if IsUnknown(limits) {
					continue
				}
				lm, _ := asMap(limits)
				var missing, example []string
				for _, k := range required {
					v, ok := lm[k]
					if IsUnknown(v) {
						continue
					}
					if s, isStr := v.(string); !ok || v == nil || (isStr && s == "") {
						missing = append(missing, k)
						example = append(example, fmt.Sprintf("%q: %q", k, exampleLimit(k)))
					}
				}
				if len(missing) > 0 {
					vs = append(vs, Violation{
						Message: fmt.Sprintf("%s sets no %s limit.", c.label(), strings.Join(missing, "/")),
						Remediation: fmt.Sprintf("set %s.resources.limits {%s}, sized for the workload.",
							c.path, strings.Join(example, ", ")),
					})
				}
			}
			return vs
		}),
	}
}

func exampleLimit(resource string) string {
	switch resource {
	case "cpu":
		return "500m"
	case "memory":
		return "256Mi"
	}
	return "<quantity>"
}

func k8sNamespaceMetadata() Rule {
	return Rule{
		Name:        "k8s-namespace-metadata",
		Description: "Kubernetes Namespaces carry konductor's ownership labels.",
		Provider:    "kubernetes",
		Level:       Advisory,
		Properties: []Property{
			{
				Name: "kubernetesLabels", Type: "array", Items: "string",
				Description: "metadata.labels keys every Namespace must carry",
				Default:     stringsDefault(metadata.LabelManagedBy, metadata.LabelStack, metadata.LabelModule),
			},
			{
				Name: "managedByValue", Type: "string",
				Description: "required value of the " + metadata.LabelManagedBy + " label",
				Default:     metadata.ManagedByValue,
			},
		},
		Check: func(r Resource, cfg Config) []Violation {
			if !isNamespace(r.Type) {
				return nil
			}
			return checkK8sLabels(r, cfg)
		},
	}
}
