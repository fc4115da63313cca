package aws

import (
	"encoding/json"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/modules"
)

// GitHub's OIDC issuer and the audience the aws-actions credentials action
// requests.
const (
	githubOIDCURL      = "https://token.actions.githubusercontent.com"
	githubOIDCHost     = "token.actions.githubusercontent.com"
	githubOIDCAudience = "sts.amazonaws.com"
)

// githubThumbprints are GitHub's OIDC certificate thumbprints. IAM no
// longer checks them for this issuer (it trusts its own CA list), but older
// accounts and the API still expect a value.
var githubThumbprints = []string{
	"6938fd4d98bab03faadb97b34396831e3780aea1",
	"1c58a3a8518e8759bf075b76b750d4f2df264fcd",
}

func deploy(ctx *pulumi.Context, c *Config, env modules.Env) (modules.Outputs, error) {
	name := func(s string) string { return Name + "-" + s }

	pargs := &aws.ProviderArgs{
		Region:            pulumi.String(c.Region),
		AllowedAccountIds: stringsIn(c.AllowedAccountIDs),
	}
	if c.AssumeRoleARN != "" {
		pargs.AssumeRole = &aws.ProviderAssumeRoleArgs{
			RoleArn:     pulumi.String(c.AssumeRoleARN),
			SessionName: pulumi.String("konductor-" + physical(env.Project, env.Stack)),
		}
	}
	prov, err := aws.NewProvider(ctx, Name, pargs, env.Options()...)
	if err != nil {
		return nil, err
	}
	opts := func(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
		return env.Options(append([]pulumi.ResourceOption{pulumi.Provider(prov)}, extra...)...)
	}
	out := modules.Outputs{OutputRegion: c.Region}

	key, err := kms.NewKey(ctx, name("kms"), &kms.KeyArgs{
		Description:          pulumi.Sprintf("konductor %s/%s", env.Project, env.Stack),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(c.KMS.DeletionWindowDays),
	}, opts()...)
	if err != nil {
		return nil, err
	}
	aliasName := "alias/konductor/" + physical(env.Project) + "/" + physical(env.Stack)
	if _, err := kms.NewAlias(ctx, name("kms"), &kms.AliasArgs{
		Name:        pulumi.String(aliasName),
		TargetKeyId: key.KeyId,
	}, opts()...); err != nil {
		return nil, err
	}
	out[OutputKMSKeyARN] = key.Arn
	out[OutputKMSAlias] = aliasName

	var bucket *s3.BucketV2
	if c.StateBucket.Enabled {
		if bucket, err = stateBucket(ctx, c, env, key, opts); err != nil {
			return nil, err
		}
		out[OutputBucketName] = bucket.Bucket
	}

	if c.GitHubOIDC.Enabled {
		providerARN := pulumi.String(c.GitHubOIDC.ProviderARN).ToStringOutput()
		if c.GitHubOIDC.ProviderARN == "" {
			oidc, err := iam.NewOpenIdConnectProvider(ctx, name("github-oidc"), &iam.OpenIdConnectProviderArgs{
				Url:             pulumi.String(githubOIDCURL),
				ClientIdLists:   pulumi.ToStringArray([]string{githubOIDCAudience}),
				ThumbprintLists: pulumi.ToStringArray(githubThumbprints),
			}, opts()...)
			if err != nil {
				return nil, err
			}
			providerARN = oidc.Arn
		}
		out[OutputOIDCProviderARN] = providerARN
		role, err := deployRole(ctx, c, env, providerARN, bucket, key, opts)
		if err != nil {
			return nil, err
		}
		out[OutputRoleARN] = role.Arn
	}
	return out, nil
}

func stateBucket(ctx *pulumi.Context, c *Config, env modules.Env, key *kms.Key,
	opts func(...pulumi.ResourceOption) []pulumi.ResourceOption,
) (*s3.BucketV2, error) {
	const n = Name + "-state"
	bucket, err := s3.NewBucketV2(ctx, n, &s3.BucketV2Args{
		BucketPrefix: pulumi.String(bucketPrefix(c, env)),
		ForceDestroy: pulumi.Bool(c.StateBucket.ForceDestroy),
	}, opts()...)
	if err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketVersioningV2(ctx, n, &s3.BucketVersioningV2Args{
		Bucket: bucket.ID(),
		VersioningConfiguration: &s3.BucketVersioningV2VersioningConfigurationArgs{
			Status: pulumi.String("Enabled"),
		},
	}, opts()...); err != nil {
		return nil, err
	}
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, n, &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{
			&s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
				ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
					SseAlgorithm:   pulumi.String("aws:kms"),
					KmsMasterKeyId: key.Arn,
				},
				BucketKeyEnabled: pulumi.Bool(true),
			},
		},
	}, opts()...); err != nil {
		return nil, err
	}
	pab, err := s3.NewBucketPublicAccessBlock(ctx, n, &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, opts()...)
	if err != nil {
		return nil, err
	}
	// After the public access block: S3 rejects concurrent changes to one
	// bucket's configuration.
	if _, err := s3.NewBucketPolicy(ctx, n, &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: bucket.Arn.ApplyT(tlsOnlyPolicy).(pulumi.StringOutput),
	}, opts(pulumi.DependsOn([]pulumi.Resource{pab}))...); err != nil {
		return nil, err
	}
	return bucket, nil
}

