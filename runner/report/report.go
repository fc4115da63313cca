// Package report renders a result.Result as markdown for a pull request
// comment, a job summary or a terminal, ordered by what a reviewer must see
// first and fitted to a character budget by dropping detail from the bottom
// up, whole lines at a time, saying what was left out.
package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/runner/result"
)

// CommentLimit is GitHub's limit on a comment body, in characters.
const CommentLimit = 65536

// SummaryLimit is GitHub's limit on a job summary, in bytes.
const SummaryLimit = 1 << 20

// Options tune rendering.
type Options struct {
	// Budget is the most characters the section may take; 0 means
	// CommentLimit.
	Budget int
	// FullDiffAt says where the unabridged diff is, for the note shown when
	// detail is dropped ("the job summary").
	FullDiffAt string
	// Heading is the markdown heading level for the stack title (default 3).
	Heading int
}

// Markdown renders r.
func Markdown(r *result.Result, opts Options) string {
	if opts.Budget <= 0 {
		opts.Budget = CommentLimit
	}
	if opts.Heading <= 0 {
		opts.Heading = 3
	}
	if opts.FullDiffAt == "" {
		opts.FullDiffAt = "the job summary"
	}
	return fit(blocks(r, opts), opts)
}

// A block is a titled list of lines; when space runs out its lines are
// dropped from the end and replaced by a count of what was dropped.
type block struct {
	lines []string
	// keep is how many leading lines (title) must stay with the block.
	keep int
	// what names the dropped lines: "creates", "property changes".
	what string
	// droppable blocks may vanish entirely (the folded full diff).
	droppable bool
	// tail closes the block (</details>, a fence) whenever any of it stays.
	tail []string
}

func blocks(r *result.Result, o Options) []*block {
	var out []*block
	out = append(out, &block{lines: header(r, o), keep: 1 << 30})
	if len(r.Violations) > 0 {
		out = append(out, violations(r))
	}
	if r.Error != "" {
		out = append(out, &block{lines: append([]string{"", "**Error**", ""}, fenced(r.Error)...), keep: 3, what: "error lines"})
	}
	groups := map[result.Op][]result.Step{}
	for _, s := range r.Steps {
		groups[s.Op] = append(groups[s.Op], s)
	}
	if d := append(slices.Clone(groups[result.OpDelete]), groups[result.OpReplace]...); len(d) > 0 {
		b := &block{lines: []string{"", "**Deletes and replaces**", ""}, keep: 3, what: "deletes and replaces"}
		for _, s := range d {
			b.lines = append(b.lines, stepLine(s))
		}
		out = append(out, b)
	}
	if all := groups[result.OpUpdate]; len(all) > 0 {
		u, metaOnly := splitVolatile(all)
		names := &block{lines: []string{"", "**Updates**", ""}, keep: 3, what: "updates"}
		if metaOnly > 0 {
			// One line for the noise every commit makes, above the list so
			// that a cut never hides that it was set apart.
			names.lines = append(names.lines, fmt.Sprintf("- 🏷️ %d resource%s: only konductor's git metadata (commit, branch) changes; listed in the full diff", metaOnly, plural(metaOnly)))
		}
		for _, s := range u {
			names.lines = append(names.lines, stepLine(s))
		}
		out = append(out, names)
		if n := len(u) + diffCount(u); len(u) > 0 && fits(n, o.Budget) {
			props := &block{lines: []string{"", "<details><summary>Property changes of updates</summary>", ""}, keep: 3, what: "property changes", droppable: true, tail: []string{"", "</details>"}}
			// Small updates show their diffs inline instead of folded.
			if n <= 40 {
				props.lines[1], props.tail = "Property changes:", nil
			}
			for _, s := range u {
				props.lines = append(props.lines, "- "+code(s.Type)+" **"+esc(s.Name)+"**")
				for _, d := range s.Diffs {
					props.lines = append(props.lines, "  - "+diffLine(d))
				}
			}
			out = append(out, props)
		}
	}
	if c := groups[result.OpCreate]; len(c) > 0 {
		b := &block{lines: []string{"", "**Creates**", ""}, keep: 3, what: "creates"}
		// New providers and module components come with the first deploy
		// of a module and change nothing by themselves: counted, not listed.
		c, plumbing := splitPlumbing(c)
		if plumbing > 0 {
			b.lines = append(b.lines, fmt.Sprintf("- ➕ %d internal resource%s (providers, module components), listed in the full diff", plumbing, plural(plumbing)))
		}
		for _, s := range c {
			b.lines = append(b.lines, stepLine(s))
		}
		out = append(out, b)
	}
	var rest []result.Step
	for _, op := range []result.Op{result.OpImport, result.OpRead, result.OpRefresh} {
		rest = append(rest, groups[op]...)
	}
	if len(rest) > 0 {
		b := &block{lines: []string{"", "<details><summary>Reads, imports and refreshes</summary>", ""}, keep: 3, what: "other steps", droppable: true, tail: []string{"", "</details>"}}
		for _, s := range rest {
			b.lines = append(b.lines, stepLine(s))
		}
		out = append(out, b)
	}
	if len(r.Outputs) > 0 {
		out = append(out, outputs(r))
	}
	if d := diagnostics(r); d != nil {
		out = append(out, d)
	}
	if len(r.Steps) > 0 && fits(len(r.Steps)+diffCount(r.Steps), o.Budget) {
		out = append(out, fullDiff(r))
	}
	return out
}

