package github

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/report"
)

const (
	// CommentMarker starts the body of the sticky comment; a comment is ours
	// only when its body starts with it.
	CommentMarker = "<!-- konductor:comment -->"
	// MaxBodyLength is GitHub's limit on a comment body, in characters
	// (Unicode code points, not bytes).
	MaxBodyLength = 65536
	// DefaultHeader is the heading above the sections.
	DefaultHeader = "## Konductor preview"

	outdatedPrefix = "> ⚠️ Outdated:"
	markerPrefix   = "<!-- konductor:"
	sectionPrefix  = "<!-- konductor:section:"
)

// Section is one stack's part of the sticky comment.
type Section struct {
	// Stack names the section; sections are ordered by it. Letters, digits
	// and . _ - /, starting with a letter or digit (Pulumi stack names,
	// fully qualified ones included).
	Stack string
	// Body is the section's markdown, already budgeted by the caller.
	Body string
	// SHA is the commit the section previewed (optional, hex).
	SHA string
	// SupersededBy is the newer commit being previewed when this section's
	// SHA is older; Compose then puts an "Outdated" line above the body.
	// UpsertSection sets it.
	SupersededBy string
	// Digest identifies the body and summary as their writer gave them,
	// before any cut to fit the limit; Compose computes it when empty. It
	// lets a writer recognise its section after another writer had to
	// shorten it.
	Digest string
	// Summary is what the table above the sections says of this one
	// (optional: without it the row shows "?"). It is carried in the
	// comment, so every writer renders every row.
	Summary *Summary
	// Replaces names sections UpsertSection removes while writing this one:
	// the "no stacks affected" note goes once a commit affects a stack.
	// Not part of the comment.
	Replaces []string
	// Note marks a section that stands for the absence of sections (the
	// "no stacks affected" note): it is never added beside sections of a
	// newer commit. Not part of the comment.
	Note bool
	// Review is what the section's preview showed, encoded by
	// result.Review.Encode: a deploy of the merged commit compares itself
	// with it. Hidden in the comment.
	Review string
}

var (
	hexRE   = regexp.MustCompile(`^[0-9A-Fa-f]{7,64}$`)
	beginRE = regexp.MustCompile(`^<!-- konductor:section:([A-Za-z0-9][A-Za-z0-9._/-]*):begin((?: [a-z-]+=[0-9A-Za-z_-]+)*) -->$`)
	// reviewRE is what result.Review.Encode writes.
	reviewRE = regexp.MustCompile(`^[0-9a-f]{32}(-[0-9A-Za-z_-]*)?$`)
)

// ValidateSection reports a section that cannot be written safely.
func ValidateSection(s Section) error {
	if !config.ValidStackName(s.Stack) {
		return fmt.Errorf("github: invalid stack name %q for a comment section: use letters, digits, '.', '_', '-', '/'", s.Stack)
	}
	for _, v := range []struct{ name, val string }{{"SHA", s.SHA}, {"SupersededBy", s.SupersededBy}} {
		if v.val != "" && !hexRE.MatchString(v.val) {
			return fmt.Errorf("github: section %s: %s %q is not a hex commit id", s.Stack, v.name, v.val)
		}
	}
	if s.Review != "" && !reviewRE.MatchString(s.Review) {
		return fmt.Errorf("github: section %s: review %q is not an encoded review", s.Stack, s.Review)
	}
	return nil
}

func digest(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:6])
}

// IsCommitSHA reports whether s is a commit SHA, full or abbreviated as
// git does (7 hex digits at least; 64 for SHA-256 repositories).
func IsCommitSHA(s string) bool { return hexRE.MatchString(s) }

