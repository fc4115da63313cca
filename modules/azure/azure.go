// Package azure is the azure module (azure-native v2): an explicit Azure
// Native provider, a resource group and, optionally, a hardened storage
// account (HTTPS only, TLS 1.2, no public blob access) with private blob
// containers.
package azure

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/resources/v2"
	"github.com/pulumi/pulumi-azure-native-sdk/storage/v2"
	azurenative "github.com/pulumi/pulumi-azure-native-sdk/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/modules"
)

// Name is the module's config key.
const Name = "azure"

// Output keys.
const (
	OutputLocation           = "location"
	OutputResourceGroupName  = "resource_group_name"
	OutputStorageAccountName = "storage_account_name"
	OutputStorageAccountID   = "storage_account_id"
	OutputBlobEndpoint       = "blob_endpoint"
	OutputContainers         = "containers"
)

// Config is the module's section of stack config.
type Config struct {
	Location       string        `yaml:"location" doc:"Azure region short name (required), e.g. westeurope"`
	SubscriptionID string        `yaml:"subscription_id" doc:"subscription ID; empty: the credentials' default (ARM_SUBSCRIPTION_ID, az login)"`
	ResourceGroup  ResourceGroup `yaml:"resource_group" doc:"the module's resource group"`
	Storage        Storage       `yaml:"storage" doc:"storage account for state or artifacts"`
}

// ResourceGroup names the resource group every resource of the module is in.
type ResourceGroup struct {
	Name string `yaml:"name" doc:"resource group name; empty: konductor-<project>-<stack>"`
}

// Storage configures the storage account.
type Storage struct {
	Enabled     bool     `yaml:"enabled" doc:"create the storage account"`
	AccountName string   `yaml:"account_name" doc:"globally unique name, 3-24 lowercase letters and digits (required when enabled)"`
	SKU         string   `yaml:"sku" enum:"Standard_LRS,Standard_ZRS,Standard_GRS,Standard_RAGRS,Standard_GZRS,Standard_RAGZRS" doc:"replication SKU"`
	Containers  []string `yaml:"containers" doc:"private blob containers to create"`
}

// SKUs are the storage SKUs a StorageV2 account accepts for blobs.
var SKUs = []string{"Standard_LRS", "Standard_ZRS", "Standard_GRS", "Standard_RAGRS", "Standard_GZRS", "Standard_RAGZRS"}

// Module is the azure module.
var Module = modules.Define(modules.Spec[Config]{
	Name:        Name,
	Description: "Azure Native provider, resource group, hardened storage account with private containers",
	Defaults:    defaults,
	Validate:    validate,
	Deploy:      deploy,
})

func defaults() Config {
	return Config{Storage: Storage{Enabled: true, SKU: "Standard_LRS"}}
}

// secretValue is what an encrypted config value reads as during
// validation; its format is not checked.
const secretValue = modules.Secret

var (
	locationRE      = regexp.MustCompile(`^[a-z][a-z0-9]+$`)
	guidRE          = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	resourceGroupRE = regexp.MustCompile(`^[-\w.()]{1,90}$`)
	accountNameRE   = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	containerRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
)

