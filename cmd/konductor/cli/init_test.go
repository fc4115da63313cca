package cli

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/containercraft/konductor-action/examples/workflows"
)

// run runs the CLI in-process and returns its exit code and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

// A new repository validates as written, its files validate against the
// schemas their first line names, and its workflow passes actionlint.
func TestInitThenValidate(t *testing.T) {
	for _, tc := range []struct {
		name, modules string
		enabled       string
		added         string
	}{
		{"default", "", "kubernetes", ""},
		{"dependency added", "cert_manager", "kubernetes, cert_manager", "added kubernetes: cert_manager depends on it"},
		{"every starter", "kubernetes,cert_manager,aws,azure", "aws, azure, kubernetes, cert_manager", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "platform")
			args := []string{"init", "--dir", dir}
			if tc.modules != "" {
				args = append(args, "--modules", tc.modules)
			}
			code, out, errs := run(t, args...)
			if code != ExitOK {
				t.Fatalf("init: exit %d\n%s%s", code, out, errs)
			}
			for _, want := range []string{tc.added, "wrote " + filepath.Join(dir, WorkflowFile), "PULUMI_BACKEND_URL", "konductor preview --stack dev"} {
				if !strings.Contains(out, want) {
					t.Errorf("init output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "needs editing") {
				t.Errorf("init wrote a stack that does not validate:\n%s", out)
			}
			code, out, errs = run(t, "validate", "--stack", "dev", "--cwd", dir)
			if code != ExitOK || !strings.Contains(out, "enabled modules: "+tc.enabled) {
				t.Fatalf("validate: exit %d\n%s%s", code, out, errs)
			}
			for _, f := range []string{"Pulumi.dev.yaml", "konductor.yaml"} {
				validateAgainstModeline(t, filepath.Join(dir, f))
			}
			actionlint(t, filepath.Join(dir, WorkflowFile))
		})
	}
}

// validateAgainstModeline checks file against the schema its
// yaml-language-server comment names, as an editor would.
func validateAgainstModeline(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	ref, ok := strings.CutPrefix(first, "# yaml-language-server: $schema=")
	if !ok {
		t.Fatalf("%s: first line %q names no schema", file, first)
	}
	sch, err := jsonschema.NewCompiler().Compile(filepath.Join(filepath.Dir(file), ref))
	if err != nil {
		t.Fatalf("%s: schema %s: %v", file, ref, err)
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(v)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("%s fails %s:\n%v", file, ref, err)
	}
}

// actionlint runs the pinned actionlint the Makefile builds and passes in
// KONDUCTOR_ACTIONLINT.
func actionlint(t *testing.T, file string) {
	t.Helper()
	bin := os.Getenv("KONDUCTOR_ACTIONLINT")
	if bin == "" {
		t.Skip("KONDUCTOR_ACTIONLINT is not set: run with `make test`, which builds the pinned actionlint, to lint the written workflow")
	}
	cmd := exec.Command(bin, file)
	cmd.Dir = filepath.Dir(file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("actionlint %s: %v\n%s", file, err, out)
	}
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestInitNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	if code, out, errs := run(t, "init", "--dir", dir, "--project", "platform"); code != ExitOK {
		t.Fatalf("init: exit %d\n%s%s", code, out, errs)
	}
	before := snapshot(t, dir)
	code, out, errs := run(t, "init", "--dir", dir, "--project", "other", "--modules", "aws")
	if code != ExitFailed {
		t.Fatalf("second init: exit %d, want %d\n%s%s", code, ExitFailed, out, errs)
	}
	for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml", "konductor.yaml", WorkflowFile, StackSchemaFile, SettingsSchemaFile, "nothing was written"} {
		if !strings.Contains(errs, f) {
			t.Errorf("the refusal does not name %s:\n%s", f, errs)
		}
	}
	after := snapshot(t, dir)
	if len(after) != len(before) {
		t.Errorf("files changed: %d before, %d after", len(before), len(after))
	}
	for p, s := range before {
		if after[p] != s {
			t.Errorf("%s changed", p)
		}
	}

	// One file in the way: it is named and nothing else is written.
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "konductor.yaml"), []byte("stacks: {}\n"), 0o644)
	code, _, errs = run(t, "init", "--dir", dir, "--project", "platform")
	if code != ExitFailed || !strings.Contains(errs, "konductor.yaml") || strings.Contains(errs, "Pulumi.yaml") {
		t.Errorf("exit %d, stderr:\n%s", code, errs)
	}
	if got := snapshot(t, dir); len(got) != 1 {
		t.Errorf("init wrote beside an existing file: %v", got)
	}
}

