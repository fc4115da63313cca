package github

// This file makes a comment of several stacks readable at a glance: a
// table of the stacks above the sections, no-change sections folded, and a
// finding that several stacks share said once. Each job writes only its own
// section, so all of it is rebuilt by whichever writer composes the comment,
// from a hidden summary line that every section carries.

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/containercraft/konductor-action/runner/report"
	"github.com/containercraft/konductor-action/runner/result"
)

// Status is a section's outcome as the overview table shows it.
type Status string

// Section statuses.
const (
	StatusFailed    Status = "failed"
	StatusInvalid   Status = "invalid"
	StatusBlocked   Status = "blocked"
	StatusChanges   Status = "changes"
	StatusNoChanges Status = "no-changes"
	StatusSucceeded Status = "succeeded"
	// StatusNote is a section that is no stack's (the "no stacks affected"
	// note): it has no row in the table.
	StatusNote Status = "note"
)

// Summary is what the overview says of a section. The writer sets it; it
// travels in the comment on a hidden line, so that a later writer of another
// stack renders the table with it.
type Summary struct {
	Status Status
	// Create, Update, Replace and Delete count the resources of the
	// modules: what a reviewer reviews.
	Create, Update, Replace, Delete int
	// Internal counts konductor's own resources (providers, module
	// components) changed alongside, apart from the counts above.
	Internal int
	// Mandatory and Advisory count policy violations.
	Mandatory, Advisory int
	// Findings are lines of Body that each say one finding (a policy
	// violation, a warning). A line that is the same in several sections
	// is said once, above them, naming the stacks.
	Findings []string
}

const (
	metaPrefix     = "<!-- konductor:meta"
	foldMarker     = "<!-- konductor:fold -->"
	overviewBegin  = "<!-- konductor:overview -->"
	overviewEnd    = "<!-- konductor:overview:end -->"
	anchorPrefix   = "konductor-"
	findingsAnchor = anchorPrefix + "findings"
	// overviewShare bounds the overview to a part of the limit, so the
	// sections keep room however many stacks there are.
	overviewShare = 4
)

var (
	metaRE    = regexp.MustCompile(`^<!-- konductor:meta((?: [a-z]+=[^ ]*)*) -->(<a name="[A-Za-z0-9._-]*"></a>)?$`)
	keyRE     = regexp.MustCompile(`^[0-9a-f]{12}$`)
	refRE     = regexp.MustCompile(` <!-- konductor:ref:([0-9a-f]{12}) -->$`)
	findingRE = regexp.MustCompile(` <!-- konductor:finding:([0-9a-f]{12}) -->$`)
	statusRE  = regexp.MustCompile(`^[a-z-]*$`)
)

// SummaryOf is the summary of a stack's section rendered by
// report.Markdown from r.
func SummaryOf(r *result.Result) *Summary {
	h := report.Headcount(r)
	s := &Summary{Create: h.Create, Update: h.Update, Replace: h.Replace, Delete: h.Delete, Internal: h.Internal,
		Mandatory: r.MandatoryViolations(), Advisory: len(r.Violations) - r.MandatoryViolations(), Findings: report.Findings(r)}
	switch {
	case r.Status == result.Failed:
		s.Status = StatusFailed
	case r.Status == result.Invalid:
		s.Status = StatusInvalid
	case r.Status == result.Blocked:
		s.Status = StatusBlocked
	case r.Operation != result.Preview:
		s.Status = StatusSucceeded
	case r.HasChanges():
		s.Status = StatusChanges
	default:
		s.Status = StatusNoChanges
	}
	return s
}

// clean puts a writer's summary in the form the comment carries: counts
// not negative, a status that fits the hidden line, and only the findings
// that are lines of body, once each.
func (s *Summary) clean(body string) *Summary {
	if s == nil {
		return nil
	}
	c := *s
	if !statusRE.MatchString(string(c.Status)) {
		c.Status = ""
	}
	for _, n := range c.counts() {
		*n = max(0, *n)
	}
	lines := strings.Split(body, "\n")
	c.Findings = nil
	for _, f := range s.Findings {
		f = neutralize(strings.ReplaceAll(f, "\r\n", "\n"))
		if f != "" && slices.Contains(lines, f) && !slices.Contains(c.Findings, f) {
			c.Findings = append(c.Findings, f)
		}
	}
	return &c
}

func (s *Summary) counts() []*int {
	return []*int{&s.Create, &s.Update, &s.Replace, &s.Delete, &s.Internal, &s.Mandatory, &s.Advisory}
}

var countNames = []string{"create", "update", "replace", "delete", "internal", "mandatory", "advisory"}

