// Package metadata holds the label and tag keys konductor stamps on every
// resource it manages. The keys are shared by the modules (which set them)
// and the baseline policy pack (which checks them), so they live here as
// constants rather than as string literals in either place.
package metadata

// ManagedByValue is the value of the managed-by label and tag.
const ManagedByValue = "konductor"

// Kubernetes label keys (metadata.labels).
const (
	// LabelManagedBy is the well-known Kubernetes managed-by label.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelStack carries the Pulumi stack name.
	LabelStack = "konductor.io/stack"
	// LabelModule carries the konductor module name.
	LabelModule = "konductor.io/module"
	// LabelGitCommit carries the commit of the deployed configuration.
	LabelGitCommit = "konductor.io/git-commit"
	// LabelGitBranch carries the branch it was deployed from.
	LabelGitBranch = "konductor.io/git-branch"
)

// Cloud tag keys (AWS `tags`, Azure `tags`).
const (
	// TagManagedBy marks a cloud resource as managed by konductor.
	TagManagedBy = "managed-by"
	// TagStack carries the Pulumi stack name.
	TagStack = "konductor:stack"
	// TagModule carries the konductor module name.
	TagModule = "konductor:module"
	// TagGitCommit carries the commit of the deployed configuration.
	TagGitCommit = "konductor:git-commit"
	// TagGitBranch carries the branch it was deployed from.
	TagGitBranch = "konductor:git-branch"
)

// VolatileKeys are the label, annotation and tag keys whose values follow
// the commit and branch being run rather than the configuration: every new
// commit changes them on every resource, so reports set those changes apart
// from the ones a reviewer must read.
var VolatileKeys = []string{LabelGitCommit, LabelGitBranch, TagGitCommit, TagGitBranch}