// splitPlumbing sets apart the providers and module components among
// steps.
func splitPlumbing(steps []result.Step) (rest []result.Step, n int) {
	for _, s := range steps {
		if s.Type == result.ModuleType || strings.HasPrefix(s.Type, "pulumi:providers:") {
			n++
			continue
		}
		rest = append(rest, s)
	}
	return rest, n
}

// splitVolatile sets apart the updates that change only konductor's
// volatile metadata (git commit and branch), returning the others with those
// diffs left out, and how many were set apart.
func splitVolatile(steps []result.Step) (real []result.Step, metaOnly int) {
	for _, s := range steps {
		if !slices.ContainsFunc(s.Diffs, func(d result.PropertyDiff) bool { return volatile(d.Path) }) {
			real = append(real, s)
			continue
		}
		var diffs []result.PropertyDiff
		for _, d := range s.Diffs {
			if !volatile(d.Path) {
				diffs = append(diffs, d)
			}
		}
		if len(diffs) == 0 && len(s.Diffs) > 0 {
			metaOnly++
			continue
		}
		s.Diffs = diffs
		real = append(real, s)
	}
	return real, metaOnly
}

// volatile reports whether a property path is one of konductor's volatile
// metadata keys (metadata.labels["konductor.io/git-commit"], tags["..."]).
func volatile(path string) bool {
	for _, k := range metadata.VolatileKeys {
		if strings.HasSuffix(path, `["`+k+`"]`) || strings.HasSuffix(path, "."+k) {
			return true
		}
	}
	return false
}

func updates(r *result.Result) []result.Step {
	var u []result.Step
	for _, s := range r.Steps {
		if s.Op == result.OpUpdate {
			u = append(u, s)
		}
	}
	return u
}

// minLine is the fewest characters any detail line takes: a block of n lines
// cannot fit a budget below n*minLine, so it is not built at all. This keeps
// a 10,000-resource render from building a full diff only to drop it.
const minLine = 15

func fits(lines, budget int) bool { return lines*minLine <= budget }

// diffCount counts property-diff lines (updates render two per change).
func diffCount(steps []result.Step) int {
	n := 0
	for _, s := range steps {
		n += len(s.Diffs)
	}
	return n
}

func header(r *result.Result, o Options) []string {
	icon := "✅"
	switch {
	case r.Status == result.Failed || r.Status == result.Invalid:
		icon = "❌"
	case r.Status == result.Blocked || r.MandatoryViolations() > 0:
		icon = "🛑"
	case r.HasDestroy():
		icon = "⚠️"
	}
	title := fmt.Sprintf("%s %s `%s` — %s %s", strings.Repeat("#", o.Heading), icon, esc(r.Stack), r.Operation, statusWord(r))
	lines := []string{title, "", countsLine(r)}
	if r.Commit != "" {
		lines[2] += fmt.Sprintf(" · commit `%s`", ShortSHA(r.Commit))
	}
	if m := modulesLine(r); m != "" {
		lines = append(lines, "", m)
	}
	return lines
}