// metaLine is the hidden line that carries s, and anchor (may be empty):
// an HTML comment block ends at its line, so what follows it on the line
// is raw HTML, and the anchor takes no room on the page.
func metaLine(s *Summary, keys []string, anchor string) string {
	var b strings.Builder
	b.WriteString(metaPrefix)
	if s != nil {
		b.WriteString(" status=" + string(s.Status))
		for i, n := range s.counts() {
			fmt.Fprintf(&b, " %s=%d", countNames[i], *n)
		}
		if len(keys) > 0 {
			b.WriteString(" findings=" + strings.Join(keys, ","))
		}
	}
	b.WriteString(" -->")
	if anchor != "" {
		b.WriteString(`<a name="` + anchor + `"></a>`)
	}
	return b.String()
}

// parseMeta reads a hidden summary line. A line edited out of shape gives
// no summary (the table shows "?"), not an error: the section itself stays.
func parseMeta(line string) (s *Summary, keys []string) {
	m := metaRE.FindStringSubmatch(line)
	if m == nil || m[1] == "" {
		return nil, nil
	}
	s = &Summary{}
	for _, kv := range strings.Fields(m[1]) {
		k, v, _ := strings.Cut(kv, "=")
		switch i := slices.Index(countNames, k); {
		case i >= 0:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, nil
			}
			*s.counts()[i] = n
		case k == "status":
			if !statusRE.MatchString(v) {
				return nil, nil
			}
			s.Status = Status(v)
		case k == "findings":
			for _, key := range strings.Split(v, ",") {
				if keyRE.MatchString(key) {
					keys = append(keys, key)
				}
			}
		}
	}
	return s, keys
}

// sectionDigest covers what a writer gave: the body and the summary.
// Without a summary it is the body's digest, as before summaries were.
func sectionDigest(s Section) string {
	text := s.Body
	if s.Summary != nil {
		text += "\n" + metaLine(s.Summary, findingKeys(s.Summary.Findings), "")
	}
	if s.Review != "" {
		text += "\nreview=" + s.Review
	}
	return digest(text)
}

func findingKeys(findings []string) []string {
	keys := make([]string, len(findings))
	for i, f := range findings {
		keys[i] = digest(f)
	}
	return keys
}

func isNote(s Section) bool { return s.Summary != nil && s.Summary.Status == StatusNote }

// tier orders sections by what a reviewer must see: 0 failed, invalid,
// blocked or mandatory violations; 1 changes (or unknown); 2 nothing to
// review. When the comment must be cut, a lower tier keeps its room longer.
func tier(s Section) int {
	switch {
	case isNote(s):
		return 2
	case s.Summary == nil:
		return 1
	}
	switch m := s.Summary; {
	case m.Status == StatusFailed || m.Status == StatusInvalid || m.Status == StatusBlocked || m.Mandatory > 0:
		return 0
	case m.Status == StatusNoChanges && m.Advisory == 0:
		return 2
	}
	return 1
}

// layout is what Compose renders around the sections' bodies, decided from
// all the sections at once.
type layout struct {
	// overview is the table and the shared findings; empty for one stack.
	overview string
	anchors  []string
	folded   []bool
	// bodies have shared findings replaced by a reference to the overview.
	bodies []string
	// keys are each section's finding keys for its hidden line.
	keys [][]string
}

// plan lays out secs (normalized) for a comment of at most limit runes.
func plan(secs []Section, limit int) layout {
	n := len(secs)
	lay := layout{anchors: make([]string, n), folded: make([]bool, n), bodies: make([]string, n), keys: make([][]string, n)}
	var rows []int
	for i, s := range secs {
		lay.bodies[i] = s.Body
		if s.Summary != nil {
			lay.keys[i] = findingKeys(s.Summary.Findings)
		}
		if !isNote(s) {
			rows = append(rows, i)
		}
	}
	if len(rows) < 2 {
		return lay
	}
	used := map[string]bool{}
	for _, i := range rows {
		lay.anchors[i] = anchorFor(secs[i].Stack, used)
		lay.folded[i] = tier(secs[i]) == 2
	}
	room := -1
	if limit > 0 {
		room = limit / overviewShare
	}
	var b strings.Builder
	b.WriteString(overviewBegin + "\n")
	writeTable(&b, secs, rows, lay.anchors, room)
	if room >= 0 {
		room = max(0, room-runes(b.String()))
	}
	shared := shareFindings(secs, lay, room)
	if len(shared) > 0 {
		b.WriteString("\n<a name=\"" + findingsAnchor + "\"></a>\n**Findings in several stacks**\n\n")
		for _, f := range shared {
			b.WriteString(f.entry + "\n")
		}
	}
	// A blank line ends the table or list before the marker.
	b.WriteString("\n" + overviewEnd)
	lay.overview = b.String()
	for _, f := range shared {
		for _, i := range f.sections {
			lay.bodies[i] = replaceLine(lay.bodies[i], f.text, f.ref)
		}
	}
	return lay
}

