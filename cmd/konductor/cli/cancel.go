package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/backend"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/lock"
	"github.com/containercraft/konductor-action/runner/mask"
)

func newCancelCmd(g *globals) *cobra.Command {
	var f stackFlags
	var olderThan string
	var asJSON, clearCreates bool
	cmd := &cobra.Command{
		Use:   "cancel",
		Short: "Clear a stack an interrupted update left locked, and resolve what it left pending",
		Long: `Clear a stack that a killed or interrupted update left locked.

On a self-managed backend (file://, s3://, azblob://, gs://) it removes each
of the stack's locks at least --older-than old and keeps a younger one, whose
update may still be running (then it exits 1 and says whose lock it is). On
Pulumi Cloud it cancels the update in progress (pulumi cancel) unless it began
less than --older-than ago. Then it reads the operations the interrupted
update left pending and, if there are any, runs a refresh that resolves them
as Pulumi does: updates and deletes are read back from the provider. A
pending create of a Kubernetes object (whose ID is its name) is checked the
same way: recorded in the state, it is kept if the refresh finds it and
dropped if not. Other pending creates are listed for a person, since only
the provider knows whether it made them; once checked, --clear-pending-creates
drops them.

Exit codes: 0 the stack is free with nothing pending (also when it was not
locked); 1 a lock was kept, or operations are still pending, or the refresh
failed; 2 bad input (no such stack, a bad --older-than).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			d, err := lock.ParseAge(olderThan)
			if err != nil {
				return usageError{fmt.Errorf("--older-than: %w", err)}
			}
			// An unknown stack or invalid config exits 2 before the engine
			// starts, as the operations do.
			if _, err := f.load(g.reg); err != nil {
				return err
			}
			b, err := backend.Resolve(f.cwd, os.Getenv)
			if err != nil {
				return err
			}
			g.log.Info("state backend", "backend", b.String())
			if err := runner.Preflight(os.Getenv, b, f.cwd, f.stack); err != nil {
				return err
			}
			eng, err := engine.New(engine.Options{Log: g.log})
			if err != nil {
				return err
			}
			r := newRunner(eng, g)
			var progress io.Writer
			if g.verbose {
				progress = g.stderr
			}
			ctx := cmd.Context()
			rep, err := r.Cancel(ctx, runner.CancelRequest{Dir: f.cwd, Stack: f.stack, SettingsFile: f.configFile, OlderThan: d, Progress: progress,
				ClearPendingCreates: clearCreates})
			if err != nil {
				return err
			}
			// A refresh error may quote config: mask it as a report is.
			secrets, _ := r.Secrets(ctx, f.cwd, f.stack)
			m := mask.New(secrets...)
			if asJSON {
				out, err := json.MarshalIndent(rep, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, m.String(string(out)))
			} else {
				fmt.Fprint(g.stdout, m.String(rep.Markdown()))
			}
			if !rep.OK() {
				return errSilent
			}
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&olderThan, "older-than", lock.Ago(lock.DefaultStaleAfter),
		"remove only locks at least this old (30m, 1h, 2d; 0s: any lock, once you know its run is gone)")
	cmd.Flags().BoolVar(&clearCreates, "clear-pending-creates", false,
		"also drop pending creates konductor cannot check (not Kubernetes objects), once you checked the provider made none")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
