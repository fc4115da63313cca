package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is konductor's version, set at build time
// (-ldflags "-X github.com/containercraft/konductor-action/cmd/konductor/cli.Version=v1.2.3";
// `make` and the image build pass `git describe`). Unset, it is the module
// version `go install` records, or "dev".
var Version = ""

// PulumiVersion is the pinned Pulumi CLI the build ships with, set the
// same way (the Makefile's PULUMI_VERSION).
var PulumiVersion = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// versionLine is what `konductor version` prints and every run logs first,
// as gh and actionlint do: the action's log is where users look first.
func versionLine() string {
	s := fmt.Sprintf("konductor %s (%s, %s/%s", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if PulumiVersion != "" {
		s += ", pulumi " + PulumiVersion
	}
	return s + ")"
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print konductor's version, the Go it was built with, and the pinned Pulumi CLI",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(g.stdout, versionLine())
			return err
		},
	}
}