// SameCommit compares commit ids, allowing one to be an abbreviation.
func SameCommit(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if a == "" || b == "" {
		return a == b
	}
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

func beginMarker(s Section) string {
	var b strings.Builder
	b.WriteString("<!-- konductor:section:" + s.Stack + ":begin")
	if s.SHA != "" {
		b.WriteString(" sha=" + s.SHA)
	}
	if s.SupersededBy != "" {
		b.WriteString(" superseded-by=" + s.SupersededBy)
	}
	if s.Digest != "" {
		b.WriteString(" digest=" + s.Digest)
	}
	if s.Review != "" {
		b.WriteString(" review=" + s.Review)
	}
	b.WriteString(" -->")
	return b.String()
}

func endMarker(stack string) string { return "<!-- konductor:section:" + stack + ":end -->" }

func outdatedLine(s Section) string {
	return fmt.Sprintf("%s previewed %s; a newer commit %s is being previewed.", outdatedPrefix, report.ShortSHA(s.SHA), report.ShortSHA(s.SupersededBy))
}

// neutralize keeps text from forging our markers: a body line that looked
// like a marker would split or end a section when the comment is read back.
// It is idempotent, so a parsed body composes to itself.
func neutralize(s string) string {
	return strings.ReplaceAll(s, markerPrefix, "<!-- konductor\u200b:")
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// normalize copies, cleans and orders sections; a later section replaces an
// earlier one of the same stack.
func normalize(sections []Section) []Section {
	byStack := map[string]int{}
	var out []Section
	for _, s := range sections {
		s.Body = strings.TrimRight(neutralize(strings.ReplaceAll(s.Body, "\r\n", "\n")), "\n")
		s.Summary = s.Summary.clean(s.Body)
		if s.Digest == "" {
			s.Digest = sectionDigest(s)
		}
		if i, ok := byStack[s.Stack]; ok {
			out[i] = s
			continue
		}
		byStack[s.Stack] = len(out)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Section) int { return strings.Compare(a.Stack, b.Stack) })
	return out
}

// render writes the comment: bodies are the sections' bodies as they are
// shown, keys their findings' keys for the hidden summary lines.
func render(header string, sections []Section, lay layout, bodies []string, keys [][]string) string {
	var b strings.Builder
	b.WriteString(CommentMarker)
	b.WriteByte('\n')
	b.WriteString(header)
	if lay.overview != "" {
		b.WriteString("\n\n")
		b.WriteString(lay.overview)
	}
	for i, s := range sections {
		b.WriteString("\n\n")
		b.WriteString(beginMarker(s))
		b.WriteByte('\n')
		if s.Summary != nil || lay.anchors[i] != "" {
			b.WriteString(metaLine(s.Summary, keys[i], lay.anchors[i]))
			b.WriteByte('\n')
		}
		if s.SupersededBy != "" {
			b.WriteString(outdatedLine(s))
			b.WriteString("\n\n")
		}
		if lay.folded[i] {
			// Markdown inside <details> needs a blank line after </summary>.
			b.WriteString(foldLine(s))
			b.WriteString("\n\n")
		}
		b.WriteString(bodies[i])
		b.WriteByte('\n')
		if lay.folded[i] {
			b.WriteString("\n</details>\n")
		}
		b.WriteString(endMarker(s.Stack))
	}
	b.WriteByte('\n')
	return b.String()
}

// Compose builds the sticky comment: CommentMarker, the header, then each
// section wrapped in its begin/end markers, ordered by stack name. The result
// has at most limit characters (runes; no limit when limit <= 0).
//
// With two stacks or more, a table of the stacks comes first, each row
// linking to its section, then the findings several sections share, said
// once; each section says such a finding by a reference to it. The section
// of a stack with nothing to review (no changes, no violations) is folded.
//
// When the sections do not fit, each first gets up to an equal part of half
// the room left by the header, the table and markers; the rest goes to the
// sections that matter most first (failed, blocked, mandatory violations,
// then changes, then the rest), shared within each kind so that a section
// smaller than an equal share keeps all of it and what it leaves goes to the
// bigger ones. A section over its share is cut at a line boundary, never
// mid-line; a <details> block or code fence left open is closed, and a last
// line says how many lines were left out and that the full diff is in the
// job summary.
func Compose(header string, sections []Section, limit int) string {
	secs := normalize(sections)
	header = strings.TrimRight(neutralize(strings.ReplaceAll(header, "\r\n", "\n")), "\n")
	lay := plan(secs, limit)
	bodies := slices.Clone(lay.bodies)
	sizes := make([]int, len(secs))
	tiers := make([]int, len(secs))
	total := 0
	for i, s := range secs {
		sizes[i] = runes(bodies[i])
		tiers[i] = tier(s)
		total += sizes[i]
	}
	empty := runes(render(header, secs, lay, make([]string, len(secs)), lay.keys))
	if limit <= 0 || empty+total <= limit {
		return render(header, secs, lay, bodies, lay.keys)
	}
	shares := tieredShares(sizes, tiers, limit-empty)
	keys := slices.Clone(lay.keys)
	for i := range secs {
		if sizes[i] > shares[i] {
			bodies[i] = truncateBody(bodies[i], shares[i], limit)
			keys[i] = presentKeys(keys[i], bodies[i])
		}
	}
	out := render(header, secs, lay, bodies, keys)
	if runes(out) > limit {
		// Only when the header and markers alone do not fit.
		out = cutLines(out, limit)
	}
	return out
}

// tieredShares splits room among sizes: first every section gets up to an
// equal part of half the room, then the rest goes tier by tier, tier 0
// (the most important) first, by water-filling within a tier. A more important section is cut
// only when every less important one is down to its part.
func tieredShares(sizes, tiers []int, room int) []int {
	shares := make([]int, len(sizes))
	if room <= 0 || len(sizes) == 0 {
		return shares
	}
	floor := room / (2 * len(sizes))
	left := room
	for i, n := range sizes {
		shares[i] = min(n, floor)
		left -= shares[i]
	}
	for t := range slices.Max(tiers) + 1 {
		var idx, need []int
		for i := range sizes {
			if tiers[i] == t {
				idx = append(idx, i)
				need = append(need, sizes[i]-shares[i])
			}
		}
		for k, extra := range fairShares(need, left) {
			shares[idx[k]] += extra
			left -= extra
		}
	}
	return shares
}

// fairShares splits room among sizes by water-filling.
func fairShares(sizes []int, room int) []int {
	shares := make([]int, len(sizes))
	if room <= 0 {
		return shares
	}
	idx := make([]int, len(sizes))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return sizes[a] - sizes[b] })
	left := room
	for k, i := range idx {
		share := left / (len(idx) - k)
		shares[i] = min(sizes[i], share)
		left -= shares[i]
	}
	return shares
}

