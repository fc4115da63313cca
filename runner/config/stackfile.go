package config

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

// StackFile is the path of stack's file in dir: Pulumi.<stack>.yaml.
func StackFile(dir, stack string) string {
	return filepath.Join(dir, "Pulumi."+stack+".yaml")
}

// StackOfFile returns the stack a file name (a base name) is the stack
// file of: "Pulumi.dev.yaml" is dev's; Pulumi.yaml is no stack's.
func StackOfFile(name string) (string, bool) {
	stack, ok := strings.CutPrefix(name, "Pulumi.")
	if !ok {
		return "", false
	}
	stack, ok = strings.CutSuffix(stack, ".yaml")
	return stack, ok && stack != ""
}

// ListStacks returns the stacks of the project in dir, by name: one per
// Pulumi.<stack>.yaml beside its Pulumi.yaml.
func ListStacks(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if s, ok := StackOfFile(e.Name()); ok && !e.IsDir() {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out, nil
}
