package report

// This file renders the parts of a stack's report, in the order a
// reviewer reads them: header and counts, violations, steps with their
// diffs, outputs, diagnostics, the full diff.

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/containercraft/konductor-action/runner/result"
)

func header(r *result.Result, o Options) []string {
	icon := "✅"
	switch {
	case r.Status == result.Failed || r.Status == result.Invalid:
		icon = "❌"
	case r.Status == result.Blocked || r.Status == result.Unreviewed || r.MandatoryViolations() > 0:
		icon = "🛑"
	case r.HasDestroy():
		icon = "⚠️"
	}
	title := fmt.Sprintf("%s %s `%s` — %s %s", strings.Repeat("#", o.Heading), icon, esc(r.Stack), r.Operation, statusWord(r))
	lines := []string{title, "", countsLine(r)}
	if r.Commit != "" {
		lines[2] += fmt.Sprintf(" · commit `%s`", ShortSHA(r.Commit))
	}
	if r.Operation != result.Preview && r.Duration > 0 {
		// A preview's time would make reruns differ; a deploy's is news.
		lines[2] += fmt.Sprintf(" · took %s", r.Duration.Round(100*time.Millisecond))
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
		// The module's own component and providers are bookkeeping, not a
		// change to review: the headline counts them apart.
		if !plumbing(s) {
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
		// A run stopped by its signal (the engine's and the action's
		// errors say "cancelled" first) did not find the stack broken.
		if strings.HasPrefix(r.Error, "cancelled") {
			return "cancelled"
		}
		return "failed"
	case result.Blocked:
		return "blocked by policy"
	case result.Unreviewed:
		return "stopped: not what was reviewed"
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
	head := Headcount(r)
	for _, op := range result.Ops {
		n := r.Counts[op]
		if m, ok := head.modules(op); ok {
			n = m
		}
		if n > 0 {
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
		if op == result.OpCreate && head.Internal > 0 {
			parts = append(parts, fmt.Sprintf("%d internal (providers, module components)", head.Internal))
		}
	}
	if len(parts) == 0 {
		parts = []string{"no resources"}
	}
	line := strings.Join(parts, " · ")
	if n := len(r.Violations); n > 0 {
		line += fmt.Sprintf(" · **%d** policy violation%s (%d mandatory)", n, plural(n), r.MandatoryViolations())
		if o := r.OverriddenViolations(); o > 0 {
			line = strings.TrimSuffix(line, ")") + fmt.Sprintf(", %d overridden)", o)
		}
	}
	return line
}

// maxNamed bounds the resources one violation line names.
const maxNamed = 10

func violations(r *result.Result) *block {
	b := &block{lines: []string{"", "**Policy violations**", ""}, keep: 3, what: "violations"}
	// The same finding on several resources of a type is one line naming
	// them all: three unprotected namespaces are one thing to fix.
	type key struct{ rule, level, typ, msg, overridden string }
	var order []key
	names := map[key][]string{}
	mandatory := map[key]bool{}
	for _, v := range r.Violations {
		k := key{v.Pack + "/" + v.Rule, v.Level, v.Type, strings.Join(strings.Fields(v.Message), " "), ""}
		if o := v.Overridden; o != nil {
			// Still listed, never hidden: who let it through and why.
			k.overridden = fmt.Sprintf(" — **overridden by @%s**: %s", esc(o.By), esc(o.Reason))
			if o.URL != "" {
				k.overridden += fmt.Sprintf(" ([review](%s))", o.URL)
			}
		}
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
		switch {
		case mandatory[k]:
			icon = "🛑 mandatory"
		case k.overridden != "":
			icon = "🔓 mandatory"
		}
		where := ""
		if ns := names[k]; len(ns) > 0 {
			if len(ns) > maxNamed {
				ns = append(ns[:maxNamed:maxNamed], fmt.Sprintf("and %d more", len(ns)-maxNamed))
			}
			where = " on " + code(k.typ) + " " + strings.Join(ns, ", ")
		}
		b.lines = append(b.lines, fmt.Sprintf("- %s %s%s: %s%s", icon, code(k.rule), where, esc(k.msg), k.overridden))
	}
	for _, n := range r.OverrideNotes {
		b.lines = append(b.lines, "- ⛔ "+esc(n))
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

// reviewed says how a deploy compared with the preview reviewed on its
// pull request, and names what was not reviewed.
func reviewed(r *result.Result) *block {
	o := r.Reviewed
	var line string
	switch {
	case o.Matched():
		line = fmt.Sprintf("✅ **Reviewed:** the same changes as %s.", o.Source)
	case r.Status == result.Unreviewed && !o.Found:
		line = fmt.Sprintf("🛑 **Not reviewed:** %s; this stack deploys only what a pull request reviewed (`on_unreviewed: fail`). Nothing was changed.", o.Source)
	case r.Status == result.Unreviewed:
		line = fmt.Sprintf("🛑 **Not what was reviewed:** %d change(s) differ from %s; this stack deploys only what a pull request reviewed (`on_unreviewed: fail`). Nothing was changed.", len(o.Differences), o.Source)
	case !o.Found:
		line = fmt.Sprintf("⚠️ **Not reviewed:** %s; deployed anyway (`on_unreviewed: deploy`).", o.Source)
	default:
		line = fmt.Sprintf("⚠️ **Not what was reviewed:** %d change(s) differ from %s; deployed anyway (`on_unreviewed: deploy`).", len(o.Differences), o.Source)
	}
	if o.Plan != "" {
		line += " The update " + o.Plan + "."
	}
	b := &block{lines: []string{"", line}, keep: 2, what: "unreviewed changes"}
	if len(o.Differences) > 0 {
		b.lines = append(b.lines, "")
	}
	for _, d := range o.Differences {
		switch {
		case d.URN != "":
			b.lines = append(b.lines, fmt.Sprintf("- %s %s `%s`: %s", opIcon[d.Op], d.Op, esc(d.Name), d.Why))
		default:
			b.lines = append(b.lines, "- "+esc(d.Why))
		}
	}
	return b
}