// anchorFor names a section's anchor from its stack, unique in the comment.
func anchorFor(stack string, used map[string]bool) string {
	base := anchorPrefix + strings.Map(func(r rune) rune {
		if r == '/' {
			return '-'
		}
		return r
	}, stack)
	a := base
	for k := 2; used[a] || a == findingsAnchor; k++ {
		a = base + "-" + strconv.Itoa(k)
	}
	used[a] = true
	return a
}

// link is a link to an anchor. GitHub prefixes the names in a comment with
// "user-content-" and, without its script, finds only the prefixed name.
func link(text, anchor string) string { return "[" + text + "](#user-content-" + anchor + ")" }

func writeTable(b *strings.Builder, secs []Section, rows []int, anchors []string, room int) {
	head := "| Stack | Status | Create | Update | Replace | Delete | Policy | Internal |\n|:--|:--|--:|--:|--:|--:|:--|--:|\n"
	legend := ""
	for _, i := range rows {
		if m := secs[i].Summary; m != nil && m.Internal > 0 {
			legend = "\n<sub>Create to Delete count the resources of the modules; Internal, konductor's own (providers, module components).</sub>\n"
		}
	}
	more := func(n int) string { return fmt.Sprintf("| … | %d more stack%s, below | | | | | | |\n", n, plural(n)) }
	b.WriteString(head)
	size := runes(head) + runes(more(len(rows))) + runes(legend)
	for k, i := range rows {
		row := tableRow(secs[i], anchors[i])
		if size += runes(row); room >= 0 && k < len(rows)-1 && size > room {
			b.WriteString(more(len(rows) - k))
			break
		}
		b.WriteString(row)
	}
	b.WriteString(legend)
}

func tableRow(s Section, anchor string) string {
	cells := []string{link("`"+s.Stack+"`", anchor)}
	m := s.Summary
	if m == nil {
		cells = append(cells, "?", "?", "?", "?", "?", "?", "?")
	} else {
		cells = append(cells, statusCell(m))
		for _, n := range []int{m.Create, m.Update, m.Replace, m.Delete} {
			cells = append(cells, countCell(n))
		}
		var policy []string
		if m.Mandatory > 0 {
			policy = append(policy, fmt.Sprintf("🛑 %d mandatory", m.Mandatory))
		}
		if m.Advisory > 0 {
			policy = append(policy, fmt.Sprintf("⚠️ %d advisory", m.Advisory))
		}
		if len(policy) == 0 {
			policy = []string{"–"}
		}
		cells = append(cells, strings.Join(policy, " · "), countCell(m.Internal))
	}
	if s.SupersededBy != "" {
		cells[1] += " (outdated)"
	}
	return "| " + strings.Join(cells, " | ") + " |\n"
}

func countCell(n int) string {
	if n == 0 {
		return "–"
	}
	return formatCount(n)
}

func statusCell(m *Summary) string {
	icon, word := status(m)
	if word == "" {
		return "?"
	}
	return icon + " " + word
}

