// Command bare is the floor the runner-overhead benchmark (P1) compares
// `konductor preview` with: the same inline program (the stack's enabled
// modules with their metadata) previewed through the Automation API with the
// same CLI, backend and baseline policy pack, and nothing else: no policy
// config, no typed result, no report, no secrets pass, no file restore.
//
//	bare <work dir> <stack> <baseline pack>
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/containercraft/konductor-action/modules/builtin"
	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/program"
)

func main() {
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(dir, stack, baseline string) error {
	ctx := context.Background()
	st, err := config.Load(dir, stack, builtin.Registry())
	if err != nil {
		return err
	}
	facts := metadata.Facts{Project: st.Project, Stack: st.Name, Git: metadata.GitFromEnv(os.Getenv, st.Dir),
		Compliance: st.Compliance, Labels: st.Labels}
	prog := program.Build(st, program.Options{
		ComponentOptions: func(module string) []pulumi.ResourceOption { return metadata.Options(facts, module) },
	})
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: os.Getenv("KONDUCTOR_PULUMI_ROOT"), SkipVersionCheck: true})
	if err != nil {
		return err
	}
	env := map[string]string{
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PATH": os.Getenv("KONDUCTOR_PLUGIN_PATH") + string(filepath.ListSeparator) + os.Getenv("PATH"),
	}
	s, err := auto.UpsertStackInlineSource(ctx, stack, st.Project, prog, auto.Pulumi(cmd), auto.WorkDir(dir), auto.EnvVars(env))
	if err != nil {
		return err
	}
	// The engine streams events either way; drain them as konductor does.
	ch := make(chan events.EngineEvent)
	go func() {
		for range ch {
		}
	}()
	_, err = s.Preview(ctx, optpreview.PolicyPacks(baseline), optpreview.EventStreams(ch), optpreview.Color("never"),
		optpreview.ProgressStreams(io.Discard))
	return err
}
