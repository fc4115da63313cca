// Package aws is the aws module: an explicit AWS provider, a KMS key, a
// hardened S3 bucket for state (versioned, SSE-KMS, no public access,
// TLS only) and, optionally, the GitHub Actions OIDC trust and a deploy role
// scoped to one repository branch.
package aws

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/modules"
)

// Name is the module's config key.
const Name = "aws"

// Output keys.
const (
	OutputRegion          = "region"
	OutputKMSKeyARN       = "kms_key_arn"
	OutputKMSAlias        = "kms_alias"
	OutputBucketName      = "bucket_name"
	OutputRoleARN         = "role_arn"
	OutputOIDCProviderARN = "oidc_provider_arn"
)

// Config is the module's section of stack config.
type Config struct {
	Region            string      `yaml:"region" doc:"AWS region of the module's provider (required), e.g. us-east-1"`
	AssumeRoleARN     string      `yaml:"assume_role_arn" doc:"role the provider assumes; empty: the ambient credentials"`
	AllowedAccountIDs []string    `yaml:"allowed_account_ids" doc:"12-digit account IDs the provider may touch; empty: any"`
	KMS               KMS         `yaml:"kms" doc:"the module's KMS key"`
	StateBucket       StateBucket `yaml:"state_bucket" doc:"S3 bucket for Pulumi state or artifacts"`
	GitHubOIDC        GitHubOIDC  `yaml:"github_oidc" doc:"GitHub Actions OIDC deploy role"`
}

// KMS configures the customer-managed key (rotation is always on).
type KMS struct {
	DeletionWindowDays int `yaml:"deletion_window_days" doc:"days a deleted key stays recoverable, 7-30"`
}

// StateBucket configures the S3 bucket.
type StateBucket struct {
	Enabled bool `yaml:"enabled" doc:"create the bucket"`
	// NamePrefix is the bucket name prefix; AWS appends a unique suffix.
	NamePrefix   string `yaml:"name_prefix" doc:"bucket name prefix (≤37 chars, lowercase); empty: konductor-<project>-<stack>-"`
	ForceDestroy bool   `yaml:"force_destroy" doc:"let destroy delete a bucket that still holds objects"`
}

// GitHubOIDC configures the role GitHub Actions assumes with its OIDC token.
type GitHubOIDC struct {
	Enabled    bool   `yaml:"enabled" doc:"create the deploy role"`
	Repository string `yaml:"repository" doc:"owner/name allowed to assume the role (required when enabled)"`
	Branch     string `yaml:"branch" doc:"the only branch allowed to assume the role"`
	RoleName   string `yaml:"role_name" doc:"IAM role name; empty: generated from the resource name"`
	// ProviderARN reuses an account's existing GitHub OIDC provider (an
	// account can hold only one per URL).
	ProviderARN string   `yaml:"provider_arn" doc:"existing token.actions.githubusercontent.com OIDC provider; empty: create one"`
	PolicyARNs  []string `yaml:"policy_arns" doc:"managed policies attached to the role"`
}

// Module is the aws module.
var Module = modules.Define(modules.Spec[Config]{
	Name:        Name,
	Description: "AWS provider, KMS key, hardened S3 state bucket, GitHub OIDC deploy role",
	Defaults:    defaults,
	Validate:    validate,
	Deploy:      deploy,
})

func defaults() Config {
	return Config{
		KMS:         KMS{DeletionWindowDays: 30},
		StateBucket: StateBucket{Enabled: true},
		GitHubOIDC:  GitHubOIDC{Branch: "main"},
	}
}