// mdState is what is open after a line: a code fence and <details> depth.
type mdState struct {
	fence   string
	details int
}

func fenceRun(line string) string {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 || len(t) < 3 || (t[0] != '`' && t[0] != '~') {
		return ""
	}
	n := 0
	for n < len(t) && t[n] == t[0] {
		n++
	}
	if n < 3 || (t[0] == '`' && strings.Contains(t[n:], "`")) {
		return ""
	}
	return t[:n]
}

func (st mdState) next(line string) mdState {
	if st.fence != "" {
		if f := fenceRun(line); f != "" && f[0] == st.fence[0] && len(f) >= len(st.fence) &&
			strings.TrimSpace(strings.TrimLeft(line, " ")[len(f):]) == "" {
			st.fence = ""
		}
		return st
	}
	if f := fenceRun(line); f != "" {
		st.fence = f
		return st
	}
	low := strings.ToLower(line)
	st.details = max(0, st.details+strings.Count(low, "<details")-strings.Count(low, "</details"))
	return st
}

func (st mdState) closers() []string {
	var c []string
	if st.fence != "" {
		c = append(c, st.fence)
	}
	for range st.details {
		c = append(c, "</details>")
	}
	return c
}

func formatCount(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func truncationNote(left, total, limit int) string {
	return fmt.Sprintf("> ✂️ %d of %d lines of this section were left out to keep the comment within %s characters. The full diff is in the job summary.",
		left, total, formatCount(limit))
}

// truncateBody keeps the longest run of whole leading lines of body that,
// with closers for what is left open and the truncation note, fits budget.
func truncateBody(body string, budget, limit int) string {
	lines := strings.Split(body, "\n")
	n := len(lines)
	prefix := make([]int, n+1) // runes of lines[:k] joined by "\n"
	states := make([]mdState, n+1)
	for i, l := range lines {
		prefix[i+1] = prefix[i] + runes(l)
		if i > 0 {
			prefix[i+1]++
		}
		states[i+1] = states[i].next(l)
	}
	tail := func(k int) []string {
		t := states[k].closers()
		if k > 0 || len(t) > 0 {
			t = append(t, "")
		}
		return append(t, truncationNote(n-k, n, limit))
	}
	noteBase := runes(truncationNote(0, n, limit)) - 1 // without the digit of 0
	// tailSize is runes(strings.Join(tail(k), "\n")), without building it.
	tailSize := func(k int) int {
		st := states[k]
		count, size := st.details, st.details*len("</details>")
		if st.fence != "" {
			count, size = count+1, size+len(st.fence)
		}
		if k > 0 || count > 0 {
			count++ // the blank line
		}
		return size + count + noteBase + len(strconv.Itoa(n-k)) // count: separators
	}
	for k := n - 1; k >= 0; k-- {
		size := tailSize(k)
		if k > 0 {
			size += prefix[k] + 1
		}
		if size <= budget {
			return strings.Join(append(slices.Clone(lines[:k]), tail(k)...), "\n")
		}
	}
	if short := "> ✂️ Left out to fit the comment; the full diff is in the job summary."; runes(short) <= budget {
		return short
	}
	return ""
}

// cutLines keeps the leading whole lines of s that fit in limit runes.
func cutLines(s string, limit int) string {
	var b strings.Builder
	n := 0
	for _, l := range strings.SplitAfter(s, "\n") {
		if n+runes(l) > limit {
			break
		}
		b.WriteString(l)
		n += runes(l)
	}
	return b.String()
}

// Parse reads a sticky comment body back: the header and the sections,
// with their summaries and their bodies as their writers gave them (shared
// findings put back, folds taken off). ok is false when the body does not
// start with CommentMarker. A section whose end marker is missing runs to
// the next section or the end; a summary edited out of shape is dropped.
func Parse(body string) (header string, sections []Section, ok bool) {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	trimmed := strings.TrimLeft(body, " \t\n")
	if !strings.HasPrefix(trimmed, CommentMarker) {
		return "", nil, false
	}
	lines := strings.Split(trimmed, "\n")[1:]
	var head []string
	seen := map[string]int{}
	shared := map[string]string{}
	for i := 0; i < len(lines); {
		if lines[i] == overviewBegin && len(sections) == 0 {
			// Compose's own: read back the shared findings, not the header.
			j := i + 1
			for j < len(lines) && lines[j] != overviewEnd && !strings.HasPrefix(lines[j], sectionPrefix) {
				j++
			}
			shared = restoreFindings(lines[i+1 : j])
			if i = j; j < len(lines) && lines[j] == overviewEnd {
				i++
			}
			continue
		}
		var m []string
		if strings.HasPrefix(lines[i], sectionPrefix) {
			m = beginRE.FindStringSubmatch(lines[i])
		}
		if m == nil {
			if len(sections) == 0 {
				head = append(head, lines[i])
			}
			i++
			continue
		}
		s := Section{Stack: m[1]}
		for _, kv := range strings.Fields(m[2]) {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "sha":
				s.SHA = v
			case "superseded-by":
				s.SupersededBy = v
			case "digest":
				s.Digest = v
			case "review":
				s.Review = v
			}
		}
		end := endMarker(s.Stack)
		j := i + 1
		for j < len(lines) && lines[j] != end && !(strings.HasPrefix(lines[j], sectionPrefix) && beginRE.MatchString(lines[j])) {
			j++
		}
		s.Body = strings.Join(unwrap(&s, lines[i+1:j], shared), "\n")
		if k, dup := seen[s.Stack]; dup {
			sections[k] = s
		} else {
			seen[s.Stack] = len(sections)
			sections = append(sections, s)
		}
		i = j
		if j < len(lines) && lines[j] == end {
			i++
		}
	}
	return strings.TrimSpace(strings.Join(head, "\n")), sections, true
}
