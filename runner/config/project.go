package config

import "regexp"

// projectNameRE is Pulumi's rule for project names: alphanumerics,
// hyphens, underscores and periods. The name is also the config namespace
// (<project>:<key>), which is why a colon can never be part of it.
var projectNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ValidProjectName reports whether s can name a Pulumi project: Pulumi's
// characters, at most 100 of them.
func ValidProjectName(s string) bool {
	return len(s) <= 100 && projectNameRE.MatchString(s)
}
