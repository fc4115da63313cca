// Package cli is konductor's command line: flags, logging, and the one place
// where errors become exit codes.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/builtin"
	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/policy"
	"github.com/containercraft/konductor-action/runner/result"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFailed   = 1 // the operation failed or a mandatory policy blocked it
	ExitBadInput = 2 // configuration or flags are wrong; nothing ran
)

// errSilent means the outcome was already reported; exit 1 quietly.
var errSilent = errors.New("operation failed")

// usageError marks flag and argument mistakes.
type usageError struct{ error }

type globals struct {
	verbose   bool
	logFormat string
	stdout    io.Writer
	stderr    io.Writer
	log       *slog.Logger
	// reg is the modules this binary knows: the built-in ones and those a
	// custom build adds (konductor.Main).
	reg *modules.Registry
}

// Main runs the CLI and returns the process exit code. extra are modules a
// custom build adds to the built-in ones.
func Main(args []string, stdout, stderr io.Writer, extra ...modules.Module) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reg, err := builtin.Registry().With(extra...)
	if err != nil {
		// The build is wrong, not the input: `konductor build` runs the
		// binary once, so a team sees this before shipping it.
		fmt.Fprintf(stderr, "konductor: this build's modules: %v\n", err)
		return ExitFailed
	}
	g := &globals{stdout: stdout, stderr: stderr, reg: reg}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return exitCode(root.ExecuteContext(ctx), stderr)
}

// exitCode is the only place errors become exit codes.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, errSilent) {
		return ExitFailed
	}
	var ce config.Errors
	if errors.As(err, &ce) {
		fmt.Fprintf(stderr, "konductor: invalid configuration (nothing was run):\n%s\n", indent(ce.Error()))
		return ExitBadInput
	}
	if errors.Is(err, action.ErrBadInput) {
		fmt.Fprintf(stderr, "konductor: %v\n", err)
		return ExitBadInput
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "konductor: %v\n", ue.error)
		return ExitBadInput
	}
	fmt.Fprintf(stderr, "konductor: %v\n", err)
	return ExitFailed
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "konductor",
		Short:         "Preview and deploy Pulumi platform modules from stack config",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.setupLog(); err != nil {
				return err
			}
			g.log.Debug(versionLine())
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "debug logging")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	for _, op := range []result.Operation{result.Preview, result.Up, result.Refresh, result.Destroy} {
		root.AddCommand(newOpCmd(g, op))
	}
	root.AddCommand(newValidateCmd(g), newModulesCmd(g), newPoliciesCmd(g), newActionCmd(g), newPlanCmd(g), newVersionCmd(g), newCancelCmd(g))
	root.AddCommand(newBuildCmd(g))
	root.AddCommand(newInitCmd(g), newSchemaCmd(g))
	return root
}

func (g *globals) setupLog() error {
	level := slog.LevelWarn
	if g.verbose {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		g.log = slog.New(slog.NewTextHandler(g.stderr, hopts))
	case "json":
		g.log = slog.New(slog.NewJSONHandler(g.stderr, hopts))
	default:
		return usageError{fmt.Errorf("--log-format: %q is not text or json", g.logFormat)}
	}
	return nil
}

type stackFlags struct {
	stack      string
	cwd        string
	configFile string
}

func (f *stackFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.stack, "stack", "s", "", "stack name (Pulumi.<stack>.yaml)")
	f.bindDir(cmd)
}

// bindDir defines --cwd and --config-file, the same for every command.
func (f *stackFlags) bindDir(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.cwd, "cwd", ".", "directory holding Pulumi.yaml")
	cmd.Flags().StringVar(&f.configFile, "config-file", "", "konductor.yaml to use (default: the one in --cwd)")
}

// load validates the stack's configuration against reg's modules.
func (f *stackFlags) load(reg *modules.Registry) (*config.Stack, error) {
	return config.LoadWithSettings(f.cwd, f.stack, reg, f.configFile)
}

func (f *stackFlags) check() error {
	if f.stack == "" {
		return usageError{errors.New("--stack is required")}
	}
	if st, err := os.Stat(f.cwd); err != nil || !st.IsDir() {
		return usageError{fmt.Errorf("--cwd %s: not a directory", f.cwd)}
	}
	return nil
}

// newRunner is the runner every command uses: this build's modules and the
// baseline policy pack shipped next to the binary.
func newRunner(eng *engine.Engine, g *globals) *runner.Runner {
	return &runner.Runner{Registry: g.reg, Engine: eng,
		Policy: policy.Options{Baseline: policy.DefaultBaseline(os.Getenv)}}
}

func newValidateCmd(g *globals) *cobra.Command {
	var f stackFlags
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a stack's configuration without running anything",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			st, err := f.load(g.reg)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: stack %s is valid; enabled modules: %s\n", st.File, st.Name, strings.Join(st.ModuleNames(), ", "))
			return nil
		},
	}
	f.bind(cmd)
	return cmd
}

func newModulesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "modules",
		Short: "List the modules with their config fields and defaults",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg := g.reg
			for _, name := range reg.Names() {
				m, _ := reg.Get(name)
				printModule(g.stdout, m)
			}
			return nil
		},
	}
}

func printModule(w io.Writer, m modules.Module) {
	fmt.Fprintf(w, "%s — %s\n", m.Name(), m.Description())
	if deps := m.DependsOn(); len(deps) > 0 {
		fmt.Fprintf(w, "  depends on: %s\n", strings.Join(deps, ", "))
	}
	fmt.Fprintf(w, "  %-36s %-20s %-24s %s\n", "field", "type", "default", "description")
	fmt.Fprintf(w, "  %-36s %-20s %-24s %s\n", "enabled", "bool", "false", "switch the module on")
	for _, f := range fields(m.NewConfig()) {
		fmt.Fprintf(w, "  %-36s %-20s %-24s %s\n", f.Path, f.Type, f.Default, f.Doc)
	}
	fmt.Fprintln(w)
}

// field describes one config field for listings and docs.
type field struct {
	Path, Type, Default, Doc string
}

// fields lists a config struct's fields (nested structs flattened with dots,
// list elements with []).
func fields(cfg any) []field {
	var out []field
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v = reflect.New(v.Type().Elem()).Elem()
				continue
			}
			v = v.Elem()
		}
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = strings.ToLower(sf.Name)
			}
			path := name
			if prefix != "" {
				path = prefix + "." + name
			}
			fv := v.Field(i)
			ft := sf.Type
			if ft.Kind() == reflect.Struct {
				walk(path, fv)
				continue
			}
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				out = append(out, field{Path: path, Type: "list", Default: "[]", Doc: sf.Tag.Get("doc")})
				walk(path+"[]", reflect.New(ft.Elem()).Elem())
				continue
			}
			typ := ft.Kind().String()
			if e := sf.Tag.Get("enum"); e != "" {
				typ = strings.ReplaceAll(e, ",", "|")
			}
			def := ""
			if !fv.IsZero() {
				b, _ := json.Marshal(fv.Interface())
				def = string(b)
			}
			out = append(out, field{Path: path, Type: typ, Default: def, Doc: sf.Tag.Get("doc")})
		}
	}
	walk("", reflect.ValueOf(cfg))
	return out
}