// status reads as a section's heading does, with the same icons; word is
// empty for a status this version does not know.
func status(m *Summary) (icon, word string) {
	icon = "✅"
	switch {
	case m.Status == StatusFailed || m.Status == StatusInvalid:
		icon = "❌"
	case m.Status == StatusBlocked || m.Mandatory > 0:
		icon = "🛑"
	case m.Delete > 0 || m.Replace > 0:
		icon = "⚠️"
	}
	word = map[Status]string{StatusFailed: "failed", StatusInvalid: "invalid configuration", StatusBlocked: "blocked by policy",
		StatusChanges: "has changes", StatusNoChanges: "no changes", StatusSucceeded: "succeeded"}[m.Status]
	return icon, word
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// sharedFinding is a finding line found in several sections.
type sharedFinding struct {
	text     string
	sections []int
	// rank orders shared findings: the tier of the most important section
	// that has it, then its place among that section's findings (the
	// writer's order: mandatory violations first).
	rank [2]int
	// entry is its line in the overview; ref replaces it in the sections.
	entry, ref string
}

// shareFindings picks the findings that several sections share, the most
// important first, as many as room allows (room < 0: no bound). A finding
// left out stays in each section.
func shareFindings(secs []Section, lay layout, room int) []sharedFinding {
	var all []*sharedFinding
	byText := map[string]*sharedFinding{}
	for i, s := range secs {
		if lay.anchors[i] == "" || s.Summary == nil {
			continue
		}
		for k, f := range s.Summary.Findings {
			rank := [2]int{tier(s), k}
			sf := byText[f]
			if sf == nil {
				sf = &sharedFinding{text: f, rank: rank}
				byText[f] = sf
				all = append(all, sf)
			}
			sf.sections = append(sf.sections, i)
			if cmp.Or(cmp.Compare(rank[0], sf.rank[0]), cmp.Compare(rank[1], sf.rank[1])) < 0 {
				sf.rank = rank
			}
		}
	}
	slices.SortStableFunc(all, func(a, b *sharedFinding) int {
		return cmp.Or(cmp.Compare(a.rank[0], b.rank[0]), cmp.Compare(a.rank[1], b.rank[1]))
	})
	var out []sharedFinding
	size := runes(findingsAnchor) + 60
	for _, sf := range all {
		if len(sf.sections) < 2 {
			continue
		}
		key := digest(sf.text)
		var stacks []string
		for _, i := range sf.sections {
			stacks = append(stacks, "`"+secs[i].Stack+"`")
		}
		// A list item stays one, led by the stacks it applies to.
		sf.entry = "- " + strings.Join(stacks, ", ") + " — " + strings.TrimPrefix(sf.text, "- ") + " <!-- konductor:finding:" + key + " -->"
		sf.ref = findingHead(sf.text) + " — " + link("in several stacks, said once above", findingsAnchor) + " <!-- konductor:ref:" + key + " -->"
		if room >= 0 && size+runes(sf.entry)+1 > room {
			continue
		}
		size += runes(sf.entry) + 1
		out = append(out, *sf)
	}
	return out
}

// findingHead is the start of a finding line, up to its details (" on ",
// ": "), kept when its markdown is whole: the rule and level of a policy
// violation.
func findingHead(line string) string {
	head := line
	for _, sep := range []string{" on ", ": "} {
		if i := strings.Index(head, sep); i > 0 {
			head = head[:i]
		}
	}
	if runes(head) > 120 || strings.Count(head, "`")%2 != 0 || strings.Count(head, "**")%2 != 0 || strings.ContainsAny(head, "<[") {
		head = "- A finding"
		if !strings.HasPrefix(line, "- ") {
			head = "A finding"
		}
	}
	return head
}

// replaceLine replaces every line of body equal to old.
func replaceLine(body, old, repl string) string {
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		if l == old {
			lines[i] = repl
		}
	}
	return strings.Join(lines, "\n")
}

// restoreFindings reads the shared findings back from the overview's lines:
// key → the line as the sections had it.
func restoreFindings(lines []string) map[string]string {
	out := map[string]string{}
	for _, l := range lines {
		m := findingRE.FindStringSubmatch(l)
		if m == nil || !strings.HasPrefix(l, "- ") {
			continue
		}
		_, text, ok := strings.Cut(strings.TrimSuffix(l[2:], m[0]), " — ")
		for _, cand := range []string{"- " + text, text} {
			if ok && digest(cand) == m[1] {
				out[m[1]] = cand
				break
			}
		}
	}
	return out
}

// foldLine opens the <details> a folded section sits in; its summary says
// what the section's heading would.
func foldLine(s Section) string {
	icon, word := status(s.Summary)
	return foldMarker + "<details><summary>" + icon + " <code>" + s.Stack + "</code> — " + word + "</summary>"
}

// presentKeys are the keys whose finding body still holds, as itself or
// as a reference: a cut may have left some out.
func presentKeys(keys []string, body string) []string {
	have := map[string]bool{}
	for _, l := range strings.Split(body, "\n") {
		if m := refRE.FindStringSubmatch(l); m != nil {
			have[m[1]] = true
		} else {
			have[digest(l)] = true
		}
	}
	var out []string
	for _, k := range keys {
		if have[k] {
			out = append(out, k)
		}
	}
	return out
}

// unwrap takes what Compose put around a section's body off content: the
// hidden summary line, the fold, and puts back the shared findings.
func unwrap(s *Section, content []string, shared map[string]string) []string {
	var keys []string
	if len(content) > 0 && strings.HasPrefix(content[0], metaPrefix) {
		s.Summary, keys = parseMeta(content[0])
		content = content[1:]
	}
	if s.SupersededBy != "" && len(content) > 0 && strings.HasPrefix(content[0], outdatedPrefix) {
		content = content[1:]
		if len(content) > 0 && content[0] == "" {
			content = content[1:]
		}
	}
	if len(content) >= 2 && strings.HasPrefix(content[0], foldMarker) && content[1] == "" {
		content = content[2:]
		if k := len(content); k >= 2 && content[k-1] == "</details>" && content[k-2] == "" {
			content = content[:k-2]
		}
	}
	content = slices.Clone(content)
	for i, l := range content {
		if m := refRE.FindStringSubmatch(l); m != nil {
			if text, ok := shared[m[1]]; ok {
				content[i] = text
			}
		}
	}
	if s.Summary != nil && len(keys) > 0 {
		byKey := map[string]string{}
		for _, l := range content {
			byKey[digest(l)] = l
		}
		for _, k := range keys {
			if l, ok := byKey[k]; ok {
				s.Summary.Findings = append(s.Summary.Findings, l)
			}
		}
	}
	return content
}
