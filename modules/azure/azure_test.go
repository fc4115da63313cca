package azure_test

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-azure-native-sdk/resources/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/storage/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/modules"
	azuremod "github.com/containercraft/konductor-action/modules/azure"
	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/modules/metadata/metadatatest"
)

const subscription = "00000000-0000-0000-0000-000000000001"

// config returns the defaults with a location and an account name, as the
// loader would.
func config(edit func(*azuremod.Config)) *azuremod.Config {
	c := azuremod.Module.NewConfig().(*azuremod.Config)
	c.Location = "westeurope"
	c.Storage.AccountName = "konductorstate01"
	if edit != nil {
		edit(c)
	}
	return c
}

// mocks answers like ARM would for the computed outputs the module uses.
func mocks() *metadatatest.Mocks {
	return &metadatatest.Mocks{NewResourceFunc: func(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
		state := a.Inputs.Copy()
		id := a.Name + "-id"
		switch a.TypeToken {
		case "azure-native:resources:ResourceGroup":
			n := a.Inputs["resourceGroupName"].StringValue()
			id = "/subscriptions/" + subscription + "/resourceGroups/" + n
			state["name"] = resource.NewProperty(n)
		case "azure-native:storage:StorageAccount":
			n := a.Inputs["accountName"].StringValue()
			id = "/subscriptions/" + subscription + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/" + n
			state["name"] = resource.NewProperty(n)
			state["primaryEndpoints"] = resource.NewProperty(resource.PropertyMap{
				"blob": resource.NewProperty("https://" + n + ".blob.core.windows.net/"),
			})
		}
		return id, state, nil
	}}
}

// deploy runs the module as the runner does and resolves its outputs.
func deploy(t *testing.T, cfg *azuremod.Config) metadatatest.Deployed {
	t.Helper()
	return metadatatest.DeployModule(t, mocks(), azuremod.Module, cfg)
}

func withContainers(c *azuremod.Config) {
	c.SubscriptionID = subscription
	c.Storage.Containers = []string{"state", "artifacts"}
}

func TestDeploy(t *testing.T) {
	t.Parallel()
	r := deploy(t, config(withContainers))

	var got []string
	for _, res := range r.Resources() {
		got = append(got, res.Type+" "+res.Name)
	}
	want := []string{
		"azure-native:resources:ResourceGroup azure-rg",
		"azure-native:storage:BlobContainer azure-storage-artifacts",
		"azure-native:storage:BlobContainer azure-storage-state",
		"azure-native:storage:StorageAccount azure-storage",
		metadata.ModuleComponentType + " azure",
		"pulumi:providers:azure-native azure",
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("resources:\n got %q\nwant %q", got, want)
	}
	for _, res := range r.Resources() {
		if res.Type != metadata.ModuleComponentType && !strings.Contains(res.URN, "::"+metadata.ModuleComponentType+"$") {
			t.Errorf("%s is not a child of the module component", res.URN)
		}
		if strings.HasPrefix(res.Type, "azure-native:") && !strings.Contains(res.Provider, "pulumi:providers:azure-native::azure::") {
			t.Errorf("%s uses provider %q, want the module's", res.Name, res.Provider)
		}
	}

	prov := r.One(t, "pulumi:providers:azure-native")
	if prov["location"].StringValue() != "westeurope" || prov["subscriptionId"].StringValue() != subscription {
		t.Errorf("provider = %v", prov)
	}
	rg := r.One(t, "azure-native:resources:ResourceGroup")
	if rg["resourceGroupName"].StringValue() != "konductor-platform-dev" || rg["location"].StringValue() != "westeurope" {
		t.Errorf("resource group = %v", rg)
	}

	sa := r.One(t, "azure-native:storage:StorageAccount")
	for k, want := range map[resource.PropertyKey]any{
		"accountName":            "konductorstate01",
		"resourceGroupName":      "konductor-platform-dev",
		"kind":                   "StorageV2",
		"minimumTlsVersion":      "TLS1_2",
		"enableHttpsTrafficOnly": true,
		"allowBlobPublicAccess":  false,
	} {
		if got := sa[k].V; got != want {
			t.Errorf("storage account %s = %v, want %v", k, got, want)
		}
	}
	if sku := sa["sku"].ObjectValue()["name"].StringValue(); sku != "Standard_LRS" {
		t.Errorf("sku = %q", sku)
	}

	for _, c := range r.ByType("azure-native:storage:BlobContainer") {
		if c.Inputs["publicAccess"].StringValue() != "None" || c.Inputs["accountName"].StringValue() != "konductorstate01" ||
			c.Inputs["resourceGroupName"].StringValue() != "konductor-platform-dev" {
			t.Errorf("container %s = %v", c.Name, c.Inputs)
		}
	}

	wantOut := map[string]any{
		azuremod.OutputLocation:           "westeurope",
		azuremod.OutputResourceGroupName:  "konductor-platform-dev",
		azuremod.OutputStorageAccountName: "konductorstate01",
		azuremod.OutputStorageAccountID:   "/subscriptions/" + subscription + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/konductorstate01",
		azuremod.OutputBlobEndpoint:       "https://konductorstate01.blob.core.windows.net/",
	}
	containers := r.Outputs[azuremod.OutputContainers]
	delete(r.Outputs, azuremod.OutputContainers)
	if !maps.Equal(r.Outputs, wantOut) {
		t.Errorf("outputs = %v, want %v", r.Outputs, wantOut)
	}
	if !slices.Equal(containers.([]string), []string{"state", "artifacts"}) {
		t.Errorf("containers output = %v", containers)
	}
}

