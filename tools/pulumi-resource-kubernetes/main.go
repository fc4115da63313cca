// Command pulumi-resource-kubernetes is the pinned Pulumi Kubernetes provider,
// built from the provider's Go module. The upstream main embeds generated files
// that the module zip lacks; `make tools` copies them here from the module
// directory (see the Makefile) before building.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var mapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, mapping)
}
