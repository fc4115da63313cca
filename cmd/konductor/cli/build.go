package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
)

// konductorModule is this module's path: what a custom build imports.
const konductorModule = "github.com/containercraft/konductor-action"

// EnvSource is where `konductor build` takes konductor from when --konductor
// is not given: a local checkout or a version.
const EnvSource = "KONDUCTOR_SOURCE"

// withModule is one --with: a Go module whose root package exports Module
// (a modules.Module), at a version or replaced by a local directory.
type withModule struct {
	path    string
	version string // empty: the latest (go mod tidy resolves it)
	dir     string // absolute; set for path=dir
}

// parseWith reads `path`, `path@version` or `path=dir`, as xcaddy's --with.
func parseWith(s string) (withModule, error) {
	if path, dir, ok := strings.Cut(s, "="); ok {
		if path == "" || dir == "" {
			return withModule{}, fmt.Errorf("--with %q: want <module path>=<local dir>", s)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return withModule{}, err
		}
		if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
			return withModule{}, fmt.Errorf("--with %s: %s holds no go.mod", s, dir)
		}
		return withModule{path: path, dir: abs}, nil
	}
	path, version, _ := strings.Cut(s, "@")
	if path == "" {
		return withModule{}, fmt.Errorf("--with %q: no module path (want <module path>[@version] or <module path>=<dir>)", s)
	}
	if strings.HasPrefix(path, ".") || filepath.IsAbs(path) {
		return withModule{}, fmt.Errorf("--with %s: a local directory needs its module path: --with <module path>=%s", s, path)
	}
	return withModule{path: path, version: version}, nil
}

// buildPlan is everything a custom build needs, resolved from the flags.
type buildPlan struct {
	goBin string
	out   string // absolute
	// konductor is a local checkout (dir) or a version of konductorModule.
	konductorDir, konductorVersion string
	with                           []withModule
	version, pulumiVersion         string
}

