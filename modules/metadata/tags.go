package metadata

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Cloud tag keys beyond the shared ones of keys.go.
const (
	tagProject       = "konductor:project"
	tagGitRepository = "konductor:git-repository"
	// tagCompliancePrefix prefixes the flattened compliance keys, e.g.
	// konductor:compliance:fisma-level.
	tagCompliancePrefix = "konductor:compliance:"
)

// MaxTags is the number of tags AWS and Azure accept on one resource.
const MaxTags = 50

// tagRules are one cloud's limits on tags.
type tagRules struct {
	maxKey, maxValue int
	key, value       func(string) string // character rules; may return ""
	// foldCase: keys differing only in case are the same key (Azure).
	foldCase bool
}

var (
	// AWS: keys 1-128 and values 0-256 Unicode characters of letters,
	// digits, spaces and + - = . _ : / @; the aws: prefix is reserved.
	awsRules = tagRules{maxKey: 128, maxValue: 256, key: awsKey, value: awsValue}
	// Azure: names up to 512 characters without < > % & \ ? /, values up
	// to 256; names are case-insensitive.
	azureRules = tagRules{maxKey: 512, maxValue: 256, key: azureKey, value: azureValue, foldCase: true}
	// Storage accounts limit tag names to 128 characters.
	azureStorageRules = tagRules{maxKey: 128, maxValue: 256, key: azureKey, value: azureValue, foldCase: true}
)

func isAWSTagChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || strings.ContainsRune("+-=._:/@", r)
}

func awsValue(v string) string { return replaceInvalid(v, isAWSTagChar, '_') }

func awsKey(k string) string {
	k = strings.TrimSpace(awsValue(k))
	if len(k) >= 4 && strings.EqualFold(k[:4], "aws:") {
		k = k[:3] + "_" + k[4:]
	}
	return k
}

func azureKey(k string) string {
	return strings.TrimSpace(replaceInvalid(k, func(r rune) bool {
		return !strings.ContainsRune(`<>%&\?/`, r) && !unicode.IsControl(r)
	}, '_'))
}

func azureValue(v string) string {
	return replaceInvalid(v, func(r rune) bool { return !unicode.IsControl(r) }, ' ')
}

// fitKey cuts a key longer than max characters and makes it unique again
// with a hash of the whole key.
func fitKey(k string, max int) string {
	if utf8.RuneCountInString(k) <= max {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return string([]rune(k)[:max-9]) + "-" + hex.EncodeToString(sum[:4])
}

// fitValue cuts a value longer than max characters, marking the cut.
func fitValue(v string, max int) string {
	if utf8.RuneCountInString(v) <= max {
		return v
	}
	return string([]rune(v)[:max-3]) + "..."
}

// isKonductorTag reports whether key is one konductor sets: such keys are
// never taken from user labels or a resource's own tags.
func isKonductorTag(key string) bool {
	k := strings.ToLower(key)
	return k == TagManagedBy || strings.HasPrefix(k, "konductor:")
}

// tagTiers returns the tags of module in priority order: konductor's
// required keys (managed-by, stack, module, commit) and context (project,
// git repository and branch), the user labels by key, the compliance block.
func (f Facts) tagTiers(module string) (managed, user, compliance []field) {
	for _, fl := range []field{
		{TagManagedBy, ManagedByValue},
		{TagStack, f.Stack},
		{TagModule, module},
		{TagGitCommit, f.Git.Commit},
		{tagProject, f.Project},
		{tagGitRepository, f.Git.Repository},
		{TagGitBranch, f.Git.Branch},
	} {
		if fl.value != "" {
			managed = append(managed, fl)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(f.Labels)) {
		if !isKonductorTag(k) {
			user = append(user, field{k, f.Labels[k]})
		}
	}
	for _, c := range f.Compliance.fields() {
		compliance = append(compliance, field{tagCompliancePrefix + c.key, c.value})
	}
	return managed, user, compliance
}

// build applies the rules to the tiers in order and keeps the first
// MaxTags distinct keys: what does not fit is dropped from the lowest
// priority end, deterministically.
func (r tagRules) build(tiers ...[]field) map[string]string {
	out := map[string]string{}
	seen := map[string]bool{}
	for _, tier := range tiers {
		for _, t := range tier {
			if len(out) == MaxTags {
				return out
			}
			k := fitKey(r.key(t.key), r.maxKey)
			if k == "" {
				continue
			}
			id := k
			if r.foldCase {
				id = strings.ToLower(k)
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			out[k] = fitValue(r.value(t.value), r.maxValue)
		}
	}
	return out
}

// merge returns a resource's tags: konductor's keys, then the resource's
// own tags (but never under a konductor key), then the user labels, then
// compliance, cut to MaxTags.
func (r tagRules) merge(f Facts, module string, own map[string]string) map[string]string {
	managed, user, compliance := f.tagTiers(module)
	var ownTier []field
	for _, k := range slices.Sorted(maps.Keys(own)) {
		if !isKonductorTag(k) {
			ownTier = append(ownTier, field{k, own[k]})
		}
	}
	return r.build(managed, ownTier, user, compliance)
}

// AWSTags returns the tags every AWS resource of module carries (at most
// MaxTags, each within AWS's key and value rules).
func (f Facts) AWSTags(module string) map[string]string {
	return awsRules.merge(f, module, nil)
}

// AzureTags returns the tags every Azure resource of module carries (at
// most MaxTags, each within Azure's name and value rules).
func (f Facts) AzureTags(module string) map[string]string {
	return azureRules.merge(f, module, nil)
}
