package metadata

import (
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Kubernetes keys beyond the shared ones of keys.go.
const (
	labelProject       = "konductor.io/project"
	labelGitRepository = "konductor.io/git-repository"
	// compliancePrefix prefixes the flattened compliance keys, e.g.
	// compliance.konductor.io/fisma-level.
	compliancePrefix = "compliance.konductor.io/"
)

// Label syntax limits (k8s.io/apimachinery/pkg/util/validation).
const (
	maxLabelValue  = 63
	maxLabelName   = 63
	maxLabelPrefix = 253
)

var (
	labelValueRE  = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	labelPrefixRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// ValidLabelValue reports whether v is a valid Kubernetes label value.
func ValidLabelValue(v string) bool {
	return len(v) <= maxLabelValue && labelValueRE.MatchString(v)
}

// ValidLabelKey reports whether k is a valid Kubernetes label (or
// annotation) key: an optional DNS-subdomain prefix and a slash, then a
// name of at most 63 characters.
func ValidLabelKey(k string) bool {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		prefix, name = "", k
	} else if prefix == "" || len(prefix) > maxLabelPrefix || !labelPrefixRE.MatchString(prefix) {
		return false
	}
	return name != "" && len(name) <= maxLabelName && labelValueRE.MatchString(name)
}

// SanitizeLabelValue returns the closest valid label value to v: characters
// a label cannot hold become '_', the result is cut to 63 characters and
// trimmed to start and end alphanumeric. It may be "".
func SanitizeLabelValue(v string) string {
	if ValidLabelValue(v) {
		return v
	}
	return trimToAlnum(replaceInvalid(v, isLabelChar, '_'), maxLabelValue)
}

// SanitizeLabelKey returns the closest valid label key to k, or "" when
// nothing usable is left.
func SanitizeLabelKey(k string) string {
	if ValidLabelKey(k) {
		return k
	}
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		prefix, name = "", k
	}
	name = trimToAlnum(replaceInvalid(name, isLabelChar, '-'), maxLabelName)
	if name == "" {
		return ""
	}
	if prefix = sanitizeDNSSubdomain(prefix); prefix == "" {
		return name
	}
	return prefix + "/" + name
}

func sanitizeDNSSubdomain(s string) string {
	s = replaceInvalid(strings.ToLower(s), func(r rune) bool {
		return r == '.' || r == '-' || isAlnum(r)
	}, '-')
	var parts []string
	for p := range strings.SplitSeq(s, ".") {
		if p = strings.Trim(p, "-"); p != "" {
			parts = append(parts, p)
		}
	}
	s = strings.Join(parts, ".")
	if len(s) > maxLabelPrefix {
		s = strings.TrimRight(s[:maxLabelPrefix], ".-")
	}
	return s
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

func isLabelChar(r rune) bool { return isAlnum(r) || r == '-' || r == '_' || r == '.' }

func replaceInvalid(s string, ok func(rune) bool, with rune) string {
	return strings.Map(func(r rune) rune {
		if ok(r) {
			return r
		}
		return with
	}, s)
}

// trimToAlnum cuts s (ASCII by now) to max bytes and trims non-alphanumeric
// characters from both ends.
func trimToAlnum(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	return strings.TrimFunc(s, func(r rune) bool { return !isAlnum(r) })
}

// kubeMeta is a set of labels and annotations, and every key it was given
// (including the ones whose value was empty).
type kubeMeta struct {
	labels, annotations map[string]string
	keys                map[string]bool
}

func newKubeMeta() kubeMeta {
	return kubeMeta{labels: map[string]string{}, annotations: map[string]string{}, keys: map[string]bool{}}
}

// put records key=value: as a label when it is one; otherwise as a
// sanitized label (when anything is left) plus the full value as an
// annotation under the same key. An empty value records the key alone.
func (m kubeMeta) put(key, value string) {
	key = SanitizeLabelKey(key)
	if key == "" {
		return
	}
	m.keys[key] = true
	delete(m.labels, key)
	delete(m.annotations, key)
	if value == "" {
		return
	}
	if ValidLabelValue(value) {
		m.labels[key] = value
		return
	}
	if v := SanitizeLabelValue(value); v != "" {
		m.labels[key] = v
	}
	m.annotations[key] = value
}

// kubernetesLayers returns the user layer (global user labels) and the
// managed layer (konductor's keys) separately: the transform puts a
// resource's own labels between them.
func (f Facts) kubernetesLayers(module string) (user, managed kubeMeta) {
	user, managed = newKubeMeta(), newKubeMeta()
	for _, k := range slices.Sorted(maps.Keys(f.Labels)) {
		user.put(k, f.Labels[k])
	}
	managed.put(LabelManagedBy, ManagedByValue)
	managed.put(LabelStack, f.Stack)
	managed.put(LabelModule, module)
	managed.put(labelProject, f.Project)
	managed.put(LabelGitCommit, f.Git.Commit)
	managed.put(LabelGitBranch, f.Git.Branch)
	managed.put(labelGitRepository, f.Git.Repository)
	for _, c := range f.Compliance.fields() {
		managed.put(compliancePrefix+c.key, c.value)
	}
	return user, managed
}

// overlay layers one map (labels or annotations): the user's values, then
// the resource's own, then the managed keys, which replace whatever a lower
// layer had under them, even when konductor has no value for them.
func overlay(user, own map[string]string, managed map[string]string, managedKeys map[string]bool) map[string]string {
	out := maps.Clone(user)
	maps.Copy(out, own)
	for k := range managedKeys {
		delete(out, k)
	}
	maps.Copy(out, managed)
	return out
}

// KubernetesMetadata returns the labels and annotations every Kubernetes
// resource of module carries: the user labels, then konductor's own keys
// (managed-by, stack, module, project, git commit/branch/repository, the
// flattened compliance block), which win over a user label of the same key.
// Every label is valid label syntax; a value that is not a valid label
// value is kept whole in an annotation of the same key.
func (f Facts) KubernetesMetadata(module string) (labels, annotations map[string]string) {
	user, managed := f.kubernetesLayers(module)
	return overlay(user.labels, nil, managed.labels, managed.keys),
		overlay(user.annotations, nil, managed.annotations, managed.keys)
}