func TestDeployWithoutStorage(t *testing.T) {
	t.Parallel()
	r := deploy(t, config(func(c *azuremod.Config) {
		c.Storage.Enabled = false
		c.Storage.AccountName = ""
		c.ResourceGroup.Name = "rg-platform"
	}))
	if n := len(r.ByType("azure-native:storage:StorageAccount")); n != 0 {
		t.Errorf("%d storage accounts with storage disabled", n)
	}
	if got := r.One(t, "azure-native:resources:ResourceGroup")["resourceGroupName"].StringValue(); got != "rg-platform" {
		t.Errorf("resource group name = %q", got)
	}
	if _, ok := r.One(t, "pulumi:providers:azure-native")["subscriptionId"]; ok {
		t.Error("subscriptionId set without config")
	}
	if _, ok := r.Outputs[azuremod.OutputStorageAccountName]; ok {
		t.Error("storage outputs without storage")
	}
}

func TestTagsOnEveryTaggableResourceAndNowhereElse(t *testing.T) {
	t.Parallel()
	r := deploy(t, config(withContainers))
	metadatatest.CheckTags(t, r.Mocks, metadatatest.Facts().AzureTags(azuremod.Name))
	if len(r.ByType("azure-native:storage:BlobContainer")) == 0 {
		t.Fatal("no container to check")
	}
}

// sdkArgs maps each Azure type the module creates to its args struct.
var sdkArgs = map[string]reflect.Type{
	"azure-native:resources:ResourceGroup": reflect.TypeFor[resources.ResourceGroupArgs](),
	"azure-native:storage:StorageAccount":  reflect.TypeFor[storage.StorageAccountArgs](),
	"azure-native:storage:BlobContainer":   reflect.TypeFor[storage.BlobContainerArgs](),
}

// TestTaggableListMatchesSDK keeps metadata's allow-list honest for the
// Azure types: every type the module registers is listed, and listed as
// taggable exactly when its SDK args struct has a Tags field.
func TestTaggableListMatchesSDK(t *testing.T) {
	t.Parallel()
	r := deploy(t, config(withContainers))
	// azure-native:<module>:<Type> is generated into module <module>
	// (…/<module>/v2) as <Type>Args.
	metadatatest.CheckTaggableList(t, r.Mocks, "azure-native:", sdkArgs, func(typ string) (string, string) {
		parts := strings.Split(typ, ":")
		return parts[1] + "/v2", parts[2] + "Args"
	})
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		edit  func(*azuremod.Config)
		paths []string
	}{
		{"defaults with location and account", func(*azuremod.Config) {}, nil},
		{"with containers", withContainers, nil},
		{"encrypted subscription", func(c *azuremod.Config) { c.SubscriptionID = "[secret]" }, nil},
		{"no storage, no account name", func(c *azuremod.Config) { c.Storage.Enabled = false; c.Storage.AccountName = "" }, nil},
		{"no location", func(c *azuremod.Config) { c.Location = "" }, []string{"location"}},
		{"display name location", func(c *azuremod.Config) { c.Location = "West Europe" }, []string{"location"}},
		{"bad subscription", func(c *azuremod.Config) { c.SubscriptionID = "my-sub" }, []string{"subscription_id"}},
		{"bad resource group", func(c *azuremod.Config) { c.ResourceGroup.Name = "rg/with/slashes" }, []string{"resource_group.name"}},
		{"resource group ends with dot", func(c *azuremod.Config) { c.ResourceGroup.Name = "rg." }, []string{"resource_group.name"}},
		{"no account name", func(c *azuremod.Config) { c.Storage.AccountName = "" }, []string{"storage.account_name"}},
		{"account name with dash", func(c *azuremod.Config) { c.Storage.AccountName = "konductor-state" }, []string{"storage.account_name"}},
		{"account name uppercase", func(c *azuremod.Config) { c.Storage.AccountName = "KonductorState" }, []string{"storage.account_name"}},
		{"account name too short", func(c *azuremod.Config) { c.Storage.AccountName = "ab" }, []string{"storage.account_name"}},
		{"account name too long", func(c *azuremod.Config) { c.Storage.AccountName = strings.Repeat("a", 25) }, []string{"storage.account_name"}},
		{"premium sku", func(c *azuremod.Config) { c.Storage.SKU = "Premium_LRS" }, []string{"storage.sku"}},
		{"containers without storage", func(c *azuremod.Config) {
			c.Storage.Enabled = false
			c.Storage.Containers = []string{"state"}
		}, []string{"storage.containers"}},
		{"bad containers", func(c *azuremod.Config) {
			c.Storage.Containers = []string{"state", "State", "a--b", "ok-1", "state", "x"}
		}, []string{"storage.containers[1]", "storage.containers[2]", "storage.containers[4]", "storage.containers[5]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			err := azuremod.Module.Validate(config(tc.edit))
			for _, e := range unwrap(err) {
				var fe *modules.FieldError
				if !errors.As(e, &fe) {
					t.Fatalf("error %v is not a *modules.FieldError", e)
				}
				got = append(got, fe.Path)
			}
			if !slices.Equal(got, tc.paths) {
				t.Errorf("error paths = %q, want %q (%v)", got, tc.paths, err)
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
	c := azuremod.Module.NewConfig().(*azuremod.Config)
	if !c.Storage.Enabled || c.Storage.SKU != "Standard_LRS" || c.ResourceGroup.Name != "" {
		t.Errorf("defaults = %+v", c)
	}
}
