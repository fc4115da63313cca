// Command stashpack is a user policy pack for tests: rules on Stash
// resources, which need no provider plugin.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

func input(args policyx.ResourceValidationArgs) string {
	v, ok := args.Resource.Properties.GetOk("input")
	if !ok || !v.IsString() {
		return ""
	}
	return v.AsString()
}

func main() {
	err := policyx.Main(func(*pulumi.Context) (policyx.PolicyPack, error) {
		return policyx.NewPolicyPack("stashpack", semver.MustParse("1.0.0"), policyx.EnforcementLevelAdvisory, []policyx.Policy{
			policyx.NewResourceValidationPolicy("stash-no-forbidden", policyx.ResourceValidationPolicyArgs{
				Description:      "Stash values may not be 'forbidden'.",
				EnforcementLevel: policyx.EnforcementLevelMandatory,
				ValidateResource: func(_ context.Context, args policyx.ResourceValidationArgs) error {
					if args.Resource.Type == "pulumi:index:Stash" && input(args) == "forbidden" {
						args.Manager.ReportViolation("value is forbidden; remediation: pick another value", "")
					}
					return nil
				},
			}),
			policyx.NewResourceValidationPolicy("stash-no-todo", policyx.ResourceValidationPolicyArgs{
				Description:      "Stash values should not contain 'todo'.",
				EnforcementLevel: policyx.EnforcementLevelAdvisory,
				ValidateResource: func(_ context.Context, args policyx.ResourceValidationArgs) error {
					if args.Resource.Type == "pulumi:index:Stash" && strings.Contains(input(args), "todo") {
						args.Manager.ReportViolation(fmt.Sprintf("value %q has a todo; remediation: finish it", input(args)), "")
					}
					return nil
				},
			}),
		})
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
