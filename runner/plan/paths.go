package plan

// This file decides which changed files affect a stack: its own stack
// file, the project's shared files, or its paths in konductor.yaml.

import (
	"fmt"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/report"
)

// affects decides whether the changed files affect stack, and why.
//
// Pulumi.yaml, konductor.yaml and the stack's own stack file always
// affect it. Another stack's stack file is only that stack's config, so it
// never affects this one: with no paths it does not count as a change
// under the work dir (editing Pulumi.dev.yaml previews dev, not prod), and
// a broad glob in paths (*.yaml, **) does not pull it in either. Only a
// paths entry naming it literally, without wildcards (Pulumi.prod.yaml, or
// /infra/Pulumi.prod.yaml from the root), makes it count, for a stack that
// really depends on another's config. Every other file under the work dir
// is shared: it affects a stack without paths; with paths, the globs decide.
//
// Stack files are recognised as the stacks are listed: Pulumi.*.yaml
// directly in the work dir, by exact name. So Pulumi.dev-eu.yaml is
// dev-eu's, never dev's; sub/Pulumi.x.yaml and Pulumi.x.yml are shared
// files; and the stack file of a stack not here (deleted, renamed away) is
// still a stack file, affecting no stack here.
func affects(stack string, patterns []string, workDir, settingsFile string, changed []string) (*StackPlan, error) {
	wd := cleanWorkDir(workDir)
	var literal []string
	for i, pat := range patterns {
		if !doublestar.ValidatePattern(strings.TrimPrefix(pat, "/")) || pat == "" {
			return nil, badInput("%s: stacks.%s.paths[%d]: %q is not a valid glob", config.SettingsFile, stack, i, pat)
		}
		if !strings.ContainsAny(pat, `*?[{\`) && !strings.HasSuffix(pat, "/") {
			literal = append(literal, pat)
		}
	}
	sp := &StackPlan{Name: stack}
	var special, matched []string
	for _, f := range changed {
		rel, inside := relTo(wd, f)
		switch {
		case inside && rel == path.Base(config.StackFile("", stack)):
			special = append(special, f)
		case inside && rel == "Pulumi.yaml",
			settingsFile == "" && inside && rel == config.SettingsFile,
			settingsFile != "" && path.Clean(f) == path.Clean(settingsFile):
			special = append(special, f)
		case inside && isStackFile(rel):
			// Another stack's: only a literal paths entry lets it in.
			if matchAny(literal, f, rel, inside) {
				matched = append(matched, f)
			}
		case len(patterns) == 0 && inside:
			matched = append(matched, f)
		case len(patterns) > 0 && matchAny(patterns, f, rel, inside):
			matched = append(matched, f)
		}
	}
	if len(special) == 0 && len(matched) == 0 {
		return nil, nil
	}
	sp.AffectedPaths = append(special, matched...)
	var why []string
	for _, f := range special {
		why = append(why, path.Base(f)+" changed")
	}
	if len(matched) > 0 {
		what := "the work dir"
		if len(patterns) > 0 {
			what = "its paths"
		}
		why = append(why, fmt.Sprintf("%d changed file%s under %s", len(matched), report.Plural(len(matched)), what))
	}
	sp.Reason = strings.Join(why, "; ")
	return sp, nil
}

// isStackFile reports whether rel, relative to the work dir, is a stack
// file: Pulumi.*.yaml directly in the work dir, the glob the stacks are
// listed with (* does not cross /).
func isStackFile(rel string) bool {
	if strings.Contains(rel, "/") {
		return false
	}
	_, ok := config.StackOfFile(rel)
	return ok
}

func cleanWorkDir(workDir string) string {
	return path.Clean(strings.TrimPrefix(workDir, "./"))
}

// relTo returns f relative to the work dir and whether it is inside it.
func relTo(wd, f string) (string, bool) {
	f = path.Clean(f)
	if wd == "." || wd == "" {
		return f, true
	}
	if rest, ok := strings.CutPrefix(f, wd+"/"); ok {
		return rest, true
	}
	return f, false
}

// matchAny matches a changed file against path globs. A glob is relative to
// the work dir; one starting with / is relative to the repository root; one
// ending with / matches everything below that directory.
func matchAny(patterns []string, f, rel string, inside bool) bool {
	for _, pat := range patterns {
		target := rel
		if rooted, ok := strings.CutPrefix(pat, "/"); ok {
			pat, target = rooted, path.Clean(f)
		} else if !inside {
			continue
		}
		if strings.HasSuffix(pat, "/") {
			pat += "**"
		}
		if ok, _ := doublestar.Match(pat, target); ok {
			return true
		}
	}
	return false
}
