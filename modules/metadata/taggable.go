package metadata

import "maps"

// cloudTypes lists every AWS and Azure resource type konductor's modules
// create, and whether it takes tags (its args struct in the provider SDK
// has a Tags field). Only the listed taggable types get tags: setting
// `tags` on a type without them fails at preview.
//
// The list cannot rot silently: each cloud module's tests run the module
// under mocks, require every type it registers to be listed here, and check
// each entry against the SDK's args struct by reflection. A module that
// starts creating a new type fails its tests until the type is added.
var cloudTypes = map[string]bool{
	// aws (modules/aws)
	"aws:kms/key:Key":                              true,
	"aws:kms/alias:Alias":                          false,
	"aws:s3/bucketV2:BucketV2":                     true,
	"aws:s3/bucketVersioningV2:BucketVersioningV2": false,
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": false,
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":                                     false,
	"aws:s3/bucketPolicy:BucketPolicy":                                                           false,
	"aws:iam/openIdConnectProvider:OpenIdConnectProvider":                                        true,
	"aws:iam/role:Role":                                 true,
	"aws:iam/rolePolicy:RolePolicy":                     false,
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment": false,
	// azure-native v2 (modules/azure)
	"azure-native:resources:ResourceGroup": true,
	"azure-native:storage:StorageAccount":  true,
	"azure-native:storage:BlobContainer":   false,
}

// TakesTags reports whether resources of the type token typ take tags.
// Types no konductor module creates report false.
func TakesTags(typ string) bool { return cloudTypes[typ] }

// CloudTypes returns a copy of the known cloud types and whether each takes
// tags, for the modules' tests.
func CloudTypes() map[string]bool { return maps.Clone(cloudTypes) }
