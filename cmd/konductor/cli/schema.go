package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/containercraft/konductor-action/runner/config"
)

// Where `konductor init` puts the schemas and what its files' modelines
// name. A committed file beside the config works offline and in every
// editor, and matches the konductor that wrote it; `konductor schema -o`
// regenerates it after an upgrade.
const (
	SchemaDir          = ".schema"
	StackSchemaFile    = SchemaDir + "/stack.json"
	SettingsSchemaFile = SchemaDir + "/konductor.json"
)

// schemaModeline is the YAML language server's comment naming file's
// schema, relative to the YAML file (init writes both in the repository
// root).
func schemaModeline(file string) string {
	return "# yaml-language-server: $schema=" + file + "\n"
}

func schemaJSON(s map[string]any) ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func newSchemaCmd(g *globals) *cobra.Command {
	var (
		stackFile, settings bool
		project, cwd, out   string
	)
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema (draft-07) of the stack files or of konductor.yaml, for editors",
		Long: `Print the JSON Schema (draft-07) of the stack files' config (--stack-file, the
default: every module's fields with types, defaults, enums and descriptions, for
the project of --cwd's Pulumi.yaml or --project) or of konductor.yaml
(--settings). -o writes it to a file; konductor init writes both under ` + SchemaDir + `/.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stackFile && settings {
				return usageError{errors.New("--stack-file and --settings: give one")}
			}
			var s map[string]any
			if settings {
				s = config.SettingsSchema()
			} else {
				if project == "" {
					p, err := config.ProjectName(cwd)
					if err != nil {
						return usageError{fmt.Errorf("the stack file schema is the project's (its modules sit under <project>:): give --project or a --cwd holding Pulumi.yaml: %v", err)}
					}
					project = p
				}
				if !config.ValidProjectName(project) {
					return usageError{fmt.Errorf("--project %q: %s", project, projectNameRule)}
				}
				s = config.StackSchema(g.reg, project)
			}
			b, err := schemaJSON(s)
			if err != nil {
				return err
			}
			if out == "" {
				_, err = g.stdout.Write(b)
				return err
			}
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			return os.WriteFile(out, b, 0o644)
		},
	}
	cmd.Flags().BoolVar(&stackFile, "stack-file", false, "the schema of Pulumi.<stack>.yaml (the default)")
	cmd.Flags().BoolVar(&settings, "settings", false, "the schema of konductor.yaml")
	cmd.Flags().StringVar(&project, "project", "", "project name (default: from --cwd's Pulumi.yaml)")
	cmd.Flags().StringVar(&cwd, "cwd", ".", "directory holding Pulumi.yaml")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of stdout")
	return cmd
}
