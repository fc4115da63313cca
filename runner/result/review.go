package result

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/containercraft/konductor-action/modules/metadata"
)

// Review is what a reviewer saw of a stack's preview, small enough to hide
// in the pull request comment: a digest of every change, and a short digest
// per changed resource so a later preview can name what differs. It leaves
// out konductor's volatile metadata (git commit and branch labels and tags),
// which differ between the reviewed commit and the merge commit by design.
type Review struct {
	// Digest covers every change: equal digests, equal changes.
	Digest string
	// Changes holds one entry per changed resource, by URN digest; nil
	// when the preview changed more than MaxReviewChanges resources (the
	// digest alone then says whether anything differs).
	Changes map[uint32]ReviewChange
}

// ReviewChange is one changed resource as reviewed.
type ReviewChange struct {
	Op      Op
	Content uint32 // digest of the op, replace reasons and diffs
}

// MaxReviewChanges bounds the per-resource entries a Review keeps: each
// costs 12 characters of the comment's 65,536.
const MaxReviewChanges = 300

// IsVolatile reports whether a property path is one of konductor's
// volatile metadata keys (metadata.labels["konductor.io/git-commit"],
// tags["konductor:git-commit"]).
func IsVolatile(path string) bool {
	for _, k := range metadata.VolatileKeys {
		if strings.HasSuffix(path, `["`+k+`"]`) || strings.HasSuffix(path, "."+k) {
			return true
		}
	}
	return false
}

// change is the part of a step a review covers.
type change struct {
	Op                  Op             `json:"op"`
	URN                 string         `json:"urn"`
	ReplaceReasons      []string       `json:"replaceReasons,omitempty"`
	DeleteBeforeReplace bool           `json:"deleteBeforeReplace,omitempty"`
	Diffs               []PropertyDiff `json:"diffs,omitempty"`
}

// changes lists r's changes as a review sees them, by URN: steps that
// change nothing, or only volatile metadata, are left out.
func changes(r *Result) []change {
	var out []change
	for _, s := range r.Steps {
		if s.Op == OpSame || s.Op == OpRead || s.Op == OpRefresh {
			continue
		}
		c := change{Op: s.Op, URN: s.URN, DeleteBeforeReplace: s.DeleteBeforeReplace,
			ReplaceReasons: slices.Sorted(slices.Values(s.ReplaceReasons))}
		for _, d := range s.Diffs {
			if !IsVolatile(d.Path) {
				c.Diffs = append(c.Diffs, d)
			}
		}
		if s.Op == OpUpdate && len(c.Diffs) == 0 && len(s.Diffs) > 0 {
			continue // only konductor's git metadata moves
		}
		slices.SortFunc(c.Diffs, func(a, b PropertyDiff) int { return strings.Compare(a.Path, b.Path) })
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b change) int { return strings.Compare(a.URN, b.URN) })
	return out
}

func hash32(b []byte) uint32 {
	sum := sha256.Sum256(b)
	return binary.BigEndian.Uint32(sum[:4])
}

// ReviewOf computes the review of a preview.
func ReviewOf(r *Result) Review {
	all := sha256.New()
	cs := changes(r)
	rv := Review{Changes: map[uint32]ReviewChange{}}
	for _, c := range cs {
		b, _ := json.Marshal(c)
		all.Write(b)
		all.Write([]byte{'\n'})
		rv.Changes[hash32([]byte(c.URN))] = ReviewChange{Op: c.Op, Content: hash32(b)}
	}
	rv.Digest = hex.EncodeToString(all.Sum(nil)[:16])
	if len(cs) > MaxReviewChanges {
		rv.Changes = nil
	}
	return rv
}

var opCodes = map[Op]byte{OpDelete: 'd', OpReplace: 'r', OpUpdate: 'u', OpCreate: 'c', OpImport: 'i'}

// Encode writes the review as one token of letters, digits, '-' and '_'.
func (rv Review) Encode() string {
	if rv.Changes == nil {
		return rv.Digest
	}
	keys := make([]uint32, 0, len(rv.Changes))
	for k := range rv.Changes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	buf := make([]byte, 0, 9*len(keys))
	for _, k := range keys {
		c := rv.Changes[k]
		code, ok := opCodes[c.Op]
		if !ok {
			code = '?'
		}
		buf = binary.BigEndian.AppendUint32(buf, k)
		buf = append(buf, code)
		buf = binary.BigEndian.AppendUint32(buf, c.Content)
	}
	return rv.Digest + "-" + base64.RawURLEncoding.EncodeToString(buf)
}

// DecodeReview reads what Encode wrote.
func DecodeReview(s string) (Review, error) {
	digest, packed, hasChanges := strings.Cut(s, "-")
	if len(digest) != 32 {
		return Review{}, errors.New("result: not a review")
	}
	if _, err := hex.DecodeString(digest); err != nil {
		return Review{}, fmt.Errorf("result: not a review: %w", err)
	}
	rv := Review{Digest: digest}
	if !hasChanges {
		return rv, nil
	}
	buf, err := base64.RawURLEncoding.DecodeString(packed)
	if err != nil || len(buf)%9 != 0 {
		return Review{}, fmt.Errorf("result: review entries unreadable (%d bytes): %v", len(buf), err)
	}
	rv.Changes = map[uint32]ReviewChange{}
	for i := 0; i < len(buf); i += 9 {
		op := Op("unknown")
		for o, c := range opCodes {
			if c == buf[i+4] {
				op = o
			}
		}
		rv.Changes[binary.BigEndian.Uint32(buf[i:])] = ReviewChange{Op: op, Content: binary.BigEndian.Uint32(buf[i+5:])}
	}
	return rv, nil
}

// Difference is one way a preview differs from a review.
type Difference struct {
	Op   Op     `json:"op,omitempty"`
	URN  string `json:"urn,omitempty"` // empty for what is not one resource
	Name string `json:"name,omitempty"`
	// Why: "not in the review", "changed since the review", or a sentence.
	Why string `json:"why"`
}

// Differences names how r differs from the review rv: changes the review
// did not have, changes that differ from what was reviewed, and how many
// reviewed changes r no longer makes. Empty when the digests are equal.
func Differences(rv Review, r *Result) []Difference {
	now := ReviewOf(r)
	if now.Digest == rv.Digest {
		return nil
	}
	if rv.Changes == nil || now.Changes == nil {
		return []Difference{{Why: "the changes differ from the review (too many to compare one by one)"}}
	}
	var out []Difference
	seen := map[uint32]bool{}
	for _, c := range changes(r) {
		k := hash32([]byte(c.URN))
		seen[k] = true
		was, ok := rv.Changes[k]
		switch {
		case !ok:
			out = append(out, Difference{Op: c.Op, URN: c.URN, Name: nameOf(c.URN), Why: "not in the review"})
		case was != now.Changes[k]:
			out = append(out, Difference{Op: c.Op, URN: c.URN, Name: nameOf(c.URN), Why: "changed since the review"})
		}
	}
	gone := 0
	for k := range rv.Changes {
		if !seen[k] {
			gone++
		}
	}
	if gone > 0 {
		out = append(out, Difference{Why: fmt.Sprintf("%d reviewed change(s) no longer planned", gone)})
	}
	return out
}
