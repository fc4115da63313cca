package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/spf13/cobra"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/backend"
	"github.com/containercraft/konductor-action/runner/config"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/runner/mask"
	"github.com/containercraft/konductor-action/runner/report"
	"github.com/containercraft/konductor-action/runner/result"
)

// opFlags are an operation's flags: one stack, several (--stack repeated)
// or every stack (--all), run side by side up to --parallel at once.
type opFlags struct {
	stackFlags
	stacks   []string
	all      bool
	parallel int
	asJSON   bool
}

func (f *opFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&f.stacks, "stack", "s", nil, "stack name (Pulumi.<stack>.yaml); repeat it to run several stacks")
	cmd.Flags().BoolVar(&f.all, "all", false, "every stack: each Pulumi.<stack>.yaml in --cwd")
	cmd.Flags().IntVar(&f.parallel, "parallel", runtime.NumCPU(), "how many stacks run at once")
	f.bindDir(cmd)
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the result as JSON instead of markdown (a list for several stacks)")
}

// names returns the stacks to run, in the order given (--all: by name).
func (f *opFlags) names() ([]string, error) {
	if st, err := os.Stat(f.cwd); err != nil || !st.IsDir() {
		return nil, usageError{fmt.Errorf("--cwd %s: not a directory", f.cwd)}
	}
	if f.parallel < 1 {
		return nil, usageError{fmt.Errorf("--parallel %d: must be at least 1", f.parallel)}
	}
	switch {
	case f.all && len(f.stacks) > 0:
		return nil, usageError{errors.New("--all and --stack: use one")}
	case f.all:
		names, err := config.ListStacks(f.cwd)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, usageError{fmt.Errorf("--all: no Pulumi.<stack>.yaml in %s", f.cwd)}
		}
		return names, nil
	case len(f.stacks) == 0:
		return nil, usageError{errors.New("--stack is required (or --all)")}
	}
	seen := map[string]bool{}
	var names []string
	for _, s := range f.stacks {
		if s == "" {
			return nil, usageError{errors.New("--stack is required (or --all): got an empty name")}
		}
		if !seen[s] {
			seen[s] = true
			names = append(names, s)
		}
	}
	return names, nil
}

var opHelp = map[result.Operation]string{
	result.Preview: "Preview the stacks' changes and print them as markdown",
	result.Up:      "Deploy the stacks' enabled modules",
	result.Refresh: "Refresh the stacks' state from the real resources",
	result.Destroy: "Destroy every resource of the stacks",
}

func newOpCmd(g *globals, op result.Operation) *cobra.Command {
	var f opFlags
	cmd := &cobra.Command{
		Use:   string(op),
		Short: opHelp[op],
		Long: opHelp[op] + `.

Several stacks (--stack repeated, or --all) run side by side, at most
--parallel at once; their reports print in the order given, whatever order
they finish in. With --verbose each line of the engine's progress is
prefixed with its stack. Exit codes: 2 when any stack's configuration is
invalid (nothing runs), 1 when any stack failed or was blocked by policy.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names, err := f.names()
			if err != nil {
				return err
			}
			return runOp(cmd.Context(), g, op, f, names)
		},
	}
	f.bind(cmd)
	return cmd
}

func runOp(ctx context.Context, g *globals, op result.Operation, f opFlags, names []string) error {
	// Validate every stack before starting anything heavy: bad input exits
	// 2 at once, and nothing runs.
	var invalid config.Errors
	for _, name := range names {
		sf := f.stackFlags
		sf.stack = name
		if _, err := sf.load(g.reg); err != nil {
			var ce config.Errors
			if !errors.As(err, &ce) {
				return err
			}
			invalid = append(invalid, ce...)
		}
	}
	if len(invalid) > 0 {
		return invalid
	}
	// The backend and its secrets provider, checked as the action does:
	// a missing passphrase or token exits 2 before the engine starts.
	b, err := backend.Resolve(f.cwd, os.Getenv)
	if err != nil {
		return err
	}
	g.log.Info("state backend", "backend", b.String())
	for _, name := range names {
		if err := runner.Preflight(os.Getenv, b, f.cwd, name); err != nil {
			return err
		}
	}
	eng, err := engine.New(engine.Options{Log: g.log})
	if err != nil {
		return err
	}
	r := newRunner(eng, g)
	results := make([]*result.Result, len(names))
	errs := make([]error, len(names))
	var stderrMu sync.Mutex
	runner.Each(ctx, f.parallel, len(names), func(i int) {
		name := names[i]
		var progress io.Writer
		if g.verbose {
			progress = g.stderr
			if len(names) > 1 {
				progress = &prefixWriter{w: g.stderr, mu: &stderrMu, prefix: "[" + name + "] "}
			}
		}
		results[i], errs[i] = runStack(ctx, r, op, f, name, progress)
		if pw, ok := progress.(*prefixWriter); ok {
			pw.flush()
		}
	}, func(i int, err error) {
		errs[i] = fmt.Errorf("cancelled before it started: %w", err)
	})

	if len(names) == 1 && errs[0] != nil {
		return errs[0]
	}
	failed := false
	var printed []*result.Result
	for i, res := range results {
		if errs[i] != nil {
			fmt.Fprintf(g.stderr, "konductor: stack %s: %v\n", names[i], errs[i])
			failed = true
			continue
		}
		failed = failed || res.Status != result.Succeeded
		printed = append(printed, res)
	}
	if f.asJSON {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		var v any = printed
		if len(names) == 1 {
			v = printed[0]
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	} else {
		for i, res := range printed {
			if i > 0 {
				fmt.Fprintln(g.stdout)
			}
			fmt.Fprint(g.stdout, report.Markdown(res, report.Options{FullDiffAt: fmt.Sprintf("`konductor %s --stack %s --json`", op, res.Stack)}))
		}
	}
	if failed {
		return errSilent
	}
	return nil
}

// runStack runs one stack and masks its result with the stack's decrypted
// config secrets: what we print may be pasted into a PR.
func runStack(ctx context.Context, r *runner.Runner, op result.Operation, f opFlags, name string, progress io.Writer) (*result.Result, error) {
	res, err := r.Run(ctx, runner.Request{Operation: op, Dir: f.cwd, Stack: name, SettingsFile: f.configFile, Progress: progress})
	if err != nil {
		return nil, err
	}
	secrets, err := r.Secrets(ctx, f.cwd, name)
	if err != nil {
		return nil, fmt.Errorf("reading secrets to mask: %w", err)
	}
	return mask.New(secrets...).Result(res), nil
}

// prefixWriter writes whole lines to w, each with prefix, so stacks running
// side by side stay readable on one stderr.
type prefixWriter struct {
	w      io.Writer
	mu     *sync.Mutex // w's, shared by the stacks
	prefix string
	bufMu  sync.Mutex // the engine writes progress and errors concurrently
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.bufMu.Lock()
	defer p.bufMu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		p.line(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
}

func (p *prefixWriter) flush() {
	p.bufMu.Lock()
	defer p.bufMu.Unlock()
	if len(p.buf) > 0 {
		p.line(append(p.buf, '\n'))
		p.buf = nil
	}
}

func (p *prefixWriter) line(l []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = io.WriteString(p.w, p.prefix+string(l))
}
