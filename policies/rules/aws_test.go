package rules

import (
	"testing"
)

func TestAWSS3PublicAccessBlock(t *testing.T) {
	const bpab = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
	const apab = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
	runCases(t, "aws-s3-public-access-block", []ruleCase{
		{name: "bucket all true", res: Resource{Type: bpab, Properties: obj(t,
			`{"bucket":"konductor-dev","blockPublicAcls":true,"blockPublicPolicy":true,"ignorePublicAcls":true,"restrictPublicBuckets":true}`)}},
		{name: "account all true", res: Resource{Type: apab, Properties: obj(t,
			`{"blockPublicAcls":true,"blockPublicPolicy":true,"ignorePublicAcls":true,"restrictPublicBuckets":true}`)}},
		{name: "bucket one false, one unset", res: Resource{Type: bpab, Properties: obj(t,
			`{"bucket":"konductor-dev","blockPublicAcls":true,"blockPublicPolicy":false,"ignorePublicAcls":true}`)},
			want: []string{"blockPublicPolicy, restrictPublicBuckets is not true (unset means false). Remediation: set blockPublicPolicy, restrictPublicBuckets to true."}},
		{name: "account nothing set", res: Resource{Type: apab, Properties: map[string]any{}},
			want: []string{"set blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets to true"}},
		{name: "unknown values", res: Resource{Type: bpab, Properties: map[string]any{"bucket": Unknown{},
			"blockPublicAcls": true, "blockPublicPolicy": Unknown{}, "ignorePublicAcls": true, "restrictPublicBuckets": true}}},
		{name: "other type", res: Resource{Type: "aws:s3/bucket:Bucket", Properties: map[string]any{"acl": "public-read"}}},
	})
}

