package rules

import (
	"testing"
)

func TestRequiredMetadata(t *testing.T) {
	deployment := func(labels map[string]any) Resource {
		m := map[string]any{"name": "web"}
		if labels != nil {
			m["labels"] = labels
		}
		return Resource{Type: "kubernetes:apps/v1:Deployment", Properties: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment", "metadata": m,
			"spec": obj(t, `{"selector":{"matchLabels":{"app":"web"}},"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27.3"}]}}}`),
		}}
	}
	bucket := func(tags map[string]any) Resource {
		p := map[string]any{"bucket": "konductor-dev-artifacts", "forceDestroy": false}
		if tags != nil {
			p["tags"] = tags
		}
		return Resource{Type: "aws:s3/bucket:Bucket", Properties: p}
	}
	storage := func(typ string, tags map[string]any) Resource {
		p := obj(t, `{"accountName":"kdevsa","resourceGroupName":"rg-dev","location":"westeurope",
			"kind":"StorageV2","sku":{"name":"Standard_LRS"}}`)
		if tags != nil {
			p["tags"] = tags
		}
		return Resource{Type: typ, Properties: p}
	}
	wrongOwner := cloudTags()
	wrongOwner["managed-by"] = "terraform"
	defaultTags := map[string]any{"tags": cloudTags()}
	defaultTagsJSON := `{"tags":{"managed-by":"konductor","konductor:stack":"dev","konductor:module":"aws"}}`

	runCases(t, "required-metadata", []ruleCase{
		// Kubernetes
		{name: "k8s labelled", res: deployment(k8sLabels())},
		{name: "k8s unlabelled", res: deployment(nil),
			want: []string{`missing label(s) "app.kubernetes.io/managed-by", "konductor.io/stack", "konductor.io/module". Remediation: set metadata.labels {`}},
		{name: "k8s wrong managed-by", res: deployment(map[string]any{
			"app.kubernetes.io/managed-by": "Helm", "konductor.io/stack": "dev", "konductor.io/module": "m"}),
			want: []string{`label "app.kubernetes.io/managed-by" is "Helm", not "konductor"`}},
		{name: "k8s unknown label value", res: deployment(map[string]any{
			"app.kubernetes.io/managed-by": "konductor", "konductor.io/stack": Unknown{}, "konductor.io/module": "m"})},
		{name: "k8s configmap", res: Resource{Type: "kubernetes:core/v1:ConfigMap",
			Properties: obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b"}}`)},
			want: []string{"missing label(s)"}},
		{name: "k8s generic custom resource", res: Resource{Type: "kubernetes:apiextensions.k8s.io:CustomResource",
			Properties: obj(t, `{"apiVersion":"cert-manager.io/v1","kind":"ClusterIssuer","metadata":{"name":"selfsigned"},"spec":{"selfSigned":{}}}`)},
			want: []string{"missing label(s)"}},
		{name: "k8s namespace is left to k8s-namespace-metadata", res: Resource{Type: "kubernetes:core/v1:Namespace",
			Properties: obj(t, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}}`)}},
		{name: "k8s helm chart component", res: Resource{Type: "kubernetes:helm.sh/v4:Chart",
			Properties: obj(t, `{"chart":"cert-manager","namespace":"cert-manager","values":{}}`)}},
		{name: "k8s helm release", res: Resource{Type: "kubernetes:helm.sh/v3:Release",
			Properties: obj(t, `{"chart":"cert-manager","namespace":"cert-manager"}`)}},
		{name: "k8s patch", res: Resource{Type: "kubernetes:core/v1:ConfigMapPatch",
			Properties: obj(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-root-ca.crt"}}`)}},
		{name: "k8s provider", res: Resource{Type: "pulumi:providers:kubernetes",
			Properties: obj(t, `{"kubeconfig":"..."}`)}},
		// AWS
		{name: "aws tagged", res: bucket(cloudTags())},
		{name: "aws untagged", res: bucket(nil),
			want: []string{`missing tag(s) "managed-by", "konductor:stack", "konductor:module". Remediation: set tags {"managed-by": "konductor", "konductor:stack": "<stack>", "konductor:module": "<module>"}`}},
		{name: "aws wrong managed-by", res: bucket(wrongOwner),
			want: []string{`tag "managed-by" is "terraform", not "konductor". Remediation: set tags["managed-by"] to "konductor"`}},
		{name: "aws tags unknown", res: Resource{Type: "aws:s3/bucket:Bucket", Properties: map[string]any{"tags": Unknown{}}}},
		{name: "aws provider defaultTags (JSON string)", res: Resource{Type: "aws:s3/bucket:Bucket",
			Properties: map[string]any{"bucket": "b"}, ProviderProperties: map[string]any{"region": "us-east-1", "defaultTags": defaultTagsJSON}}},
		{name: "aws provider defaultTags (object)", res: Resource{Type: "aws:kms/key:Key",
			Properties: map[string]any{"enableKeyRotation": true}, ProviderProperties: map[string]any{"defaultTags": defaultTags}}},
		{name: "aws tagsAll", res: Resource{Type: "aws:ec2/vpc:Vpc",
			Properties: map[string]any{"cidrBlock": "10.0.0.0/16", "tagsAll": cloudTags()}}},
		{name: "aws untaggable type", res: Resource{Type: "aws:ec2/securityGroupRule:SecurityGroupRule",
			Properties: obj(t, `{"type":"ingress","protocol":"tcp","fromPort":443,"toPort":443,"cidrBlocks":["10.0.0.0/8"],"securityGroupId":"sg-1"}`)}},
		{name: "aws public access block is untaggable", res: Resource{Type: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
			Properties: obj(t, `{"bucket":"b","blockPublicAcls":true}`)}},
		{name: "aws cloudTags configured", res: bucket(map[string]any{"owner": "team-a"}),
			cfg: map[string]any{"cloudTags": []any{"owner"}}},
		// Azure
		{name: "azure tagged", res: storage("azure-native:storage:StorageAccount", cloudTags())},
		{name: "azure untagged", res: storage("azure-native:storage:StorageAccount", nil),
			want: []string{`missing tag(s) "managed-by", "konductor:stack", "konductor:module"`}},
		{name: "azure versioned type untagged", res: storage("azure-native:storage/v20230101:StorageAccount", nil),
			want: []string{"missing tag(s)"}},
		{name: "azure resource group untagged", res: Resource{Type: "azure-native:resources:ResourceGroup",
			Properties: obj(t, `{"resourceGroupName":"rg-dev"}`)}, want: []string{"missing tag(s)"}},
		{name: "azure unscanned module with location", res: Resource{Type: "azure-native:network:VirtualNetwork",
			Properties: obj(t, `{"resourceGroupName":"rg","location":"westeurope","addressSpace":{"addressPrefixes":["10.0.0.0/16"]}}`)},
			want: []string{"missing tag(s)"}},
		{name: "azure proxy resource", res: Resource{Type: "azure-native:storage:BlobContainer",
			Properties: obj(t, `{"accountName":"kdevsa","resourceGroupName":"rg","containerName":"c","publicAccess":"None"}`)}},
	})
}

