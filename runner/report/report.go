// Package report renders a result.Result as markdown for a pull request
// comment, a job summary or a terminal, ordered by what a reviewer must see
// first and fitted to a character budget by dropping detail from the bottom
// up, whole lines at a time, saying what was left out.
package report

import (
	"fmt"
	"slices"
	"strings"

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
	if r.Reviewed != nil {
		out = append(out, reviewed(r))
	}
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

// Headline is a stack's change counts as its headline says them: the
// resources of the modules, which a reviewer reviews, apart from konductor's
// internal ones (providers, module components), which come and go with the
// modules and change nothing by themselves.
type Headline struct {
	Create, Update, Replace, Delete int
	// Internal counts the providers and module components among the
	// creates, updates, replaces and deletes.
	Internal int
}

// Headcount counts r's changes for its headline. The engine's tally is
// the base (it also counts what is not listed, such as the stack itself);
// the internal resources listed among the steps are taken out of it.
func Headcount(r *result.Result) Headline {
	internal := map[result.Op]int{}
	for _, s := range r.Steps {
		if plumbing(s) {
			internal[s.Op]++
		}
	}
	var h Headline
	take := func(op result.Op) int {
		n := min(internal[op], r.Counts[op])
		h.Internal += n
		return r.Counts[op] - n
	}
	h.Delete, h.Replace, h.Update, h.Create = take(result.OpDelete), take(result.OpReplace), take(result.OpUpdate), take(result.OpCreate)
	return h
}

// modules is the count of op's module resources; ok is false for the ops
// the headline takes from the engine's tally as they are.
func (h Headline) modules(op result.Op) (n int, ok bool) {
	switch op {
	case result.OpCreate:
		return h.Create, true
	case result.OpUpdate:
		return h.Update, true
	case result.OpReplace:
		return h.Replace, true
	case result.OpDelete:
		return h.Delete, true
	}
	return 0, false
}

// Findings are the lines of Markdown(r) that each say one finding: a policy
// violation or an engine warning or error. Rendered the same way, so a
// finding that several stacks share is the same line in each; the pull
// request comment says such a line once.
func Findings(r *result.Result) []string {
	var out []string
	if len(r.Violations) > 0 {
		out = append(out, violations(r).lines[3:]...)
	}
	if d := diagnostics(r); d != nil {
		out = append(out, d.lines[3:]...)
	}
	return out
}

func plumbing(s result.Step) bool {
	return s.Type == result.ModuleType || strings.HasPrefix(s.Type, "pulumi:providers:")
}

// splitPlumbing sets apart the providers and module components among
// steps.
func splitPlumbing(steps []result.Step) (rest []result.Step, n int) {
	for _, s := range steps {
		if plumbing(s) {
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
		if !slices.ContainsFunc(s.Diffs, func(d result.PropertyDiff) bool { return result.IsVolatile(d.Path) }) {
			real = append(real, s)
			continue
		}
		var diffs []result.PropertyDiff
		for _, d := range s.Diffs {
			if !result.IsVolatile(d.Path) {
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
