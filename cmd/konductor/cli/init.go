package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/containercraft/konductor-action/examples/workflows"
	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/runner/config"
)

const projectNameRule = "a project name is letters, digits, '-', '_' and '.', at most 100"

// WorkflowFile is where init writes the example workflow.
const WorkflowFile = ".github/workflows/konductor.yml"

// starter is a field init sets (value is YAML) instead of leaving it at its default, so
// that the stack validates and previews as written: a module whose
// defaults need a value (a region) or a cluster (render mode needs none).
type starter struct{ key, value, why string }

func starters(stack string) map[string][]starter {
	return map[string][]starter{
		"kubernetes": {{"render_dir", ".konductor/manifests/" + stack,
			"render mode: manifests are written here, no cluster needed; for a cluster remove it and set kubeconfig/context"}},
		"aws": {{"region", "us-east-1", "the provider's region (required)"}},
		"azure": {{"location", "westeurope", "the resource group's region (required)"},
			{"storage", "{enabled: false}", "the storage account needs a globally unique account_name: set it, then enabled: true (konductor modules lists storage's fields)"}},
	}
}

// actionRefRE is the action reference of the example workflow, as `make
// lint` rewrites it.
var actionRefRE = regexp.MustCompile(`containercraft/konductor-action@v[0-9.]+`)

// releaseRE is a released konductor's version; a development build keeps
// the example's reference.
var releaseRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

type initFlags struct {
	dir, project, stack string
	modules             []string
}

