package aws_test

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/modules"
	awsmod "github.com/containercraft/konductor-action/modules/aws"
	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/modules/metadata/metadatatest"
)

const account = "123456789012"

// config returns the defaults with a region, as the loader would.
func config(edit func(*awsmod.Config)) *awsmod.Config {
	c := awsmod.Module.NewConfig().(*awsmod.Config)
	c.Region = "us-east-1"
	if edit != nil {
		edit(c)
	}
	return c
}

// mocks answers like AWS would for the computed outputs the module uses.
func mocks() *metadatatest.Mocks {
	return &metadatatest.Mocks{NewResourceFunc: func(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
		state := a.Inputs.Copy()
		id := a.Name + "-id"
		set := func(k, v string) { state[resource.PropertyKey(k)] = resource.NewProperty(v) }
		switch a.TypeToken {
		case "aws:s3/bucketV2:BucketV2":
			id = a.Inputs["bucketPrefix"].StringValue() + "20250101000000000000000001"
			set("bucket", id)
			set("arn", "arn:aws:s3:::"+id)
		case "aws:kms/key:Key":
			set("keyId", id)
			set("arn", "arn:aws:kms:us-east-1:"+account+":key/"+id)
		case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
			set("arn", "arn:aws:iam::"+account+":oidc-provider/token.actions.githubusercontent.com")
		case "aws:iam/role:Role":
			set("name", id)
			set("arn", "arn:aws:iam::"+account+":role/"+id)
		}
		return id, state, nil
	}}
}

// deploy runs the module as the runner does and resolves its outputs.
func deploy(t *testing.T, cfg *awsmod.Config) metadatatest.Deployed {
	t.Helper()
	return metadatatest.DeployModule(t, mocks(), awsmod.Module, cfg)
}

func policyDoc(t *testing.T, v resource.PropertyValue) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(v.StringValue()), &doc); err != nil {
		t.Fatalf("policy %v: %v", v, err)
	}
	return doc
}

