package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/containercraft/konductor-action/policies/rules"
	"github.com/containercraft/konductor-action/runner/policy"
)

func newPoliciesCmd(g *globals) *cobra.Command {
	var f stackFlags
	cmd := &cobra.Command{
		Use:   "policies",
		Short: "List the policy packs and rules with their levels and config (for a stack with --stack)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var eff *policy.Settings
			if f.stack != "" {
				if err := f.check(); err != nil {
					return err
				}
				st, err := f.load(g.reg)
				if err != nil {
					return err
				}
				e := policy.Effective(st)
				eff = &e
			}
			w := g.stdout
			baseline := policy.DefaultBaseline(os.Getenv)
			if baseline == "" {
				baseline = "(not found next to konductor; set " + policy.EnvBaseline + ")"
			}
			fmt.Fprintf(w, "pack %s — %s\n", policy.BaselineName, baseline)
			if eff != nil && !eff.Baseline {
				fmt.Fprintln(w, "  switched off for this stack (policies.baseline: false)")
			}
			fmt.Fprintf(w, "  %-28s %-10s %-9s %s\n", "rule", "level", "provider", "config")
			for _, r := range rules.All() {
				level := string(r.Level)
				cfg := r.Defaults()
				if eff != nil {
					if set, ok := eff.Rules[r.Name]; ok {
						if set.Enforcement != "" {
							level = set.Enforcement + "*"
						}
						cfg = r.Config(set.Properties)
					}
				}
				fmt.Fprintf(w, "  %-28s %-10s %-9s %s\n", r.Name, level, r.Provider, configText(cfg))
				fmt.Fprintf(w, "  %-28s %s\n", "", r.Description)
			}
			if eff != nil {
				for _, p := range eff.Packs {
					fmt.Fprintf(w, "\npack %s — user pack\n", p)
				}
				fmt.Fprintln(w, "\n* set in konductor.yaml")
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&f.stack, "stack", "s", "", "show the levels and config in force for this stack")
	f.bindDir(cmd)
	return cmd
}

func configText(c rules.Config) string {
	if len(c) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	var parts []string
	slices.Sort(keys)
	for _, k := range keys {
		b, _ := json.Marshal(c[k])
		parts = append(parts, k+"="+string(b))
	}
	return strings.Join(parts, " ")
}
