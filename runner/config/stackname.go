package config

import (
	"regexp"
	"strings"
)

// stackNameRE is what a stack name may hold: Pulumi's stack names, fully
// qualified ones (org/project/stack) included.
var stackNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)

// ValidStackName reports whether s can name a stack: Pulumi's characters,
// and never a path that climbs out of the work dir.
func ValidStackName(s string) bool {
	return stackNameRE.MatchString(s) && !strings.Contains(s, "..")
}