// modulesLine says what changes in each module, so a reviewer sees at once
// which parts of the platform a change touches: "kubernetes: 1 to update ·
// cert_manager: no changes" is read before any resource line.
func modulesLine(r *result.Result) string {
	counts := map[string]map[result.Op]int{}
	for _, m := range r.Modules {
		counts[m] = map[result.Op]int{}
	}
	for _, s := range r.Steps {
		if s.Module == "" {
			continue
		}
		if counts[s.Module] == nil {
			counts[s.Module] = map[result.Op]int{}
		}
		// The module's own component is bookkeeping, not a change to review.
		if s.Type != result.ModuleType {
			counts[s.Module][s.Op]++
		}
	}
	if len(counts) == 0 {
		return ""
	}
	tense := 0
	if r.Operation != result.Preview {
		tense = 1
	}
	var parts []string
	for _, m := range slices.Sorted(maps.Keys(counts)) {
		var ops []string
		for _, op := range result.Ops {
			if n := counts[m][op]; n > 0 {
				w := opVerb[op][tense]
				if tense == 0 {
					w = "to " + w
				}
				ops = append(ops, fmt.Sprintf("%d %s", n, w))
			}
		}
		if len(ops) == 0 {
			ops = []string{"no changes"}
		}
		parts = append(parts, fmt.Sprintf("%s %s", code(m), strings.Join(ops, ", ")))
	}
	return "Modules: " + strings.Join(parts, " · ")
}

func statusWord(r *result.Result) string {
	switch r.Status {
	case result.Failed:
		return "failed"
	case result.Blocked:
		return "blocked by policy"
	case result.Invalid:
		return "invalid configuration"
	}
	if r.Operation == result.Preview {
		if r.HasChanges() {
			return "has changes"
		}
		return "no changes"
	}
	return "succeeded"
}

var opVerb = map[result.Op][2]string{
	result.OpCreate:  {"create", "created"},
	result.OpUpdate:  {"update", "updated"},
	result.OpDelete:  {"delete", "deleted"},
	result.OpReplace: {"replace", "replaced"},
	result.OpImport:  {"import", "imported"},
	result.OpRead:    {"read", "read"},
	result.OpRefresh: {"refresh", "refreshed"},
	result.OpSame:    {"unchanged", "unchanged"},
}

func countsLine(r *result.Result) string {
	var parts []string
	tense := 0
	if r.Operation != result.Preview {
		tense = 1
	}
	for _, op := range result.Ops {
		if n := r.Counts[op]; n > 0 {
			w := opVerb[op][tense]
			if op != result.OpSame && tense == 0 {
				w = "to " + w
			}
			part := fmt.Sprintf("**%d** %s", n, w)
			if op == result.OpUpdate {
				if _, m := splitVolatile(updates(r)); m > 0 {
					part += fmt.Sprintf(" (%d only git metadata)", m)
				}
			}
			parts = append(parts, part)
		}
	}
	if len(parts) == 0 {
		parts = []string{"no resources"}
	}
	line := strings.Join(parts, " · ")
	if n := len(r.Violations); n > 0 {
		line += fmt.Sprintf(" · **%d** policy violation%s (%d mandatory)", n, plural(n), r.MandatoryViolations())
	}
	return line
}

// maxNamed bounds the resources one violation line names.
const maxNamed = 10

func violations(r *result.Result) *block {
	b := &block{lines: []string{"", "**Policy violations**", ""}, keep: 3, what: "violations"}
	// The same finding on several resources of a type is one line naming
	// them all: three unprotected namespaces are one thing to fix.
	type key struct{ rule, level, typ, msg string }
	var order []key
	names := map[key][]string{}
	mandatory := map[key]bool{}
	for _, v := range r.Violations {
		k := key{v.Pack + "/" + v.Rule, v.Level, v.Type, strings.Join(strings.Fields(v.Message), " ")}
		if _, seen := names[k]; !seen {
			order = append(order, k)
			names[k] = []string{}
		}
		mandatory[k] = v.Mandatory()
		if v.URN != "" {
			names[k] = append(names[k], "**"+esc(v.Name)+"**")
		}
	}
	for _, k := range order {
		icon := "⚠️ advisory"
		if mandatory[k] {
			icon = "🛑 mandatory"
		}
		where := ""
		if ns := names[k]; len(ns) > 0 {
			if len(ns) > maxNamed {
				ns = append(ns[:maxNamed:maxNamed], fmt.Sprintf("and %d more", len(ns)-maxNamed))
			}
			where = " on " + code(k.typ) + " " + strings.Join(ns, ", ")
		}
		b.lines = append(b.lines, fmt.Sprintf("- %s %s%s: %s", icon, code(k.rule), where, esc(k.msg)))
	}
	return b
}