func TestAWSS3Encryption(t *testing.T) {
	rule, _ := Lookup("aws-s3-encryption")
	if !rule.IsStack() {
		t.Fatal("aws-s3-encryption must be a stack rule")
	}
	const (
		bucketURN   = "urn:pulumi:dev::konductor::konductor:module$aws:s3/bucket:Bucket::artifacts"
		bucketV2URN = "urn:pulumi:dev::konductor::aws:s3/bucketV2:BucketV2::logs"
		sseURN      = "urn:pulumi:dev::konductor::aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2::artifacts"
	)
	// Outputs as a preview reports them for a new bucket whose encryption
	// the program did not set: computed attributes are unknown.
	newBucket := func() Resource {
		return Resource{Type: awsBucket, URN: bucketURN, Name: "artifacts", Properties: map[string]any{
			"bucket": "konductor-dev-artifacts", "id": Unknown{}, "arn": Unknown{},
			"serverSideEncryptionConfiguration": Unknown{}, "tags": cloudTags(),
		}}
	}
	sse := func(bucket any, deps ...string) Resource {
		return Resource{Type: awsBucketSSEConfigV2, URN: sseURN, Name: "artifacts",
			Properties: map[string]any{"bucket": bucket, "rules": []any{map[string]any{
				"applyServerSideEncryptionByDefault": map[string]any{"sseAlgorithm": "aws:kms", "kmsMasterKeyId": Unknown{}},
				"bucketKeyEnabled":                   true,
			}}},
			Dependencies:         deps,
			PropertyDependencies: map[string][]string{"bucket": deps},
		}
	}
	// Outputs of a deployed Bucket with inline encryption.
	inlineBucket := Resource{Type: awsBucket, URN: bucketURN, Name: "artifacts", Properties: obj(t, `{
		"bucket":"konductor-dev-artifacts","id":"konductor-dev-artifacts",
		"serverSideEncryptionConfiguration":{"rule":{"applyServerSideEncryptionByDefault":{"sseAlgorithm":"AES256","kmsMasterKeyId":""},"bucketKeyEnabled":false}}}`)}
	inlineBucketV2 := Resource{Type: awsBucketV2, URN: bucketV2URN, Name: "logs", Properties: obj(t, `{
		"bucket":"konductor-dev-logs","id":"konductor-dev-logs",
		"serverSideEncryptionConfigurations":[{"rules":[{"applyServerSideEncryptionByDefaults":[{"sseAlgorithm":"aws:kms","kmsMasterKeyId":"arn:aws:kms:us-east-1:1:key/k"}],"bucketKeyEnabled":true}]}]}`)}
	emptyBucketV2 := Resource{Type: awsBucketV2, URN: bucketV2URN, Name: "logs", Properties: obj(t, `{
		"bucket":"konductor-dev-logs","id":"konductor-dev-logs","serverSideEncryptionConfigurations":[]}`)}
	noRules := sse("konductor-dev-artifacts")
	noRules.Properties["rules"] = []any{}

	for _, tc := range []struct {
		name string
		rs   []Resource
		want []string
	}{
		{name: "inline Bucket", rs: []Resource{inlineBucket}},
		{name: "inline BucketV2", rs: []Resource{inlineBucketV2}},
		{name: "separate SSE config (preview, linked by property dependency)", rs: []Resource{newBucket(), sse(Unknown{}, bucketURN)}},
		{name: "separate SSE config (linked by bucket name)", rs: []Resource{newBucket(), sse("konductor-dev-artifacts")}},
		{name: "new bucket without encryption", rs: []Resource{newBucket()},
			want: []string{`bucket "artifacts" has no explicit default encryption configuration. Remediation: add an aws.s3.BucketServerSideEncryptionConfigurationV2`}},
		{name: "SSE config for another bucket", rs: []Resource{newBucket(), emptyBucketV2, sse(Unknown{}, bucketURN)},
			want: []string{`bucket "logs"`}},
		{name: "SSE config without rules does not count", rs: []Resource{newBucket(), noRules},
			want: []string{`bucket "artifacts"`}},
		{name: "no buckets", rs: []Resource{{Type: "aws:kms/key:Key", Properties: map[string]any{}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := rule.CheckStack(tc.rs, rule.Defaults())
			checkViolations(t, vs, tc.want)
			for _, v := range vs {
				if v.URN == "" {
					t.Errorf("stack violation without URN: %+v", v)
				}
			}
		})
	}
}

func TestAWSKMSRotation(t *testing.T) {
	key := func(js string) Resource { return Resource{Type: "aws:kms/key:Key", Properties: obj(t, js)} }
	runCases(t, "aws-kms-rotation", []ruleCase{
		{name: "rotation on", res: key(`{"description":"konductor","enableKeyRotation":true,"deletionWindowInDays":30}`)},
		{name: "rotation off", res: key(`{"description":"konductor","enableKeyRotation":false}`),
			want: []string{"enableKeyRotation is not true. Remediation: set enableKeyRotation to true"}},
		{name: "rotation unset", res: key(`{"description":"konductor"}`), want: []string{"enableKeyRotation is not true"}},
		{name: "symmetric default spec", res: key(`{"customerMasterKeySpec":"SYMMETRIC_DEFAULT","keyUsage":"ENCRYPT_DECRYPT"}`),
			want: []string{"enableKeyRotation is not true"}},
		{name: "asymmetric key", res: key(`{"customerMasterKeySpec":"RSA_2048","keyUsage":"SIGN_VERIFY"}`)},
		{name: "hmac key", res: key(`{"customerMasterKeySpec":"HMAC_256","keyUsage":"GENERATE_VERIFY_MAC"}`)},
		{name: "custom key store", res: key(`{"customKeyStoreId":"cks-1234"}`)},
		{name: "unknown", res: Resource{Type: "aws:kms/key:Key", Properties: map[string]any{"enableKeyRotation": Unknown{}}}},
		{name: "other type", res: Resource{Type: "aws:kms/alias:Alias", Properties: obj(t, `{"name":"alias/k"}`)}},
	})
}

func TestAWSSGNoAdminIngress(t *testing.T) {
	sg := func(js string) Resource {
		return Resource{Type: "aws:ec2/securityGroup:SecurityGroup", Properties: obj(t, js)}
	}
	rule := func(js string) Resource {
		return Resource{Type: "aws:ec2/securityGroupRule:SecurityGroupRule", Properties: obj(t, js)}
	}
	vpcRule := func(js string) Resource {
		return Resource{Type: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", Properties: obj(t, js)}
	}
	runCases(t, "aws-sg-no-admin-ingress", []ruleCase{
		{name: "sg https from anywhere", res: sg(`{"description":"web","vpcId":"vpc-1",
			"ingress":[{"protocol":"tcp","fromPort":443,"toPort":443,"cidrBlocks":["0.0.0.0/0"],"ipv6CidrBlocks":["::/0"]}],
			"egress":[{"protocol":"-1","fromPort":0,"toPort":0,"cidrBlocks":["0.0.0.0/0"]}]}`)},
		{name: "sg ssh from office", res: sg(`{"ingress":[{"protocol":"tcp","fromPort":22,"toPort":22,"cidrBlocks":["203.0.113.0/24"]}]}`)},
		{name: "sg ssh from anywhere", res: sg(`{"ingress":[{"protocol":"tcp","fromPort":443,"toPort":443,"cidrBlocks":["0.0.0.0/0"]},
			{"protocol":"tcp","fromPort":22,"toPort":22,"cidrBlocks":["10.0.0.0/8","0.0.0.0/0"]}]}`),
			want: []string{"ingress[1] allows 0.0.0.0/0 (ingress[1].cidrBlocks) to port(s) 22. Remediation: restrict ingress[1].cidrBlocks"}},
		{name: "sg all traffic from ipv6 anywhere", res: sg(`{"ingress":[{"protocol":"-1","fromPort":0,"toPort":0,"ipv6CidrBlocks":["::/0"]}]}`),
			want: []string{"ingress[0] allows ::/0 (ingress[0].ipv6CidrBlocks) to port(s) 22, 3389"}},
		{name: "sg tcp range covering rdp", res: sg(`{"ingress":[{"protocol":"tcp","fromPort":3000,"toPort":4000,"cidrBlocks":["0.0.0.0/0"]}]}`),
			want: []string{"to port(s) 3389"}},
		{name: "sg icmp from anywhere", res: sg(`{"ingress":[{"protocol":"icmp","fromPort":-1,"toPort":-1,"cidrBlocks":["0.0.0.0/0"]}]}`)},
		{name: "sg unknown cidrs", res: Resource{Type: "aws:ec2/securityGroup:SecurityGroup", Properties: map[string]any{
			"ingress": []any{map[string]any{"protocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrBlocks": Unknown{}}}}}},
		{name: "rule rdp from anywhere", res: rule(`{"type":"ingress","protocol":"tcp","fromPort":3389,"toPort":3389,
			"cidrBlocks":["0.0.0.0/0"],"securityGroupId":"sg-1"}`),
			want: []string{"rule allows 0.0.0.0/0 (cidrBlocks) to port(s) 3389. Remediation: restrict cidrBlocks"}},
		{name: "rule egress ssh", res: rule(`{"type":"egress","protocol":"tcp","fromPort":22,"toPort":22,"cidrBlocks":["0.0.0.0/0"],"securityGroupId":"sg-1"}`)},
		{name: "rule from security group", res: rule(`{"type":"ingress","protocol":"tcp","fromPort":22,"toPort":22,
			"sourceSecurityGroupId":"sg-2","securityGroupId":"sg-1"}`)},
		{name: "vpc rule ssh from anywhere", res: vpcRule(`{"securityGroupId":"sg-1","ipProtocol":"tcp","fromPort":22,"toPort":22,"cidrIpv4":"0.0.0.0/0"}`),
			want: []string{"rule allows 0.0.0.0/0 (cidrIpv4) to port(s) 22. Remediation: restrict cidrIpv4"}},
		{name: "vpc rule all protocols ipv6", res: vpcRule(`{"securityGroupId":"sg-1","ipProtocol":"-1","cidrIpv6":"::/0"}`),
			want: []string{"rule allows ::/0 (cidrIpv6) to port(s) 22, 3389"}},
		{name: "vpc rule https", res: vpcRule(`{"securityGroupId":"sg-1","ipProtocol":"tcp","fromPort":443,"toPort":443,"cidrIpv4":"0.0.0.0/0"}`)},
		{name: "vpc rule ssh from security group", res: vpcRule(`{"securityGroupId":"sg-1","ipProtocol":"tcp","fromPort":22,"toPort":22,
			"referencedSecurityGroupId":"sg-2"}`)},
		{name: "configured ports: postgres open", res: vpcRule(`{"securityGroupId":"sg-1","ipProtocol":"tcp","fromPort":5432,"toPort":5432,"cidrIpv4":"0.0.0.0/0"}`),
			cfg: map[string]any{"adminPorts": []any{5432.0}}, want: []string{"to port(s) 5432"}},
		{name: "configured ports: ssh allowed", res: vpcRule(`{"securityGroupId":"sg-1","ipProtocol":"tcp","fromPort":22,"toPort":22,"cidrIpv4":"0.0.0.0/0"}`),
			cfg: map[string]any{"adminPorts": []any{5432.0}}},
	})
}

func TestAWSIAMNoStar(t *testing.T) {
	const admin = `{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Action":"*","Resource":"*"}]}`
	const scoped = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::konductor-dev/*"}]}`
	policy := func(typ string, doc any) Resource {
		return Resource{Type: typ, Properties: map[string]any{"name": "p", "policy": doc}}
	}
	runCases(t, "aws-iam-no-star", []ruleCase{
		{name: "policy scoped", res: policy("aws:iam/policy:Policy", scoped)},
		{name: "policy admin", res: policy("aws:iam/policy:Policy", admin),
			want: []string{`policy statement 0 (Sid "Admin") allows Action "*" on Resource "*" (full administrator access). Remediation: replace Action "*" and Resource "*"`}},
		{name: "single statement object, action list", res: policy("aws:iam/policy:Policy",
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["ec2:*","*:*"],"Resource":["*"]}}`),
			want: []string{"policy statement 0 allows"}},
		{name: "deny star", res: policy("aws:iam/policy:Policy",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`)},
		{name: "service wildcard", res: policy("aws:iam/policy:Policy",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`)},
		{name: "star on one resource", res: policy("aws:iam/policy:Policy",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b"}]}`)},
		{name: "document as object", res: policy("aws:iam/policy:Policy", obj(t, admin)),
			want: []string{`policy statement 0 (Sid "Admin")`}},
		{name: "role policy admin", res: policy("aws:iam/rolePolicy:RolePolicy", admin), want: []string{"policy statement 0"}},
		{name: "user policy admin", res: policy("aws:iam/userPolicy:UserPolicy", admin), want: []string{"policy statement 0"}},
		{name: "group policy admin", res: policy("aws:iam/groupPolicy:GroupPolicy", admin), want: []string{"policy statement 0"}},
		{name: "unknown document", res: policy("aws:iam/policy:Policy", Unknown{})},
		{name: "unparseable document", res: policy("aws:iam/policy:Policy", "not json")},
		{name: "role inline policies", res: Resource{Type: "aws:iam/role:Role", Properties: map[string]any{
			"assumeRolePolicy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"ec2.amazonaws.com"}}]}`,
			"inlinePolicies": []any{
				map[string]any{"name": "scoped", "policy": scoped},
				map[string]any{"name": "admin", "policy": admin},
			}}},
			want: []string{`inlinePolicies[1].policy statement 0 (Sid "Admin") allows`}},
		{name: "role without inline policies", res: Resource{Type: "aws:iam/role:Role", Properties: map[string]any{
			"assumeRolePolicy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`}}},
	})
}

func TestAWSAllowedRegions(t *testing.T) {
	provider := func(props map[string]any) Resource {
		return Resource{Type: "pulumi:providers:aws", Properties: props}
	}
	runCases(t, "aws-allowed-regions", []ruleCase{
		{name: "allowed", res: provider(map[string]any{"region": "us-east-1", "version": "6.83.4"})},
		{name: "not allowed", res: provider(map[string]any{"region": "ap-southeast-2", "version": "6.83.4"}),
			want: []string{`provider region "ap-southeast-2" is not an allowed region ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1"). Remediation: set the provider's region`}},
		{name: "configured", res: provider(map[string]any{"region": "ap-southeast-2"}),
			cfg: map[string]any{"allowedRegions": []any{"ap-southeast-2"}}},
		{name: "configured excludes default", res: provider(map[string]any{"region": "us-east-1"}),
			cfg: map[string]any{"allowedRegions": []any{"eu-west-1"}}, want: []string{`provider region "us-east-1"`}},
		{name: "region from environment", res: provider(map[string]any{"version": "6.83.4"})},
		{name: "unknown region", res: provider(map[string]any{"region": Unknown{}})},
		{name: "not a provider", res: Resource{Type: "aws:s3/bucket:Bucket", Properties: map[string]any{"region": "ap-southeast-2"}}},
	})
}