func TestInitBadInputExitsTwo(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown module", []string{"--modules", "kubernetes,certmanager"}, `unknown module "certmanager" (did you mean "cert_manager"?)`},
		{"no module", []string{"--modules", ""}, "name at least one module"},
		{"bad stack", []string{"--stack", "dev..x"}, `--stack "dev..x"`},
		{"qualified stack", []string{"--stack", "acme/platform/dev"}, `--stack "acme/platform/dev"`},
		{"bad project", []string{"--project", "my platform"}, `--project "my platform"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			code, _, errs := run(t, append([]string{"init", "--dir", dir, "--project", "platform"}, tc.args...)...)
			if code != ExitBadInput || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, want 2 with %q:\n%s", code, tc.want, errs)
			}
			if got := snapshot(t, dir); len(got) != 0 {
				t.Errorf("files written: %v", got)
			}
		})
	}
	// The directory's name is the default project, when it can be one.
	dir := filepath.Join(t.TempDir(), "my platform")
	if code, _, errs := run(t, "init", "--dir", dir); code != ExitBadInput || !strings.Contains(errs, "give --project") {
		t.Errorf("exit %d:\n%s", code, errs)
	}
}

// The workflow is the example's text; a release pins the action to itself.
func TestInitWorkflow(t *testing.T) {
	if got := workflowText(); got != workflows.Konductor {
		t.Errorf("a development build changed the example workflow")
	}
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v1.4.2"
	got := workflowText()
	if strings.Contains(got, "konductor-action@v1\n") || !strings.Contains(got, "uses: containercraft/konductor-action@v1.4.2\n") {
		t.Errorf("a release's workflow does not use its own action:\n%s", got)
	}
	if strings.Count(got, "@v1.4.2") != strings.Count(workflows.Konductor, "containercraft/konductor-action@") {
		t.Errorf("not every use of the action is pinned")
	}
}

func TestSchemaCmd(t *testing.T) {
	example := filepath.Join("..", "..", "..", "examples", "platform")
	code, out, errs := run(t, "schema", "--cwd", example)
	if code != ExitOK || !strings.Contains(out, `"platform:kubernetes"`) || !strings.Contains(out, "draft-07") {
		t.Fatalf("schema: exit %d\n%.300s%s", code, out, errs)
	}
	file := filepath.Join(t.TempDir(), "s", "konductor.json")
	if code, _, errs := run(t, "schema", "--settings", "-o", file); code != ExitOK {
		t.Fatalf("schema --settings: exit %d\n%s", code, errs)
	}
	if _, err := jsonschema.NewCompiler().Compile(file); err != nil {
		t.Errorf("the written schema does not compile: %v", err)
	}
	for _, args := range [][]string{
		{"schema", "--cwd", t.TempDir()},
		{"schema", "--stack-file", "--settings"},
		{"schema", "--project", "a:b"},
	} {
		if code, _, errs := run(t, args...); code != ExitBadInput {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, errs)
		}
	}
}

// uncommentRE is a commented field line init writes: "<indent># <key>:".
var uncommentRE = regexp.MustCompile(`^( *)# ( *[a-z_]+:( |$))`)

// The commented defaults are real: with every field line uncommented (the
// kubernetes section aside, whose list item template needs a name), the
// files still validate, against konductor and against their schemas.
func TestInitCommentedDefaultsValidate(t *testing.T) {
	dir := t.TempDir()
	if code, out, errs := run(t, "init", "--dir", dir, "--project", "platform", "--modules", "cert_manager,aws,azure"); code != ExitOK {
		t.Fatalf("init: exit %d\n%s%s", code, out, errs)
	}
	for _, f := range []string{"Pulumi.dev.yaml", "konductor.yaml"} {
		file := filepath.Join(dir, f)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		skip := false
		n := 0
		for i, l := range lines {
			if strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "   ") {
				skip = strings.HasPrefix(l, "  platform:kubernetes:")
			}
			if m := uncommentRE.FindStringSubmatch(l); m != nil && !skip {
				lines[i] = m[1] + m[2] + l[len(m[0]):]
				n++
			}
		}
		if n < 5 {
			t.Fatalf("%s: only %d commented fields found", f, n)
		}
		os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o644)
		validateAgainstModeline(t, file)
	}
	if code, out, errs := run(t, "validate", "--stack", "dev", "--cwd", dir); code != ExitOK {
		b, _ := os.ReadFile(filepath.Join(dir, "Pulumi.dev.yaml"))
		t.Fatalf("validate with the defaults uncommented: exit %d\n%s%s\n%s", code, out, errs, b)
	}
}