var (
	regionRE        = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	roleARNRE       = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$`)
	accountIDRE     = regexp.MustCompile(`^[0-9]{12}$`)
	bucketPrefixRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	repositoryRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	roleNameRE      = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	oidcProviderRE  = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\.actions\.githubusercontent\.com$`)
	policyARNRE     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/[\w+=,.@/-]+$`)
	invalidBranchRE = regexp.MustCompile(`[\s*?\[\\~^:]|\.\.|^/|/$|^refs/`)
)

// secretValue is what an encrypted config value reads as during
// validation; its format is not checked.
const secretValue = modules.Secret

// maxBucketPrefix is the longest prefix S3 bucket autonaming accepts.
const maxBucketPrefix = 37

func validate(c *Config) error {
	var errs []error
	fail := func(path, format string, args ...any) { errs = append(errs, modules.Errorf(path, format, args...)) }

	switch {
	case c.Region == "":
		fail("region", "required (e.g. us-east-1)")
	case !regionRE.MatchString(c.Region):
		fail("region", "%q is not an AWS region name (e.g. us-east-1)", c.Region)
	}
	if c.AssumeRoleARN != "" && c.AssumeRoleARN != secretValue && !roleARNRE.MatchString(c.AssumeRoleARN) {
		fail("assume_role_arn", "%q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", c.AssumeRoleARN)
	}
	for i, id := range c.AllowedAccountIDs {
		if id != secretValue && !accountIDRE.MatchString(id) {
			fail(fmt.Sprintf("allowed_account_ids[%d]", i), "%q is not a 12-digit account ID (quote it in YAML to keep leading zeros)", id)
		}
	}
	if d := c.KMS.DeletionWindowDays; d < 7 || d > 30 {
		fail("kms.deletion_window_days", "%d is out of range: AWS accepts 7 to 30 days", d)
	}
	if p := c.StateBucket.NamePrefix; p != "" {
		switch {
		case len(p) > maxBucketPrefix:
			fail("state_bucket.name_prefix", "%d characters: at most %d (AWS appends a 26-character suffix)", len(p), maxBucketPrefix)
		case !bucketPrefixRE.MatchString(p):
			fail("state_bucket.name_prefix", "%q: lowercase letters, digits, '-' and '.', starting with a letter or digit", p)
		}
	}
	o := c.GitHubOIDC
	if o.Enabled {
		switch {
		case o.Repository == "":
			fail("github_oidc.repository", "required when github_oidc.enabled is true (owner/name)")
		case !repositoryRE.MatchString(o.Repository):
			fail("github_oidc.repository", "%q is not owner/name", o.Repository)
		}
		switch {
		case o.Branch == "":
			fail("github_oidc.branch", "required when github_oidc.enabled is true")
		case invalidBranchRE.MatchString(o.Branch):
			fail("github_oidc.branch", "%q is not a plain branch name (no wildcards, no refs/ prefix)", o.Branch)
		}
	}
	if o.RoleName != "" && !roleNameRE.MatchString(o.RoleName) {
		fail("github_oidc.role_name", "%q: at most 64 of letters, digits and +=,.@_-", o.RoleName)
	}
	if o.ProviderARN != "" && o.ProviderARN != secretValue && !oidcProviderRE.MatchString(o.ProviderARN) {
		fail("github_oidc.provider_arn", "%q is not the ARN of a token.actions.githubusercontent.com OIDC provider", o.ProviderARN)
	}
	seen := map[string]int{}
	for i, arn := range o.PolicyARNs {
		path := fmt.Sprintf("github_oidc.policy_arns[%d]", i)
		if arn == secretValue {
			continue
		}
		if !policyARNRE.MatchString(arn) {
			fail(path, "%q is not an IAM policy ARN", arn)
			continue
		}
		n := policyName(arn)
		if j, dup := seen[n]; dup {
			fail(path, "policy name %q is already attached by policy_arns[%d]", n, j)
		}
		seen[n] = i
	}
	return errors.Join(errs...)
}

// policyName is the last path element of a policy ARN.
func policyName(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

// physical turns project and stack into a lowercase [a-z0-9-] name part.
func physical(parts ...string) string {
	s := strings.ToLower(strings.Join(parts, "-"))
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, s)
	return strings.Trim(regexp.MustCompile(`-+`).ReplaceAllString(s, "-"), "-")
}

// bucketPrefix is the configured prefix or konductor-<project>-<stack>-,
// cut to the 37 characters AWS accepts.
func bucketPrefix(c *Config, env modules.Env) string {
	if c.StateBucket.NamePrefix != "" {
		return c.StateBucket.NamePrefix
	}
	p := "konductor-" + physical(env.Project, env.Stack)
	if len(p) > maxBucketPrefix-1 {
		p = strings.TrimRight(p[:maxBucketPrefix-1], "-")
	}
	return p + "-"
}

// stringsIn converts a string list for the SDK; nil stays nil.
func stringsIn(list []string) pulumi.StringArrayInput {
	if len(list) == 0 {
		return nil
	}
	return pulumi.ToStringArray(slices.Clone(list))
}