func newBuildCmd(g *globals) *cobra.Command {
	var withs []string
	var out, source string
	cmd := &cobra.Command{
		Use:   "build --with <module>[@version] [--with ...] [-o konductor]",
		Short: "Build a konductor binary with your own Go modules added, with the Go toolchain",
		Long: `Build a konductor binary with your own modules added to the built-in ones, as
xcaddy builds Caddy: a generated main calls konductor.Main with each --with
module's Module, and the Go toolchain (go on PATH) builds it.

  --with example.com/acme/web             the latest version
  --with example.com/acme/web@v1.2.0      that version
  --with example.com/acme/web=./web       a local directory (go mod edit -replace)

Each module's root package must export Module (a modules.Module). Konductor
itself is the version of this binary, or --konductor (or $KONDUCTOR_SOURCE):
a local checkout's directory, or a version. go downloads what is missing
through GOPROXY; with every module in the module cache or replaced by a
local directory it needs no network (GOPROXY=off). GOOS and GOARCH
cross-compile; CGO_ENABLED defaults to 0, a static binary like the image's.

See modules/README.md, "Creating a module".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := planBuild(withs, out, source, os.Getenv)
			if err != nil {
				return err
			}
			return runBuild(cmd.Context(), g, p)
		},
	}
	cmd.Flags().StringArrayVar(&withs, "with", nil, "a Go module to add: <path>[@version] or <path>=<local dir> (repeatable)")
	cmd.Flags().StringVarP(&out, "output", "o", "konductor", "the binary to write")
	cmd.Flags().StringVar(&source, "konductor", "", "konductor to build on: a local checkout's directory or a version (default: $"+EnvSource+", else this binary's version)")
	return cmd
}

// planBuild checks the flags and finds go; it runs nothing.
func planBuild(withs []string, out, source string, getenv func(string) string) (*buildPlan, error) {
	if len(withs) == 0 {
		return nil, usageError{errors.New("build: give at least one --with <module path>[@version] or --with <module path>=<dir>")}
	}
	if out == "" {
		return nil, usageError{errors.New("build: -o is empty")}
	}
	p := &buildPlan{version: version(), pulumiVersion: PulumiVersion}
	seen := map[string]bool{}
	for _, w := range withs {
		m, err := parseWith(w)
		if err != nil {
			return nil, usageError{err}
		}
		if m.path == konductorModule {
			return nil, usageError{fmt.Errorf("--with %s: that is konductor itself; use --konductor", w)}
		}
		if seen[m.path] {
			return nil, usageError{fmt.Errorf("--with %s: %s is given twice", w, m.path)}
		}
		seen[m.path] = true
		p.with = append(p.with, m)
	}
	if source == "" {
		source = getenv(EnvSource)
	}
	switch {
	case source == "" && (p.version == "dev" || !strings.HasPrefix(p.version, "v") || strings.Contains(p.version, "dirty")):
		return nil, usageError{fmt.Errorf("build: this konductor (%s) is not a released version: say which konductor to build on with --konductor <checkout dir|version> or $%s", p.version, EnvSource)}
	case source == "":
		p.konductorVersion = p.version
	case isDir(source):
		abs, err := filepath.Abs(source)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(abs, "konductor.go")); err != nil {
			return nil, usageError{fmt.Errorf("--konductor %s: not a konductor checkout (no konductor.go)", source)}
		}
		p.konductorDir = abs
	default:
		p.konductorVersion = strings.TrimPrefix(source, konductorModule+"@")
		p.version = p.konductorVersion
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	p.out = abs
	p.goBin, err = exec.LookPath("go")
	if err != nil {
		return nil, errors.New("build: go is not on PATH: konductor build needs the Go toolchain (https://go.dev/dl/)")
	}
	return p, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// mainGo is the generated program: konductor.Main with every module added.
func (p *buildPlan) mainGo() []byte {
	var b bytes.Buffer
	b.WriteString("// Code generated by konductor build. DO NOT EDIT.\n\npackage main\n\nimport (\n\t\"os\"\n\n")
	fmt.Fprintf(&b, "\tkonductor %q\n", konductorModule)
	for i, m := range p.with {
		fmt.Fprintf(&b, "\tm%d %q\n", i, m.path)
	}
	b.WriteString(")\n\nfunc main() {\n\tos.Exit(konductor.Main(os.Args[1:]")
	for i := range p.with {
		fmt.Fprintf(&b, ", m%d.Module", i)
	}
	b.WriteString("))\n}\n")
	return b.Bytes()
}

// goSum seeds the build's go.sum with the local modules' own: their hashes
// were checked when those modules were tidied, and with them a build from
// local sources needs neither the proxy nor the checksum database for what
// they already use.
func (p *buildPlan) goSum() []byte {
	dirs := []string{p.konductorDir}
	for _, m := range p.with {
		dirs = append(dirs, m.dir)
	}
	seen := map[string]bool{}
	var b bytes.Buffer
	for _, d := range dirs {
		if d == "" {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(d, "go.sum"))
		for line := range strings.Lines(string(data)) {
			if !seen[line] {
				seen[line] = true
				b.WriteString(line)
			}
		}
	}
	return b.Bytes()
}

// steps are the go commands of the build, run in order in the build dir.
func (p *buildPlan) steps() [][]string {
	// Local directories are replaces (require v0.0.0, as go does for a
	// replaced path); versions go through go get, which also takes queries
	// (v1, latest) and a path alone (the latest).
	edit := []string{"mod", "edit"}
	get := []string{"get"}
	if p.konductorDir != "" {
		edit = append(edit, "-require", konductorModule+"@v0.0.0", "-replace", konductorModule+"="+p.konductorDir)
	} else {
		get = append(get, konductorModule+"@"+p.konductorVersion)
	}
	for _, m := range p.with {
		switch {
		case m.dir != "":
			edit = append(edit, "-require", m.path+"@v0.0.0", "-replace", m.path+"="+m.dir)
		case m.version != "":
			get = append(get, m.path+"@"+m.version)
		default:
			get = append(get, m.path)
		}
	}
	ldflags := "-X " + konductorModule + "/cmd/konductor/cli.Version=" + p.version
	if p.pulumiVersion != "" {
		ldflags += " -X " + konductorModule + "/cmd/konductor/cli.PulumiVersion=" + p.pulumiVersion
	}
	steps := [][]string{{"mod", "init", "konductor-custom"}}
	if len(edit) > 2 {
		steps = append(steps, edit)
	}
	if len(get) > 1 {
		steps = append(steps, get)
	}
	return append(steps, []string{"mod", "tidy"}, []string{"build", "-ldflags", ldflags, "-o", p.out, "."})
}

// runBuild writes the build dir, runs the go commands and checks that the
// binary starts. A failed build keeps its dir and says where.
func runBuild(ctx context.Context, g *globals, p *buildPlan) (err error) {
	dir, err := os.MkdirTemp("", "konductor-build-")
	if err != nil {
		return err
	}
	defer func() {
		if err == nil {
			os.RemoveAll(dir)
		} else {
			err = fmt.Errorf("%w\n(the build dir %s is kept for a look)", err, dir)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), p.mainGo(), 0o644); err != nil {
		return err
	}
	if sum := p.goSum(); len(sum) > 0 {
		if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
			return err
		}
	}
	env := append(os.Environ(), "GOWORK=off")
	if os.Getenv("CGO_ENABLED") == "" {
		env = append(env, "CGO_ENABLED=0")
	}
	for _, args := range p.steps() {
		fmt.Fprintf(g.stderr, "konductor build: go %s\n", strings.Join(args, " "))
		c := exec.CommandContext(ctx, p.goBin, args...)
		c.Dir, c.Env, c.Stdout, c.Stderr = dir, env, g.stderr, g.stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("build: go %s: %w", args[0]+" "+args[1], err)
		}
	}
	// A module whose name is taken or invalid fails at start: say so now,
	// not in the team's first workflow run. A cross-compiled binary cannot
	// run here.
	if (os.Getenv("GOOS") == "" || os.Getenv("GOOS") == runtime.GOOS) && (os.Getenv("GOARCH") == "" || os.Getenv("GOARCH") == runtime.GOARCH) {
		c := exec.CommandContext(ctx, p.out, "modules")
		var stderr bytes.Buffer
		c.Stdout, c.Stderr = nil, &stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("build: %s does not start: %v\n%s", p.out, err, stderr.String())
		}
	}
	fmt.Fprintf(g.stdout, "built %s (konductor %s, with %s)\n", p.out, p.version, strings.Join(p.withNames(), ", "))
	return nil
}

func (p *buildPlan) withNames() []string {
	out := make([]string, len(p.with))
	for i, m := range p.with {
		out[i] = m.path
	}
	return out
}