func TestDeployDefaults(t *testing.T) {
	t.Parallel()
	r := deploy(t, config(nil))

	var got []string
	for _, res := range r.Resources() {
		got = append(got, res.Type+" "+res.Name)
	}
	want := []string{
		"aws:kms/alias:Alias aws-kms",
		"aws:kms/key:Key aws-kms",
		"aws:s3/bucketPolicy:BucketPolicy aws-state",
		"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock aws-state",
		"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2 aws-state",
		"aws:s3/bucketV2:BucketV2 aws-state",
		"aws:s3/bucketVersioningV2:BucketVersioningV2 aws-state",
		metadata.ModuleComponentType + " aws",
		"pulumi:providers:aws aws",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("resources:\n got %q\nwant %q", got, want)
	}

	for _, res := range r.Resources() {
		if res.Type == metadata.ModuleComponentType {
			continue
		}
		if !strings.Contains(res.URN, "::"+metadata.ModuleComponentType+"$") {
			t.Errorf("%s is not a child of the module component", res.URN)
		}
	}
	for _, res := range r.Resources() {
		if strings.HasPrefix(res.Type, "aws:") {
			if p := res.Provider; !strings.Contains(p, "pulumi:providers:aws::aws::") {
				t.Errorf("%s uses provider %q, want the module's", res.Name, p)
			}
		}
	}

	prov := r.One(t, "pulumi:providers:aws")
	if prov["region"].StringValue() != "us-east-1" {
		t.Errorf("provider region = %v", prov["region"])
	}

	key := r.One(t, "aws:kms/key:Key")
	if !key["enableKeyRotation"].BoolValue() || key["deletionWindowInDays"].NumberValue() != 30 {
		t.Errorf("kms key: rotation %v, deletion window %v", key["enableKeyRotation"], key["deletionWindowInDays"])
	}
	alias := r.One(t, "aws:kms/alias:Alias")
	if alias["name"].StringValue() != "alias/konductor/platform/dev" || alias["targetKeyId"].StringValue() != "aws-kms-id" {
		t.Errorf("kms alias = %v", alias)
	}

	bucket := r.One(t, "aws:s3/bucketV2:BucketV2")
	if bucket["bucketPrefix"].StringValue() != "konductor-platform-dev-" || bucket["forceDestroy"].BoolValue() {
		t.Errorf("bucket = %v", bucket)
	}
	bucketName := "konductor-platform-dev-20250101000000000000000001"

	ver := r.One(t, "aws:s3/bucketVersioningV2:BucketVersioningV2")
	if ver["bucket"].StringValue() != bucketName || ver["versioningConfiguration"].ObjectValue()["status"].StringValue() != "Enabled" {
		t.Errorf("versioning = %v", ver)
	}

	sse := r.One(t, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
	rules := sse["rules"].ArrayValue()
	if len(rules) != 1 {
		t.Fatalf("sse rules = %v", rules)
	}
	def := rules[0].ObjectValue()["applyServerSideEncryptionByDefault"].ObjectValue()
	if def["sseAlgorithm"].StringValue() != "aws:kms" || def["kmsMasterKeyId"].StringValue() != "arn:aws:kms:us-east-1:"+account+":key/aws-kms-id" ||
		!rules[0].ObjectValue()["bucketKeyEnabled"].BoolValue() {
		t.Errorf("sse = %v", rules[0])
	}

	pab := r.One(t, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
	for _, k := range []resource.PropertyKey{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		if !pab[k].BoolValue() {
			t.Errorf("public access block %s = %v", k, pab[k])
		}
	}

	doc := policyDoc(t, r.One(t, "aws:s3/bucketPolicy:BucketPolicy")["policy"])
	st := doc["Statement"].([]any)[0].(map[string]any)
	cond := st["Condition"].(map[string]any)["Bool"].(map[string]any)
	res := st["Resource"].([]any)
	if st["Effect"] != "Deny" || st["Principal"] != "*" || st["Action"] != "s3:*" || cond["aws:SecureTransport"] != "false" ||
		len(res) != 2 || res[0] != "arn:aws:s3:::"+bucketName || res[1] != "arn:aws:s3:::"+bucketName+"/*" {
		t.Errorf("bucket policy = %v", doc)
	}

	wantOut := map[string]any{
		awsmod.OutputRegion:     "us-east-1",
		awsmod.OutputKMSAlias:   "alias/konductor/platform/dev",
		awsmod.OutputKMSKeyARN:  "arn:aws:kms:us-east-1:" + account + ":key/aws-kms-id",
		awsmod.OutputBucketName: bucketName,
	}
	if !maps.Equal(r.Outputs, wantOut) {
		t.Errorf("outputs = %v, want %v", r.Outputs, wantOut)
	}
}

func TestDeployWithAssumeRoleAndAccounts(t *testing.T) {
	t.Parallel()
	r := deploy(t, config(func(c *awsmod.Config) {
		c.AssumeRoleARN = "arn:aws:iam::" + account + ":role/deployer"
		c.AllowedAccountIDs = []string{account}
		c.KMS.DeletionWindowDays = 7
		c.StateBucket.Enabled = false
	}))
	prov := r.One(t, "pulumi:providers:aws")
	ar := prov["assumeRole"].ObjectValue()
	if ar["roleArn"].StringValue() != "arn:aws:iam::"+account+":role/deployer" || ar["sessionName"].StringValue() != "konductor-platform-dev" {
		t.Errorf("provider assumeRole = %v", ar)
	}
	if ids := prov["allowedAccountIds"].ArrayValue(); len(ids) != 1 || ids[0].StringValue() != account {
		t.Errorf("provider allowedAccountIds = %v", ids)
	}
	if n := len(r.ByType("aws:s3/bucketV2:BucketV2")); n != 0 {
		t.Errorf("state bucket disabled but %d buckets", n)
	}
	if _, ok := r.Outputs[awsmod.OutputBucketName]; ok {
		t.Error("bucket_name output without a bucket")
	}
	if r.One(t, "aws:kms/key:Key")["deletionWindowInDays"].NumberValue() != 7 {
		t.Error("deletion window not applied")
	}
}

func TestDeployGitHubOIDC(t *testing.T) {
	t.Parallel()
	r := deploy(t, config(func(c *awsmod.Config) {
		c.GitHubOIDC.Enabled = true
		c.GitHubOIDC.Repository = "acme/infra"
		c.GitHubOIDC.PolicyARNs = []string{"arn:aws:iam::aws:policy/PowerUserAccess"}
	}))
	oidc := r.One(t, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
	if oidc["url"].StringValue() != "https://token.actions.githubusercontent.com" ||
		len(oidc["clientIdLists"].ArrayValue()) != 1 || oidc["clientIdLists"].ArrayValue()[0].StringValue() != "sts.amazonaws.com" {
		t.Errorf("oidc provider = %v", oidc)
	}
	providerARN := "arn:aws:iam::" + account + ":oidc-provider/token.actions.githubusercontent.com"

	role := r.One(t, "aws:iam/role:Role")
	doc := policyDoc(t, role["assumeRolePolicy"])
	st := doc["Statement"].([]any)
	if len(st) != 1 {
		t.Fatalf("trust policy has %d statements", len(st))
	}
	s := st[0].(map[string]any)
	eq := s["Condition"].(map[string]any)["StringEquals"].(map[string]any)
	if s["Effect"] != "Allow" || s["Action"] != "sts:AssumeRoleWithWebIdentity" ||
		s["Principal"].(map[string]any)["Federated"] != providerARN ||
		eq["token.actions.githubusercontent.com:sub"] != "repo:acme/infra:ref:refs/heads/main" ||
		eq["token.actions.githubusercontent.com:aud"] != "sts.amazonaws.com" || len(eq) != 2 {
		t.Errorf("trust policy = %v", doc)
	}
	if strings.ContainsAny(role["assumeRolePolicy"].StringValue(), "*?") {
		t.Errorf("trust policy has a wildcard: %s", role["assumeRolePolicy"].StringValue())
	}

	att := r.One(t, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
	if att["policyArn"].StringValue() != "arn:aws:iam::aws:policy/PowerUserAccess" || att["role"].StringValue() != "aws-deploy-id" {
		t.Errorf("attachment = %v", att)
	}
	state := policyDoc(t, r.One(t, "aws:iam/rolePolicy:RolePolicy")["policy"])
	if b, _ := json.Marshal(state); !strings.Contains(string(b), "arn:aws:s3:::konductor-platform-dev-20250101000000000000000001/*") ||
		!strings.Contains(string(b), ":key/aws-kms-id") {
		t.Errorf("state access policy = %s", b)
	}
	if r.Outputs[awsmod.OutputRoleARN] != "arn:aws:iam::"+account+":role/aws-deploy-id" || r.Outputs[awsmod.OutputOIDCProviderARN] != providerARN {
		t.Errorf("outputs = %v", r.Outputs)
	}
}

func TestDeployGitHubOIDCWithExistingProvider(t *testing.T) {
	t.Parallel()
	existing := "arn:aws:iam::" + account + ":oidc-provider/token.actions.githubusercontent.com"
	r := deploy(t, config(func(c *awsmod.Config) {
		c.GitHubOIDC = awsmod.GitHubOIDC{Enabled: true, Repository: "acme/infra", Branch: "release", ProviderARN: existing, RoleName: "konductor-deploy"}
	}))
	if n := len(r.ByType("aws:iam/openIdConnectProvider:OpenIdConnectProvider")); n != 0 {
		t.Errorf("created %d OIDC providers although one exists", n)
	}
	role := r.One(t, "aws:iam/role:Role")
	if role["name"].StringValue() != "konductor-deploy" {
		t.Errorf("role name = %v", role["name"])
	}
	if !strings.Contains(role["assumeRolePolicy"].StringValue(), `"repo:acme/infra:ref:refs/heads/release"`) ||
		!strings.Contains(role["assumeRolePolicy"].StringValue(), existing) {
		t.Errorf("trust policy = %s", role["assumeRolePolicy"].StringValue())
	}
}

// everything enables every optional part, so every type the module can
// create is registered.
func everything(c *awsmod.Config) {
	c.GitHubOIDC.Enabled = true
	c.GitHubOIDC.Repository = "acme/infra"
	c.GitHubOIDC.PolicyARNs = []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}
}

func TestTagsOnEveryTaggableResourceAndNowhereElse(t *testing.T) {
	t.Parallel()
	r := deploy(t, config(everything))
	metadatatest.CheckTags(t, r.Mocks, metadatatest.Facts().AWSTags(awsmod.Name))
	for _, res := range r.Resources() {
		if _, ok := res.Inputs["tagsAll"]; ok {
			t.Errorf("%s: tagsAll is the provider's to compute", res.Name)
		}
	}
	for _, typ := range []string{"aws:kms/key:Key", "aws:s3/bucketV2:BucketV2", "aws:iam/role:Role", "aws:iam/openIdConnectProvider:OpenIdConnectProvider"} {
		if !metadata.TakesTags(typ) {
			t.Errorf("%s should take tags", typ)
		}
	}
}

// sdkArgs maps each AWS type the module creates to its args struct in the
// SDK.
var sdkArgs = map[string]reflect.Type{
	"aws:kms/key:Key":                              reflect.TypeFor[kms.KeyArgs](),
	"aws:kms/alias:Alias":                          reflect.TypeFor[kms.AliasArgs](),
	"aws:s3/bucketV2:BucketV2":                     reflect.TypeFor[s3.BucketV2Args](),
	"aws:s3/bucketVersioningV2:BucketVersioningV2": reflect.TypeFor[s3.BucketVersioningV2Args](),
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": reflect.TypeFor[s3.BucketServerSideEncryptionConfigurationV2Args](),
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":                                     reflect.TypeFor[s3.BucketPublicAccessBlockArgs](),
	"aws:s3/bucketPolicy:BucketPolicy":                                                           reflect.TypeFor[s3.BucketPolicyArgs](),
	"aws:iam/openIdConnectProvider:OpenIdConnectProvider":                                        reflect.TypeFor[iam.OpenIdConnectProviderArgs](),
	"aws:iam/role:Role":                                 reflect.TypeFor[iam.RoleArgs](),
	"aws:iam/rolePolicy:RolePolicy":                     reflect.TypeFor[iam.RolePolicyArgs](),
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment": reflect.TypeFor[iam.RolePolicyAttachmentArgs](),
}

// TestTaggableListMatchesSDK keeps metadata's allow-list honest: every type
// the module registers is listed, and listed as taggable exactly when its
// SDK args struct has a Tags field.
func TestTaggableListMatchesSDK(t *testing.T) {
	t.Parallel()
	r := deploy(t, config(everything))
	// aws:<module>/<camel>:<Type> is generated into package <module> as
	// <Type>Args.
	metadatatest.CheckTaggableList(t, r.Mocks, "aws:", sdkArgs, func(typ string) (string, string) {
		parts := strings.Split(typ, ":")
		mod, _, _ := strings.Cut(parts[1], "/")
		return mod, parts[2] + "Args"
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		edit  func(*awsmod.Config)
		paths []string
	}{
		{"defaults with a region", func(*awsmod.Config) {}, nil},
		{"everything", everything, nil},
		{"encrypted values", func(c *awsmod.Config) {
			c.AssumeRoleARN = "[secret]"
			c.AllowedAccountIDs = []string{"[secret]"}
		}, nil},
		{"no region", func(c *awsmod.Config) { c.Region = "" }, []string{"region"}},
		{"bad region", func(c *awsmod.Config) { c.Region = "US East" }, []string{"region"}},
		{"bad role", func(c *awsmod.Config) { c.AssumeRoleARN = "deployer" }, []string{"assume_role_arn"}},
		{"bad account", func(c *awsmod.Config) { c.AllowedAccountIDs = []string{account, "1234"} }, []string{"allowed_account_ids[1]"}},
		{"deletion window too short", func(c *awsmod.Config) { c.KMS.DeletionWindowDays = 6 }, []string{"kms.deletion_window_days"}},
		{"deletion window too long", func(c *awsmod.Config) { c.KMS.DeletionWindowDays = 31 }, []string{"kms.deletion_window_days"}},
		{"prefix too long", func(c *awsmod.Config) { c.StateBucket.NamePrefix = strings.Repeat("a", 38) }, []string{"state_bucket.name_prefix"}},
		{"prefix uppercase", func(c *awsmod.Config) { c.StateBucket.NamePrefix = "State-" }, []string{"state_bucket.name_prefix"}},
		{"oidc without repository", func(c *awsmod.Config) { c.GitHubOIDC.Enabled = true }, []string{"github_oidc.repository"}},
		{"oidc bad repository", func(c *awsmod.Config) { c.GitHubOIDC.Enabled = true; c.GitHubOIDC.Repository = "infra" }, []string{"github_oidc.repository"}},
		{"oidc wildcard branch", func(c *awsmod.Config) {
			everything(c)
			c.GitHubOIDC.Branch = "release/*"
		}, []string{"github_oidc.branch"}},
		{"oidc empty branch", func(c *awsmod.Config) { everything(c); c.GitHubOIDC.Branch = "" }, []string{"github_oidc.branch"}},
		{"role name too long", func(c *awsmod.Config) { c.GitHubOIDC.RoleName = strings.Repeat("r", 65) }, []string{"github_oidc.role_name"}},
		{"provider arn of another issuer", func(c *awsmod.Config) {
			c.GitHubOIDC.ProviderARN = "arn:aws:iam::" + account + ":oidc-provider/example.com"
		}, []string{"github_oidc.provider_arn"}},
		{"policy arns", func(c *awsmod.Config) {
			c.GitHubOIDC.PolicyARNs = []string{"arn:aws:iam::aws:policy/ReadOnlyAccess", "ReadOnlyAccess", "arn:aws:iam::" + account + ":policy/team/ReadOnlyAccess"}
		}, []string{"github_oidc.policy_arns[1]", "github_oidc.policy_arns[2]"}},
		{"several at once", func(c *awsmod.Config) { c.Region = ""; c.KMS.DeletionWindowDays = 0 }, []string{"region", "kms.deletion_window_days"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := config(tc.edit)
			var got []string
			for _, err := range unwrap(awsmod.Module.Validate(c)) {
				var fe *modules.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("error %v is not a *modules.FieldError", err)
				}
				got = append(got, fe.Path)
			}
			if !slices.Equal(got, tc.paths) {
				t.Errorf("error paths = %q, want %q", got, tc.paths)
			}
		})
	}
}

func unwrap(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c := awsmod.Module.NewConfig().(*awsmod.Config)
	if c.KMS.DeletionWindowDays != 30 || !c.StateBucket.Enabled || c.GitHubOIDC.Enabled || c.GitHubOIDC.Branch != "main" {
		t.Errorf("defaults = %+v", c)
	}
	if err := awsmod.Module.Validate(c); err == nil {
		t.Error("defaults validate without a region")
	}
}

func TestSubject(t *testing.T) {
	t.Parallel()
	if got := awsmod.Subject("acme/infra", "main"); got != "repo:acme/infra:ref:refs/heads/main" {
		t.Errorf("Subject = %q", got)
	}
}
