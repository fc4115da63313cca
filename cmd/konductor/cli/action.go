package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"

	"github.com/sethvargo/go-githubactions"
	"github.com/spf13/cobra"

	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/runner/mask"
)

func newActionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "action",
		Short: "Run as the GitHub Action: inputs from INPUT_*, context from GITHUB_*",
		Long: `Run as the GitHub Action step. Everything comes from the environment, as
GitHub passes it to a container action: the inputs as INPUT_<NAME> (for
example INPUT_GITHUB-TOKEN, INPUT_COMMAND, INPUT_WORK-DIR) and the context as
GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_SHA,
GITHUB_REF, GITHUB_API_URL, GITHUB_STEP_SUMMARY and GITHUB_OUTPUT.

Exit codes: 0 ok (including nothing to do), 1 a stack failed or a mandatory
policy violation failed the run, 2 bad input or configuration.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAction(cmd.Context(), g) },
	}
}

// runAction builds the real dependencies from the environment. Its slog
// log (engine and GitHub client) goes through the run's masker too: as
// workflow commands on the step's log, or, with --log-format json, as JSON
// on stderr.
func runAction(ctx context.Context, g *globals) error {
	masker := mask.New()
	var afterMasks func()
	if g.logFormat == "json" {
		stderr := masker.Writer(g.stderr)
		defer stderr.Flush()
		g.stderr = stderr
		if err := g.setupLog(); err != nil {
			return err
		}
	} else {
		logOut := masker.Writer(g.stdout)
		held := action.Hold(logOut)
		defer logOut.Flush()
		defer held.Release()
		afterMasks = held.Release
		g.log = slog.New(action.NewLogHandler(githubactions.New(githubactions.WithWriter(held))))
	}
	return action.Run(ctx, action.Deps{
		Version:    versionLine(),
		Mask:       masker,
		AfterMasks: afterMasks,
		Action:     githubactions.New(githubactions.WithWriter(g.stdout)),
		Stdout:     g.stdout,
		NewGitHub:  g.newGitHub,
		NewRunner: func(progress io.Writer) (action.Runner, error) {
			eng, err := engine.New(engine.Options{Log: g.log, Progress: progress})
			if err != nil {
				return nil, err
			}
			return newRunner(eng, g), nil
		},
	})
}

// newGitHub is the GitHub client of the action and plan commands.
func (g *globals) newGitHub(token, apiURL string) (action.GitHub, error) {
	return github.New(token, apiURL, github.WithLogger(g.log))
}

func newPlanCmd(g *globals) *cobra.Command {
	var matrix bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print the plan for the workflow's event as JSON: stacks, operation, why, affected paths",
		Long: `Print what ` + "`konductor action`" + ` would run for the workflow's event, as JSON, and
run nothing. It reads the same environment as the action: the context
(GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_WORKSPACE,
GITHUB_API_URL; a pull request's changed files come from the GitHub API) and
the inputs (INPUT_COMMAND, INPUT_STACKS, INPUT_WORK-DIR, INPUT_CONFIG-FILE,
INPUT_ALLOW-FORK-PREVIEWS, INPUT_GITHUB-TOKEN or GITHUB_TOKEN).

--matrix prints one line shaped for a job matrix,
{"include":[{"stack":"dev","operation":"preview","reason":"..."}]}, for
strategy.matrix: ${{ fromJSON(needs.plan.outputs.matrix) }} with one job per
stack running the action with stacks: ${{ matrix.stack }}. The action's
command: plan writes the same JSON to its matrix output.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := action.Plan(cmd.Context(), action.Deps{
				Action:    githubactions.New(githubactions.WithWriter(io.Discard)),
				NewGitHub: g.newGitHub,
			})
			if err != nil {
				return err
			}
			enc := json.NewEncoder(g.stdout)
			if matrix {
				return enc.Encode(p.Matrix())
			}
			enc.SetIndent("", "  ")
			return enc.Encode(p)
		},
	}
	cmd.Flags().BoolVar(&matrix, "matrix", false, "print the GitHub Actions job matrix (one line) instead of the plan")
	return cmd
}
