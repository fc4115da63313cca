package cli

import (
	"context"
	"io"

	"github.com/sethvargo/go-githubactions"
	"github.com/spf13/cobra"

	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/github"
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

// runAction builds the real dependencies from the environment.
func runAction(ctx context.Context, g *globals) error {
	return action.Run(ctx, action.Deps{
		Action: githubactions.New(githubactions.WithWriter(g.stdout)),
		Stdout: g.stdout,
		NewGitHub: func(token, apiURL string) (github.API, error) {
			return github.New(token, apiURL, github.WithLogger(g.log))
		},
		NewRunner: func(progress io.Writer) (action.Runner, error) {
			eng, err := engine.New(engine.Options{Log: g.log, Progress: progress})
			if err != nil {
				return nil, err
			}
			return newRunner(eng, g), nil
		},
	})
}