func validate(c *Config) error {
	var errs []error
	fail := func(path, format string, args ...any) { errs = append(errs, modules.Errorf(path, format, args...)) }

	switch {
	case c.Location == "":
		fail("location", "required (e.g. westeurope)")
	case !locationRE.MatchString(c.Location):
		fail("location", "%q: use the region's short name, e.g. westeurope (az account list-locations -o table)", c.Location)
	}
	if s := c.SubscriptionID; s != "" && s != secretValue && !guidRE.MatchString(s) {
		fail("subscription_id", "%q is not a subscription ID (a GUID)", s)
	}
	if n := c.ResourceGroup.Name; n != "" && (!resourceGroupRE.MatchString(n) || strings.HasSuffix(n, ".")) {
		fail("resource_group.name", "%q: 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'", n)
	}
	s := c.Storage
	if s.Enabled {
		switch {
		case s.AccountName == "":
			fail("storage.account_name", "required when storage.enabled is true (3-24 lowercase letters and digits, globally unique)")
		case !accountNameRE.MatchString(s.AccountName):
			fail("storage.account_name", "%q: 3-24 lowercase letters and digits", s.AccountName)
		}
	}
	if !slices.Contains(SKUs, s.SKU) {
		fail("storage.sku", "%q is not one of %s", s.SKU, strings.Join(SKUs, ", "))
	}
	if len(s.Containers) > 0 && !s.Enabled {
		fail("storage.containers", "containers need storage.enabled: true")
	}
	seen := map[string]int{}
	for i, name := range s.Containers {
		path := fmt.Sprintf("storage.containers[%d]", i)
		if !containerRE.MatchString(name) || strings.Contains(name, "--") {
			fail(path, "%q: 3-63 lowercase letters, digits and single '-', starting and ending with a letter or digit", name)
			continue
		}
		if j, dup := seen[name]; dup {
			fail(path, "duplicate of storage.containers[%d]", j)
		}
		seen[name] = i
	}
	return errors.Join(errs...)
}

// resourceGroupName is the configured name or konductor-<project>-<stack>.
func resourceGroupName(c *Config, env modules.Env) string {
	if c.ResourceGroup.Name != "" {
		return c.ResourceGroup.Name
	}
	n := "konductor-" + env.Project + "-" + env.Stack
	n = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.()", r) {
			return r
		}
		return '-'
	}, n)
	if len(n) > 90 {
		n = n[:90]
	}
	return strings.TrimRight(n, ".")
}

func deploy(ctx *pulumi.Context, c *Config, env modules.Env) (modules.Outputs, error) {
	name := func(s string) string { return Name + "-" + s }

	pargs := &azurenative.ProviderArgs{Location: pulumi.String(c.Location)}
	if c.SubscriptionID != "" {
		pargs.SubscriptionId = pulumi.String(c.SubscriptionID)
	}
	prov, err := azurenative.NewProvider(ctx, Name, pargs, env.Options()...)
	if err != nil {
		return nil, err
	}
	opts := env.Options(pulumi.Provider(prov))

	rg, err := resources.NewResourceGroup(ctx, name("rg"), &resources.ResourceGroupArgs{
		ResourceGroupName: pulumi.String(resourceGroupName(c, env)),
		Location:          pulumi.String(c.Location),
	}, opts...)
	if err != nil {
		return nil, err
	}
	out := modules.Outputs{
		OutputLocation:          c.Location,
		OutputResourceGroupName: rg.Name,
	}
	if !c.Storage.Enabled {
		return out, nil
	}

	sa, err := storage.NewStorageAccount(ctx, name("storage"), &storage.StorageAccountArgs{
		AccountName:            pulumi.String(c.Storage.AccountName),
		ResourceGroupName:      rg.Name,
		Location:               pulumi.String(c.Location),
		Kind:                   storage.KindStorageV2,
		Sku:                    &storage.SkuArgs{Name: pulumi.String(c.Storage.SKU)},
		EnableHttpsTrafficOnly: pulumi.Bool(true),
		MinimumTlsVersion:      storage.MinimumTlsVersion_TLS1_2,
		AllowBlobPublicAccess:  pulumi.Bool(false),
	}, opts...)
	if err != nil {
		return nil, err
	}
	for _, cn := range c.Storage.Containers {
		if _, err := storage.NewBlobContainer(ctx, name("storage-"+cn), &storage.BlobContainerArgs{
			AccountName:       sa.Name,
			ResourceGroupName: rg.Name,
			ContainerName:     pulumi.String(cn),
			PublicAccess:      storage.PublicAccessNone,
		}, opts...); err != nil {
			return nil, err
		}
	}
	out[OutputStorageAccountName] = sa.Name
	out[OutputStorageAccountID] = sa.ID().ToStringOutput()
	out[OutputBlobEndpoint] = sa.PrimaryEndpoints.Blob()
	out[OutputContainers] = slices.Clone(c.Storage.Containers)
	return out, nil
}
