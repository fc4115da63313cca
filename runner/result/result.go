// Package result is the typed outcome of one engine operation on one stack,
// built from the Pulumi engine's event stream (never from its text output).
// Every value in it is already safe to show: secrets read as [secret].
package result

import (
	"slices"
	"time"
)

// Operation is what the engine was asked to do.
type Operation string

// Operations.
const (
	Preview Operation = "preview"
	Up      Operation = "up"
	Refresh Operation = "refresh"
	Destroy Operation = "destroy"
)

// Status is how an operation ended.
type Status string

// Statuses.
const (
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	// Blocked: a mandatory policy violation stopped a deploy before any
	// resource was touched.
	Blocked Status = "blocked"
	// Invalid: the stack's configuration was rejected; nothing ran.
	Invalid Status = "invalid"
	// Unreviewed: a deploy would change what the merged pull request's
	// last preview did not show, and the stack requires a review
	// (on_unreviewed: fail); nothing was changed.
	Unreviewed Status = "unreviewed"
)

// Op is a step's operation as the engine names it, folded so that the two
// halves of a replacement read as one "replace".
type Op string

// Step operations in report order of importance.
const (
	OpDelete  Op = "delete"
	OpReplace Op = "replace"
	OpUpdate  Op = "update"
	OpCreate  Op = "create"
	OpRead    Op = "read"
	OpRefresh Op = "refresh"
	OpImport  Op = "import"
	OpSame    Op = "same"
)

// Ops lists every Op in report order.
var Ops = []Op{OpDelete, OpReplace, OpUpdate, OpCreate, OpImport, OpRead, OpRefresh, OpSame}

// Rank orders ops by importance for a reviewer: lower comes first.
func (o Op) Rank() int {
	if i := slices.Index(Ops, o); i >= 0 {
		return i
	}
	return len(Ops)
}

// DiffKind is what happened to one property.
type DiffKind string

// Property diff kinds.
const (
	Added   DiffKind = "add"
	Updated DiffKind = "update"
	Deleted DiffKind = "delete"
)

// PropertyDiff is one changed property. Old and New are rendered values.
type PropertyDiff struct {
	Path string   `json:"path"`
	Kind DiffKind `json:"kind"`
	Old  string   `json:"old,omitempty"`
	New  string   `json:"new,omitempty"`
	// Replaces is true when this change forces a replacement.
	Replaces bool `json:"replaces,omitempty"`
}

// Step is one resource the operation touches.
type Step struct {
	Op   Op     `json:"op"`
	URN  string `json:"urn"`
	Type string `json:"type"`
	Name string `json:"name"`
	// Diffs are the property-level changes, sorted by path.
	Diffs []PropertyDiff `json:"diffs,omitempty"`
	// ReplaceReasons name the properties that force a replacement.
	ReplaceReasons []string `json:"replaceReasons,omitempty"`
	// DeleteBeforeReplace is true when the old resource goes first.
	DeleteBeforeReplace bool `json:"deleteBeforeReplace,omitempty"`
	// Module is the konductor module the resource belongs to (empty for
	// resources outside every module).
	Module string `json:"module,omitempty"`
}

// Output is a stack output and how it changes.
type Output struct {
	// Value is the value rendered for people, whole (report cuts it).
	Value string `json:"value"`
	// Raw is the value itself, for machines (the stack-outputs output);
	// nil when it holds a secret or an unknown.
	Raw    any    `json:"raw,omitempty"`
	Old    string `json:"old,omitempty"`
	Secret bool   `json:"secret,omitempty"`
	// Change is empty when the value is unchanged.
	Change DiffKind `json:"change,omitempty"`
}

// Violation is one policy violation.
type Violation struct {
	Pack        string `json:"pack"`
	PackVersion string `json:"packVersion,omitempty"`
	Rule        string `json:"rule"`
	Level       string `json:"level"` // advisory, mandatory, remediate
	URN         string `json:"urn,omitempty"`
	Type        string `json:"type,omitempty"`
	Name        string `json:"name,omitempty"`
	Message     string `json:"message"`
	// Description is the rule's own description.
	Description string `json:"description,omitempty"`
	// Overridden is set when an approving reviewer overrode it.
	Overridden *Override `json:"overridden,omitempty"`
}

