// Command slowpack is a policy pack for the cancellation test: it holds the
// engine inside a deploy so the test can send SIGTERM while two stacks are
// mid-update. Per stack it counts the engine runs that load it in
// $SLOWPACK_DIR/<stack>.runs; on the second (the deploy that follows the
// policy preview of an up) it writes <stack>.waiting and blocks until the
// engine goes away. Every other run passes straight through.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/policyx"
)

func main() {
	var once sync.Once
	var hold bool
	err := policyx.Main(func(*pulumi.Context) (policyx.PolicyPack, error) {
		return policyx.NewPolicyPack("slowpack", semver.MustParse("0.0.1"), policyx.EnforcementLevelAdvisory, []policyx.Policy{
			policyx.NewResourceValidationPolicy("hold-deploy", policyx.ResourceValidationPolicyArgs{
				Description:      "holds the second run per stack",
				EnforcementLevel: policyx.EnforcementLevelAdvisory,
				ValidateResource: func(ctx context.Context, args policyx.ResourceValidationArgs) error {
					once.Do(func() { hold = count(args.Resource.URN) == 2 })
					if hold {
						<-ctx.Done()
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

// count records one more run for the URN's stack and returns the total; on
// the second it also writes <stack>.waiting.
func count(urn string) int {
	dir := os.Getenv("SLOWPACK_DIR")
	parts := strings.Split(urn, "::") // urn:pulumi:<stack>::<project>::…
	stack := strings.TrimPrefix(parts[0], "urn:pulumi:")
	f, err := os.OpenFile(filepath.Join(dir, stack+".runs"), os.O_APPEND|os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return 0
	}
	defer f.Close()
	_, _ = f.WriteString("run\n")
	b, _ := os.ReadFile(f.Name())
	n := strings.Count(string(b), "\n")
	if n == 2 {
		_ = os.WriteFile(filepath.Join(dir, stack+".waiting"), nil, 0o644)
	}
	return n
}