var opIcon = map[result.Op]string{
	result.OpDelete: "🗑️ delete", result.OpReplace: "🔁 replace", result.OpUpdate: "✏️ update",
	result.OpCreate: "➕ create", result.OpImport: "📥 import", result.OpRead: "👓 read", result.OpRefresh: "🔄 refresh",
}

func stepLine(s result.Step) string {
	line := fmt.Sprintf("- %s %s **%s**", opIcon[s.Op], code(s.Type), esc(s.Name))
	if s.Op == result.OpReplace {
		if len(s.ReplaceReasons) > 0 {
			reasons := make([]string, len(s.ReplaceReasons))
			for i, k := range s.ReplaceReasons {
				reasons[i] = code(k)
			}
			line += " — because " + strings.Join(reasons, ", ") + " changed"
		}
		if s.DeleteBeforeReplace {
			line += " (deleted before it is recreated)"
		}
	}
	if s.Op == result.OpUpdate && len(s.Diffs) > 0 {
		paths := make([]string, 0, 3)
		for _, d := range s.Diffs[:min(3, len(s.Diffs))] {
			paths = append(paths, code(d.Path))
		}
		more := ""
		if len(s.Diffs) > 3 {
			more = fmt.Sprintf(" and %d more", len(s.Diffs)-3)
		}
		line += ": " + strings.Join(paths, ", ") + more
	}
	return line
}

func diffLine(d result.PropertyDiff) string {
	switch d.Kind {
	case result.Added:
		return code(d.Path) + " added: " + code(result.Clip(d.New))
	case result.Deleted:
		return code(d.Path) + " removed (was " + code(result.Clip(d.Old)) + ")"
	}
	s := code(d.Path) + ": " + code(result.Clip(d.Old)) + " → " + code(result.Clip(d.New))
	if d.Replaces {
		s += " (forces replacement)"
	}
	return s
}

func outputs(r *result.Result) *block {
	keys := make([]string, 0, len(r.Outputs))
	for k := range r.Outputs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b := &block{lines: []string{"", "<details><summary>Stack outputs</summary>", ""}, keep: 3, what: "outputs", droppable: true, tail: []string{"", "</details>"}}
	for _, k := range keys {
		o := r.Outputs[k]
		switch o.Change {
		case result.Updated:
			b.lines = append(b.lines, fmt.Sprintf("- %s: %s → %s", code(k), code(result.Clip(o.Old)), code(result.Clip(o.Value))))
		case result.Deleted:
			b.lines = append(b.lines, fmt.Sprintf("- %s removed", code(k)))
		default:
			b.lines = append(b.lines, fmt.Sprintf("- %s: %s", code(k), code(result.Clip(o.Value))))
		}
	}
	return b
}

func diagnostics(r *result.Result) *block {
	var lines []string
	for _, d := range r.Diagnostics {
		if d.Severity != "error" && d.Severity != "warning" {
			continue
		}
		icon := "⚠️"
		if d.Severity == "error" {
			icon = "❌"
		}
		msg := strings.Join(strings.Fields(d.Message), " ")
		lines = append(lines, fmt.Sprintf("- %s %s", icon, esc(msg)))
	}
	if len(lines) == 0 {
		return nil
	}
	return &block{lines: append([]string{"", "**Diagnostics**", ""}, lines...), keep: 3, what: "diagnostics"}
}

