package rules

import (
	"testing"
)

func TestAzureStorageSecure(t *testing.T) {
	account := func(typ, extra string) Resource {
		base := `{"accountName":"kdevsa","resourceGroupName":"rg-dev","location":"westeurope","kind":"StorageV2",
			"sku":{"name":"Standard_LRS"}` + extra + `}`
		return Resource{Type: typ, Properties: obj(t, base)}
	}
	const sa = "azure-native:storage:StorageAccount"
	const secure = `,"enableHttpsTrafficOnly":true,"minimumTlsVersion":"TLS1_2","allowBlobPublicAccess":false`
	runCases(t, "azure-storage-secure", []ruleCase{
		{name: "secure", res: account(sa, secure)},
		{name: "secure, versioned type", res: account("azure-native:storage/v20230101:StorageAccount", secure)},
		{name: "nothing set", res: account(sa, ""), want: []string{
			"enableHttpsTrafficOnly is not true. Remediation: set enableHttpsTrafficOnly to true.",
			`minimumTlsVersion is not set (the API version's default applies). Remediation: set minimumTlsVersion to "TLS1_2".`,
			"allowBlobPublicAccess is not false. Remediation: set allowBlobPublicAccess to false.",
		}},
		{name: "old TLS, public blobs", res: account(sa, `,"enableHttpsTrafficOnly":true,"minimumTlsVersion":"TLS1_0","allowBlobPublicAccess":true`),
			want: []string{`minimumTlsVersion is "TLS1_0", below "TLS1_2"`, "allowBlobPublicAccess is not false"}},
		{name: "http allowed, versioned type", res: account("azure-native:storage/v20240101:StorageAccount",
			`,"enableHttpsTrafficOnly":false,"minimumTlsVersion":"TLS1_2","allowBlobPublicAccess":false`),
			want: []string{"enableHttpsTrafficOnly is not true"}},
		{name: "configured TLS1_3 required", res: account(sa, secure), cfg: map[string]any{"minimumTlsVersion": "TLS1_3"},
			want: []string{`minimumTlsVersion is "TLS1_2", below "TLS1_3". Remediation: set minimumTlsVersion to "TLS1_3".`}},
		{name: "unknown values", res: Resource{Type: sa, Properties: map[string]any{
			"enableHttpsTrafficOnly": Unknown{}, "minimumTlsVersion": Unknown{}, "allowBlobPublicAccess": Unknown{}}}},
		{name: "other type", res: Resource{Type: "azure-native:storage:BlobContainer", Properties: obj(t, `{"publicAccess":"Container"}`)}},
	})
}

func TestAzureAllowedLocations(t *testing.T) {
	rg := func(loc any) Resource {
		return Resource{Type: "azure-native:resources:ResourceGroup", Properties: map[string]any{"resourceGroupName": "rg", "location": loc}}
	}
	runCases(t, "azure-allowed-locations", []ruleCase{
		{name: "allowed", res: rg("westeurope")},
		{name: "display name", res: rg("West Europe")},
		{name: "not allowed", res: rg("australiaeast"),
			want: []string{`location "australiaeast" is not an allowed location ("eastus", "eastus2", "westus2", "westeurope", "northeurope"). Remediation: set location to an allowed location`}},
		{name: "global", res: Resource{Type: "azure-native:network:PrivateZone", Properties: map[string]any{"location": "Global"}}},
		{name: "configured", res: rg("australiaeast"), cfg: map[string]any{"allowedLocations": []any{"Australia East"}}},
		{name: "unknown", res: rg(Unknown{})},
		{name: "no location", res: Resource{Type: "azure-native:storage:BlobContainer", Properties: map[string]any{"containerName": "c"}}},
		{name: "provider", res: Resource{Type: "pulumi:providers:azure-native", Properties: map[string]any{"location": "japaneast"}},
			want: []string{`location "japaneast" is not an allowed location ("eastus", "eastus2", "westus2", "westeurope", "northeurope"). Remediation: set the provider's location`}},
		{name: "aws resource ignored", res: Resource{Type: "aws:s3/bucket:Bucket", Properties: map[string]any{"location": "mars"}}},
	})
}
