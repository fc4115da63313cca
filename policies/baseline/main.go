// Command baseline is konductor's baseline policy pack (konductor-baseline):
// a policyx analyzer the Pulumi engine runs when the binary's absolute path
// is passed as a policy pack (optpreview.PolicyPacks / optup.PolicyPacks).
// Per-rule enforcement levels and properties come from a policy-pack config
// file (optpreview.PolicyPackConfigs), e.g.
//
//	{"aws-allowed-regions": {"enforcementLevel": "mandatory", "allowedRegions": ["eu-west-1"]}}
//
// The rules live in ../rules, the adapter in ../pack.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"

	"github.com/containercraft/konductor-action/policies/pack"
)

func main() {
	err := policyx.Main(func(*pulumi.Context) (policyx.PolicyPack, error) {
		return pack.New()
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