func newInitCmd(g *globals) *cobra.Command {
	var f initFlags
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write what a new platform repository needs: Pulumi.yaml, a stack file, konductor.yaml, the workflow, the schemas",
		Long: `Write Pulumi.yaml, Pulumi.<stack>.yaml with each chosen module enabled and its
fields at their defaults (commented), konductor.yaml, ` + WorkflowFile + `
(the example workflow) and the JSON Schemas editors validate the YAML with
(` + StackSchemaFile + `, ` + SettingsSchemaFile + `). A module's dependencies are
added. Nothing is overwritten: if any of the files exists, none is written.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runInit(g, f) },
	}
	cmd.Flags().StringVar(&f.dir, "dir", ".", "directory to initialise (created if missing)")
	cmd.Flags().StringVar(&f.project, "project", "", "Pulumi project name (default: the directory's name)")
	cmd.Flags().StringVarP(&f.stack, "stack", "s", "dev", "the first stack")
	cmd.Flags().StringSliceVar(&f.modules, "modules", []string{"kubernetes"}, "modules to enable, comma separated (konductor modules lists them)")
	return cmd
}

func runInit(g *globals, f initFlags) error {
	dir, err := filepath.Abs(f.dir)
	if err != nil {
		return err
	}
	project := f.project
	if project == "" {
		project = filepath.Base(dir)
		if !config.ValidProjectName(project) {
			return usageError{fmt.Errorf("the directory's name %q cannot name a project (%s): give --project", project, projectNameRule)}
		}
	}
	if !config.ValidProjectName(project) {
		return usageError{fmt.Errorf("--project %q: %s", project, projectNameRule)}
	}
	// A qualified stack (org/project/stack) names no file.
	if !config.ValidStackName(f.stack) || strings.Contains(f.stack, "/") {
		return usageError{fmt.Errorf("--stack %q: a stack name is letters, digits, '-', '_' and '.'", f.stack)}
	}
	reg := g.reg
	chosen, added, err := withDependencies(reg, f.modules)
	if err != nil {
		return err
	}
	ordered, err := reg.Order(chosen)
	if err != nil {
		return err
	}

	files, err := initFiles(reg, project, f.stack, ordered)
	if err != nil {
		return err
	}
	var exist []string
	for _, file := range files {
		if _, err := os.Lstat(filepath.Join(dir, file.name)); err == nil {
			exist = append(exist, file.name)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if len(exist) > 0 {
		return fmt.Errorf("%s already holds %s: nothing was written (init never overwrites; move them away or start in an empty --dir)", dir, strings.Join(exist, ", "))
	}
	if err := writeAll(dir, files); err != nil {
		return err
	}

	w := g.stdout
	for _, a := range added {
		fmt.Fprintf(w, "added %s: %s\n", a[0], a[1])
	}
	for _, file := range files {
		fmt.Fprintf(w, "wrote %s\n", filepath.Join(f.dir, file.name))
	}
	// The stack should validate as written; a module whose defaults need
	// a value init does not know says so here rather than at preview.
	if _, err := config.Load(dir, f.stack, reg); err != nil {
		fmt.Fprintf(w, "\n%s needs editing before it validates:\n%s\n", config.StackFile(f.dir, f.stack), indent(err.Error()))
	}
	nextSteps(w, f.dir, f.stack)
	return nil
}

// withDependencies resolves names against reg and adds every module a chosen
// one depends on; added says which and why.
func withDependencies(reg *modules.Registry, names []string) ([]string, [][2]string, error) {
	var chosen []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || slices.Contains(chosen, n) {
			continue
		}
		if _, ok := reg.Get(n); !ok {
			return nil, nil, usageError{fmt.Errorf("--modules: unknown module %q%s", n, config.DidYouMean(n, reg.Names()))}
		}
		chosen = append(chosen, n)
	}
	if len(chosen) == 0 {
		return nil, nil, usageError{errors.New("--modules: name at least one module (konductor modules lists them)")}
	}
	var added [][2]string
	for i := 0; i < len(chosen); i++ {
		m, _ := reg.Get(chosen[i])
		for _, d := range m.DependsOn() {
			if !slices.Contains(chosen, d) {
				chosen = append(chosen, d)
				added = append(added, [2]string{d, chosen[i] + " depends on it"})
			}
		}
	}
	return chosen, added, nil
}

type initFile struct {
	name string // slash separated, relative to the directory
	body []byte
}

func initFiles(reg *modules.Registry, project, stack string, mods []modules.Module) ([]initFile, error) {
	stackSchema, err := schemaJSON(config.StackSchema(reg, project))
	if err != nil {
		return nil, err
	}
	settingsSchema, err := schemaJSON(config.SettingsSchema())
	if err != nil {
		return nil, err
	}
	return []initFile{
		{"Pulumi.yaml", []byte("name: " + project + "\ndescription: A platform repository managed by konductor-action\nruntime: go\n")},
		{"Pulumi." + stack + ".yaml", []byte(stackFileText(project, stack, mods))},
		{config.SettingsFile, []byte(settingsText(stack))},
		{WorkflowFile, []byte(workflowText())},
		{StackSchemaFile, stackSchema},
		{SettingsSchemaFile, settingsSchema},
	}, nil
}

// writeAll creates every file or, failing part-way (a file that appeared
// meanwhile, a full disk), removes the ones it wrote: all or nothing.
func writeAll(dir string, files []initFile) error {
	var done []string
	for _, file := range files {
		path := filepath.Join(dir, filepath.FromSlash(file.name))
		err := os.MkdirAll(filepath.Dir(path), 0o755)
		if err == nil {
			err = createNew(path, file.body)
		}
		if err != nil {
			for _, p := range done {
				os.Remove(p)
			}
			return fmt.Errorf("%s: %w (nothing was written)", file.name, err)
		}
		done = append(done, path)
	}
	return nil
}

func createNew(path string, body []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = fh.Write(body)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

func stackFileText(project, stack string, mods []modules.Module) string {
	var b strings.Builder
	b.WriteString(schemaModeline(StackSchemaFile))
	fmt.Fprintf(&b, "# Stack %q: switch modules on and tune them here. Each module's fields are\n", stack)
	fmt.Fprintf(&b, "# listed at their defaults, commented out (`konductor modules` describes them);\n")
	fmt.Fprintf(&b, "# `konductor validate --stack %s` checks this file.\n", stack)
	b.WriteString("config:\n")
	st := starters(stack)
	for _, m := range mods {
		fmt.Fprintf(&b, "  %s:%s:\n", project, m.Name())
		fmt.Fprintf(&b, "    # %s\n", m.Description())
		b.WriteString("    enabled: true\n")
		var set []string
		for _, s := range st[m.Name()] {
			fmt.Fprintf(&b, "    # %s\n    %s: %s\n", s.why, s.key, s.value)
			set = append(set, s.key)
		}
		commentFields(&b, reflect.ValueOf(m.NewConfig()), "    ", 0, set)
	}
	return b.String()
}

func settingsText(stack string) string {
	var b strings.Builder
	b.WriteString(schemaModeline(SettingsSchemaFile))
	b.WriteString("# What Pulumi config cannot express: the branch that deploys each stack,\n")
	b.WriteString("# changed-path filters, policy settings. Defaults are commented out.\n")
	fmt.Fprintf(&b, "stacks:\n  %s:\n", stack)
	fmt.Fprintf(&b, "    %s # a push to main deploys %s\n", pad("branch: main", 36), stack)
	commentFields(&b, reflect.ValueOf(config.StackSettings{}), "    ", 0, []string{"branch"})
	b.WriteString("# policies:\n")
	commentFields(&b, reflect.ValueOf(config.Policies{}), "", 2, nil)
	return b.String()
}

func workflowText() string {
	v := version()
	if !releaseRE.MatchString(v) {
		return workflows.Konductor
	}
	return actionRefRE.ReplaceAllString(workflows.Konductor, "containercraft/konductor-action@"+v)
}

// commentFields writes v's fields as commented YAML at their defaults, each
// with its doc: "<indent># <depth spaces>key: value". Nested structs (and a
// list's item) go one level deeper; the keys in skip are left out.
func commentFields(w io.Writer, v reflect.Value, indent string, depth int, skip []string) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v = reflect.New(v.Type().Elem())
		}
		v = v.Elem()
	}
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || name == "-" || slices.Contains(skip, name) {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		doc := sf.Tag.Get("doc")
		if e := sf.Tag.Get("enum"); e != "" {
			doc = strings.TrimSpace(doc + " (" + strings.ReplaceAll(e, ",", "|") + ")")
		}
		fv := v.Field(i)
		ft := sf.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		line := func(text, doc string) {
			// Docs line up at one column whatever the indent.
			fmt.Fprintf(w, "%s# %s # %s\n", indent, pad(strings.Repeat(" ", depth)+text, 38-len(indent)), doc)
		}
		switch {
		case ft.Kind() == reflect.Struct:
			line(name+":", doc)
			commentFields(w, fv, indent, depth+2, nil)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			line(name+":", doc+"; an item:")
			fmt.Fprintf(w, "%s# %s-\n", indent, strings.Repeat(" ", depth+2))
			commentFields(w, reflect.New(ft.Elem()), indent, depth+4, nil)
		case sf.Tag.Get("enum") != "" && fv.IsZero():
			// "" is no enum value: an empty value (null) keeps the
			// default, so the line is right once uncommented.
			line(name+":", doc)
		default:
			line(name+": "+scalarYAML(fv), doc)
		}
	}
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

// scalarYAML is a default as YAML: strings plain where YAML reads them back
// as the same string, everything else in flow form ([], {}, true, 50).
func scalarYAML(v reflect.Value) string {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.String {
		out, err := yaml.Marshal(v.String())
		if err == nil && !strings.Contains(strings.TrimSpace(string(out)), "\n") {
			return strings.TrimSpace(string(out))
		}
	}
	if (v.Kind() == reflect.Slice || v.Kind() == reflect.Map) && v.Len() == 0 {
		if v.Kind() == reflect.Slice {
			return "[]"
		}
		return "{}"
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return ""
	}
	return string(b)
}

func nextSteps(w io.Writer, dir, stack string) {
	cwd := ""
	if filepath.Clean(dir) != "." {
		cwd = " --cwd " + dir
	}
	fmt.Fprintf(w, `
Next steps:
  1. Pick the state backend: export PULUMI_BACKEND_URL=s3://my-state-bucket?region=us-east-1
     (or gs://, azblob://, file://, Pulumi Cloud), and set the same URL and the cloud
     login in %s.
  2. konductor preview --stack %s%s
  3. Commit and open a pull request: the workflow previews it and comments.
Editors validate the YAML against %s and %s (the files' first
line names them); after upgrading konductor regenerate them:
  konductor schema --stack-file -o %s && konductor schema --settings -o %s
`, WorkflowFile, stack, cwd, StackSchemaFile, SettingsSchemaFile, StackSchemaFile, SettingsSchemaFile)
}