// Override is a reviewer's override of a rule's mandatory violations.
type Override struct {
	By     string `json:"by"` // GitHub login
	Reason string `json:"reason"`
	URL    string `json:"url,omitempty"` // the review
}

// Mandatory reports whether the violation blocks a deploy: mandatory and
// not overridden.
func (v Violation) Mandatory() bool { return v.Level == "mandatory" && v.Overridden == nil }

// Diagnostic is an engine, provider or program message.
type Diagnostic struct {
	Severity string `json:"severity"` // error, warning, info
	URN      string `json:"urn,omitempty"`
	Message  string `json:"message"`
}

// Result is the outcome of one operation on one stack.
type Result struct {
	Project   string    `json:"project"`
	Stack     string    `json:"stack"`
	Operation Operation `json:"operation"`
	Status    Status    `json:"status"`
	// Commit is the commit the operation ran on, when known.
	Commit string `json:"commit,omitempty"`
	// Steps are the resources touched, in engine order. Unchanged
	// resources are counted but not listed.
	Steps []Step `json:"steps"`
	// Modules are the konductor modules in the stack, sorted, changed or not.
	Modules []string `json:"modules,omitempty"`
	// Counts is the number of resources per op, including same.
	Counts      map[Op]int        `json:"counts"`
	Outputs     map[string]Output `json:"outputs,omitempty"`
	Violations  []Violation       `json:"violations,omitempty"`
	Diagnostics []Diagnostic      `json:"diagnostics,omitempty"`
	// Error is why the operation failed, when it did.
	Error string `json:"error,omitempty"`
	// Locked is true when it failed because another update holds the
	// stack's lock (worth waiting for, not a real failure).
	Locked bool `json:"locked,omitempty"`
	// LockedBy names who holds the lock (user@host (pid N)), and
	// LockedSince since when, when the backend says (self-managed ones do).
	LockedBy    string        `json:"lockedBy,omitempty"`
	LockedSince time.Time     `json:"lockedSince,omitzero"`
	Duration    time.Duration `json:"durationNs"`
	// Review is the encoded Review of this preview (or of a deploy's
	// gating preview): what a reviewer saw, for the comment to carry.
	Review string `json:"review,omitempty"`
	// Reviewed is how a deploy compared with the reviewed preview; nil
	// when the deploy was not checked against one.
	Reviewed *ReviewOutcome `json:"reviewed,omitempty"`
	// OverrideNotes say which override lines of approving reviews did not
	// count for this stack, and why.
	OverrideNotes []string `json:"overrideNotes,omitempty"`
}

// ReviewOutcome is how a deploy's gating preview compared with the
// preview reviewed on the pull request it came from.
type ReviewOutcome struct {
	// Source names the review ("pull request #12, preview of abc1234")
	// or says why there is none ("no pull request for commit abc1234").
	Source string `json:"source"`
	// Found is false when no reviewed preview was found.
	Found bool `json:"found"`
	// Differences is empty when the deploy is what was reviewed.
	Differences []Difference `json:"differences,omitempty"`
	// Plan says whether the update kept to the gating preview's plan:
	// "kept to" or why not.
	Plan string `json:"plan,omitempty"`
}

// Matched reports whether the deploy is exactly what was reviewed.
func (o *ReviewOutcome) Matched() bool { return o != nil && o.Found && len(o.Differences) == 0 }

// HasChanges reports whether anything would be or was changed.
func (r *Result) HasChanges() bool {
	for op, n := range r.Counts {
		if op != OpSame && op != OpRead && n > 0 {
			return true
		}
	}
	return false
}

// HasDestroy reports whether anything is deleted or replaced.
func (r *Result) HasDestroy() bool {
	return r.Counts[OpDelete] > 0 || r.Counts[OpReplace] > 0
}

// OverriddenViolations counts the violations a reviewer overrode.
func (r *Result) OverriddenViolations() int {
	n := 0
	for _, v := range r.Violations {
		if v.Overridden != nil {
			n++
		}
	}
	return n
}

// MandatoryViolations counts the violations that block a deploy.
func (r *Result) MandatoryViolations() int {
	n := 0
	for _, v := range r.Violations {
		if v.Mandatory() {
			n++
		}
	}
	return n
}
