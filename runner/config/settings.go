package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
)

// SettingsFile is the optional repository file for what Pulumi config cannot
// express.
const SettingsFile = "konductor.yaml"

// Settings is konductor.yaml.
type Settings struct {
	// Stacks maps a stack name to how the action treats it.
	Stacks map[string]StackSettings `yaml:"stacks" doc:"how the action treats each stack, by name"`
	// Policies applies to every stack; a stack's own policies override it.
	Policies Policies `yaml:"policies" doc:"policy packs and rules for every stack; a stack's own policies override them"`
}

// StackSettings is one stack's entry in konductor.yaml.
type StackSettings struct {
	// Branch deploys the stack on a push to it.
	Branch string `yaml:"branch" doc:"a push to this branch deploys the stack"`
	// Paths are glob filters: a PR touching any of them affects the stack.
	// Pulumi.<stack>.yaml always does.
	Paths    []string `yaml:"paths" doc:"glob filters: a pull request touching any of them affects the stack (its Pulumi.<stack>.yaml always does)"`
	Policies Policies `yaml:"policies" doc:"the stack's own policy settings, over the repository's"`
	// Protected marks a stack whose deploys must be what a pull request
	// reviewed: OnUnreviewed defaults to fail.
	Protected bool `yaml:"protected" doc:"deploys must be what a pull request reviewed (on_unreviewed defaults to fail)"`
	// OnUnreviewed is what a push deploy does when its preview differs
	// from the merged pull request's last preview of the stack, or none
	// was found: fail (nothing changes, exit 1) or deploy (and say so).
	OnUnreviewed string `yaml:"on_unreviewed" enum:"fail,deploy" doc:"a push deploy whose preview differs from the reviewed one: fail or deploy; default fail when protected, else deploy"`
}

// Unreviewed is the stack's on_unreviewed, defaulted: fail for a
// protected stack, deploy otherwise.
func (s StackSettings) Unreviewed() string {
	switch {
	case s.OnUnreviewed != "":
		return s.OnUnreviewed
	case s.Protected:
		return "fail"
	}
	return "deploy"
}

// Policies configures policy packs and per-rule enforcement.
type Policies struct {
	// Packs are extra policy packs: a prebuilt binary or a Go package dir.
	Packs []string `yaml:"packs" doc:"extra policy packs: a prebuilt binary or a Go package dir"`
	// Rules maps a rule name to its enforcement and properties.
	Rules map[string]Rule `yaml:"rules" doc:"per-rule settings by rule name (pack/rule or a baseline rule)"`
	// Baseline can switch the built-in konductor-baseline pack off.
	Baseline *bool `yaml:"baseline" doc:"run the built-in konductor-baseline pack (default true)"`
}

// Rule is one rule's settings. Properties are rule specific.
type Rule struct {
	Enforcement string         `yaml:"enforcement" enum:"advisory,mandatory,disabled" doc:"the rule's level; default: the pack's"`
	Properties  map[string]any `yaml:"properties" doc:"rule-specific settings (konductor policies lists them)"`
	// Override says whether an approving reviewer may override the rule's
	// mandatory violations on a pull request: reviewers (the default) or
	// never.
	Override string `yaml:"override" enum:"reviewers,never" doc:"may an approving reviewer override its mandatory violations: reviewers (default) or never"`
	// OverrideBy narrows who may: GitHub logins and org/team slugs; empty:
	// anyone with write, maintain or admin permission.
	OverrideBy []string `yaml:"override_by" doc:"who may override: GitHub logins and org/team slugs; empty: anyone with write access"`
}

// LoadSettings reads dir/konductor.yaml, or returns empty settings.
func LoadSettings(dir string) (*Settings, error) {
	return LoadSettingsFile(dir, "")
}

// LoadSettingsFile reads the settings from file, or from dir/konductor.yaml
// when file is empty. Only the default file may be absent (empty settings):
// a file named explicitly must exist.
func LoadSettingsFile(dir, file string) (*Settings, error) {
	s := &Settings{}
	if file == "" {
		file = filepath.Join(dir, SettingsFile)
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			return s, nil
		}
	}
	root, err := readYAML(file, false)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: file}
	d.decode(root, reflect.ValueOf(s).Elem(), "")
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	return s, nil
}