func TestProtectStateful(t *testing.T) {
	var cases []ruleCase
	for _, typ := range defaultStatefulTypes {
		cases = append(cases,
			ruleCase{name: typ + " protected", res: Resource{Type: typ, Protect: true, Properties: map[string]any{}}},
			ruleCase{name: typ + " unprotected", res: Resource{Type: typ, Properties: map[string]any{}},
				want: []string{typ + " is stateful and not protected"}},
		)
	}
	cases = append(cases,
		ruleCase{name: "versioned azure storage account", res: Resource{Type: "azure-native:storage/v20240101:StorageAccount"},
			want: []string{"is stateful and not protected"}},
		ruleCase{name: "bucket object is not stateful", res: Resource{Type: "aws:s3/bucketObject:BucketObject"}},
		ruleCase{name: "deployment is not stateful", res: Resource{Type: "kubernetes:apps/v1:Deployment"}},
		ruleCase{name: "configured glob", res: Resource{Type: "aws:rds/instance:Instance"},
			cfg:  map[string]any{"statefulTypes": []any{"aws:rds/*"}},
			want: []string{"aws:rds/instance:Instance is stateful and not protected: deleting or replacing it would destroy its data. Remediation: set the protect resource option"}},
		ruleCase{name: "configured list replaces defaults", res: Resource{Type: "aws:kms/key:Key"},
			cfg: map[string]any{"statefulTypes": []any{"aws:rds/*"}}},
	)
	runCases(t, "protect-stateful", cases)
}

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"aws:s3/bucket:Bucket", "aws:s3/bucket:Bucket", true},
		{"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", false},
		{"aws:s3/bucket*", "aws:s3/bucketV2:BucketV2", true},
		{"aws:*:Key", "aws:kms/key:Key", true},
		{"*", "anything", true},
		{"aws:rds/*", "aws:rds/instance:Instance", true},
		{"aws:rds/*", "aws:s3/bucket:Bucket", false},
	} {
		if got := globMatch(c.pattern, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}