// fullDiff is every step with every property change, folded.
func fullDiff(r *result.Result) *block {
	var body []string
	for _, s := range r.Steps {
		sign := map[result.Op]string{result.OpCreate: "+", result.OpDelete: "-", result.OpReplace: "+-", result.OpUpdate: "~"}[s.Op]
		if sign == "" {
			sign = " "
		}
		body = append(body, fmt.Sprintf("%s %s %s (%s)", sign, s.Type, s.Name, s.Op))
		for _, d := range s.Diffs {
			switch d.Kind {
			case result.Added:
				body = append(body, fmt.Sprintf("+     %s: %s", d.Path, result.Clip(d.New)))
			case result.Deleted:
				body = append(body, fmt.Sprintf("-     %s: %s", d.Path, result.Clip(d.Old)))
			default:
				body = append(body, fmt.Sprintf("-     %s: %s", d.Path, d.Old), fmt.Sprintf("+     %s: %s", d.Path, result.Clip(d.New)))
			}
		}
	}
	fence := fenceFor(strings.Join(body, "\n"))
	lines := []string{"", fmt.Sprintf("<details><summary>Full diff (%d resources)</summary>", len(r.Steps)), "", fence + "diff"}
	for _, l := range body {
		lines = append(lines, escLine(l))
	}
	return &block{lines: lines, keep: 4, what: "diff lines", droppable: true, tail: []string{fence, "", "</details>"}}
}

func fenced(s string) []string {
	f := fenceFor(s)
	out := []string{f}
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		out = append(out, escLine(l))
	}
	return append(out, f)
}

// fit drops lines from the last blocks first until the text fits.
func fit(bs []*block, o Options) string {
	size := func() int {
		n := 0
		for _, b := range bs {
			for _, l := range b.lines {
				n += utf8.RuneCountInString(l) + 1
			}
			for _, l := range b.tail {
				n += utf8.RuneCountInString(l) + 1
			}
		}
		return n
	}
	total := size()
	if total <= o.Budget {
		return render(bs)
	}
	note := func(b *block, dropped int) string {
		return fmt.Sprintf("- … %d more %s not shown here: the full diff is in %s.", dropped, b.what, o.FullDiffAt)
	}
	// Reserve room for the notes we may add.
	budget := o.Budget - 200
	for i := len(bs) - 1; i >= 0 && total > budget; i-- {
		b := bs[i]
		if b.keep >= len(b.lines) {
			continue
		}
		if b.droppable {
			for _, l := range b.lines {
				total -= utf8.RuneCountInString(l) + 1
			}
			for _, l := range b.tail {
				total -= utf8.RuneCountInString(l) + 1
			}
			b.lines, b.tail = nil, nil
			continue
		}
		// Make room for the note too, so adding it cannot push the text
		// over and cost an earlier (more important) block a line.
		reserve := utf8.RuneCountInString(note(b, len(b.lines))) + 1
		dropped := 0
		for len(b.lines) > b.keep && total+reserve > budget {
			l := b.lines[len(b.lines)-1]
			b.lines = b.lines[:len(b.lines)-1]
			total -= utf8.RuneCountInString(l) + 1
			dropped++
		}
		if dropped > 0 {
			n := note(b, dropped)
			b.lines = append(b.lines, n)
			total += utf8.RuneCountInString(n) + 1
		}
	}
	out := render(bs)
	if !strings.Contains(out, "not shown here") {
		out += fmt.Sprintf("\n_Some detail was left out to fit; the full diff is in %s._\n", o.FullDiffAt)
	}
	return out
}

func render(bs []*block) string {
	var sb strings.Builder
	for _, b := range bs {
		for _, l := range b.lines {
			sb.WriteString(l)
			sb.WriteByte('\n')
		}
		if len(b.lines) > 0 {
			for _, l := range b.tail {
				sb.WriteString(l)
				sb.WriteByte('\n')
			}
		}
	}
	return sb.String()
}

// code renders s as inline code whatever backticks it holds.
func code(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = escLine(s)
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	if longest == 0 {
		return "`" + s + "`"
	}
	f := strings.Repeat("`", longest+1)
	return f + " " + s + " " + f
}

func fenceFor(s string) string {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// escLine keeps text from forging our hidden comment markers.
func escLine(s string) string { return strings.ReplaceAll(s, "<!--", "<\u200b!--") }

// Escape escapes text shown outside code: markdown and HTML metacharacters.
func Escape(s string) string { return mdEscaper.Replace(s) }

func esc(s string) string { return Escape(s) }

var mdEscaper = strings.NewReplacer("\\", "\\\\", "*", "\\*", "_", "\\_", "`", "\\`", "<", "&lt;", ">", "&gt;", "[", "\\[", "]", "\\]", "|", "\\|", "\n", " ")

// ShortSHA is a commit's first seven hex digits, as git abbreviates it.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Plural is "s" unless n is 1.
func Plural(n int) string { return plural(n) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
