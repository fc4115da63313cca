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

// k8sResourceLimits follows current practice (Kyverno's
// require-requests-limits, Gatekeeper's k8srequiredresources samples): CPU
// and memory requests, so the scheduler places pods on nodes that fit them,
// and a memory limit, so one container cannot exhaust a node's memory. CPU
// limits are opt-in: the kernel throttles a container at its CPU limit even
// when the node has idle CPU, which hurts latency more than it protects
// neighbours that requests already protect.
func k8sResourceLimits() Rule {
	return Rule{
		Name: "k8s-resource-limits",
		Description: "Kubernetes containers and init containers set CPU and memory requests and a memory limit; " +
			"CPU limits (which throttle) are required only with requireCpuLimit.",
		Provider: "kubernetes",
		Level:    Advisory,
		Properties: []Property{{
			Name: "requireCpuLimit", Type: "boolean",
			Description: "also require resources.limits.cpu (off by default: a CPU limit throttles the container " +
				"even when the node has idle CPU)",
			Default: false,
		}},
		Retired: map[string]string{
			"requiredLimits": "CPU and memory requests and a memory limit are always required; " +
				"set requireCpuLimit: true to require CPU limits too",
		},
		Check: func(r Resource, cfg Config) []Violation {
			spec, path, ok := podSpec(r)
			if !ok {
				return nil
			}
			needs := []resourceNeed{
				{"requests", "cpu", "100m"},
				{"requests", "memory", "128Mi"},
				{"limits", "memory", "256Mi"},
			}
			if cfg.Bool("requireCpuLimit") {
				needs = append(needs, resourceNeed{"limits", "cpu", "500m"})
			}
			// Pod-level resources (spec.resources, Kubernetes 1.32+) budget
			// every container that sets none of its own.
			podRes := spec["resources"]
			if IsUnknown(podRes) {
				return nil
			}
			var vs []Violation
			// Ephemeral containers are left out: the API rejects resources
			// on them. Init containers (sidecars included) are scheduled
			// with requests like any other, so they are checked.
			for _, c := range containers(spec, path, "initContainers", "containers") {
				res := c.spec["resources"]
				if IsUnknown(res) {
					continue
				}
				var missing, fixes []string
				for _, n := range needs {
					if n.satisfied(res, podRes) {
						continue
					}
					missing = append(missing, n.String())
					fixes = append(fixes, fmt.Sprintf("%s.resources.%s.%s (%s)", c.path, n.field, n.resource, n.example(res)))
				}
				if len(missing) > 0 {
					vs = append(vs, Violation{
						Message:     fmt.Sprintf("%s: %s sets no %s.", workloadLabel(r), c.label(), joinList(missing, "or")),
						Remediation: fmt.Sprintf("set %s, sized for the workload.", joinList(fixes, "and")),
					})
				}
			}
			return vs
		},
	}
}

// resourceNeed is one entry of a container's resources the rule requires.
type resourceNeed struct {
	field    string // "requests" or "limits"
	resource string // "cpu" or "memory"
	sample   string // example quantity for the remediation
}

// String names the need in messages: "cpu request", "memory limit".
func (n resourceNeed) String() string {
	return n.resource + " " + strings.TrimSuffix(n.field, "s")
}

// satisfied reports whether the container's resources, or the pod-level
// ones, meet the need. Kubernetes defaults a missing request to the limit,
// so a limit meets the request too. Unknown values count as set.
func (n resourceNeed) satisfied(container, pod any) bool {
	fields := []string{n.field}
	if n.field == "requests" {
		fields = append(fields, "limits")
	}
	for _, res := range []any{container, pod} {
		m, _ := asMap(res)
		for _, f := range fields {
			v, ok := get(m, f, n.resource)
			if !ok || v == nil {
				continue
			}
			if s, isStr := v.(string); !isStr || s != "" {
				return true
			}
		}
	}
	return false
}

// example is the quantity the remediation suggests: for a memory limit the
// container's memory request when it sets one, since a limit equal to the
// request keeps the pod from being OOM-killed for using what it asked for.
func (n resourceNeed) example(res any) string {
	if n.field == "limits" && n.resource == "memory" {
		m, _ := asMap(res)
		v, _ := get(m, "requests", n.resource)
		if q, ok := asString(v); ok && q != "" {
			return fmt.Sprintf("e.g. %q, its request", q)
		}
	}
	return fmt.Sprintf("e.g. %q", n.sample)
}

// workloadLabel names a workload in messages: its kind and metadata.name
// (the Pulumi resource name when the name is not known yet).
func workloadLabel(r Resource) string {
	_, _, kind, _ := typeParts(r.Type)
	name, _ := get(r.Properties, "metadata", "name")
	if s, ok := asString(name); ok && s != "" {
		return fmt.Sprintf("%s %q", kind, s)
	}
	if r.Name != "" {
		return fmt.Sprintf("%s %q", kind, r.Name)
	}
	return kind
}

// joinList joins items as prose: "a", "a or b", "a, b or c".
func joinList(items []string, conj string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
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