func deployRole(ctx *pulumi.Context, c *Config, env modules.Env, providerARN pulumi.StringOutput,
	bucket *s3.BucketV2, key *kms.Key, opts func(...pulumi.ResourceOption) []pulumi.ResourceOption,
) (*iam.Role, error) {
	const n = Name + "-deploy"
	o := c.GitHubOIDC
	args := &iam.RoleArgs{
		Description: pulumi.Sprintf("konductor %s/%s: GitHub Actions deploys from %s@%s", env.Project, env.Stack, o.Repository, o.Branch),
		AssumeRolePolicy: providerARN.ApplyT(func(arn string) (string, error) {
			return trustPolicy(arn, o.Repository, o.Branch)
		}).(pulumi.StringOutput),
	}
	if o.RoleName != "" {
		args.Name = pulumi.String(o.RoleName)
	}
	role, err := iam.NewRole(ctx, n, args, opts()...)
	if err != nil {
		return nil, err
	}
	for _, arn := range o.PolicyARNs {
		if _, err := iam.NewRolePolicyAttachment(ctx, n+"-"+policyName(arn), &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: pulumi.String(arn),
		}, opts()...); err != nil {
			return nil, err
		}
	}
	if bucket != nil {
		if _, err := iam.NewRolePolicy(ctx, n+"-state", &iam.RolePolicyArgs{
			Role: role.ID(),
			Policy: pulumi.All(bucket.Arn, key.Arn).ApplyT(func(v []any) (string, error) {
				return stateAccessPolicy(v[0].(string), v[1].(string))
			}).(pulumi.StringOutput),
		}, opts()...); err != nil {
			return nil, err
		}
	}
	return role, nil
}

// policy is an IAM policy document.
type policy struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string                       `json:"Sid,omitempty"`
	Effect    string                       `json:"Effect"`
	Principal any                          `json:"Principal,omitempty"`
	Action    any                          `json:"Action"`
	Resource  any                          `json:"Resource,omitempty"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

func (p policy) json() (string, error) {
	p.Version = "2012-10-17"
	b, err := json.Marshal(p)
	return string(b), err
}

// tlsOnlyPolicy denies every request to the bucket not made over TLS.
func tlsOnlyPolicy(bucketARN string) (string, error) {
	return policy{Statement: []statement{{
		Sid:       "DenyInsecureTransport",
		Effect:    "Deny",
		Principal: "*",
		Action:    "s3:*",
		Resource:  []string{bucketARN, bucketARN + "/*"},
		Condition: map[string]map[string]string{"Bool": {"aws:SecureTransport": "false"}},
	}}}.json()
}

// trustPolicy lets only GitHub Actions runs of repository on branch assume
// the role (the token's sub claim), with the STS audience.
func trustPolicy(providerARN, repository, branch string) (string, error) {
	return policy{Statement: []statement{{
		Sid:       "GitHubActionsOIDC",
		Effect:    "Allow",
		Principal: map[string]string{"Federated": providerARN},
		Action:    "sts:AssumeRoleWithWebIdentity",
		Condition: map[string]map[string]string{"StringEquals": {
			githubOIDCHost + ":aud": githubOIDCAudience,
			githubOIDCHost + ":sub": Subject(repository, branch),
		}},
	}}}.json()
}

// Subject is the OIDC sub claim of a GitHub Actions job on branch of
// repository (a job without a GitHub environment).
func Subject(repository, branch string) string {
	return "repo:" + repository + ":ref:refs/heads/" + strings.TrimPrefix(branch, "refs/heads/")
}

// stateAccessPolicy lets the deploy role use the state bucket and its key.
func stateAccessPolicy(bucketARN, keyARN string) (string, error) {
	return policy{Statement: []statement{
		{Sid: "StateBucket", Effect: "Allow", Action: []string{"s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning"}, Resource: bucketARN},
		{Sid: "StateObjects", Effect: "Allow", Action: []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, Resource: bucketARN + "/*"},
		{Sid: "StateKey", Effect: "Allow", Action: []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"}, Resource: keyARN},
	}}.json()
}
