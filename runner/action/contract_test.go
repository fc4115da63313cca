package action_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sethvargo/go-githubactions"
	"gopkg.in/yaml.v3"

	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/result"
)

// metadata is action.yml, as GitHub reads it.
type metadata struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Author      string `yaml:"author"`
	Branding    struct {
		Icon  string `yaml:"icon"`
		Color string `yaml:"color"`
	} `yaml:"branding"`
	Inputs map[string]struct {
		Description string  `yaml:"description"`
		Required    bool    `yaml:"required"`
		Default     *string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Image string `yaml:"image"`
	} `yaml:"runs"`
}

func readMetadata(t *testing.T) *metadata {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var m metadata
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return &m
}

// inputEnv is the variable the runner sets for a docker action's input.
func inputEnv(name string) string { return "INPUT_" + strings.ToUpper(name) }

// The action's inputs and outputs, learnt by running it: every INPUT_*
// variable it reads, every output it writes. action.yml must declare
// exactly those, each with a description (and a default for inputs).
func TestActionYMLMatchesTheCode(t *testing.T) {
	t.Parallel()
	m := readMetadata(t)
	if m.Name == "" || m.Description == "" || m.Branding.Icon == "" || m.Branding.Color == "" {
		t.Errorf("action.yml needs a name, a description and branding: %+v", m)
	}
	// Users pull the published image of this very version; they never build.
	if m.Runs.Using != "docker" || !regexp.MustCompile(`^docker://ghcr\.io/containercraft/konductor-action:v\d+\.\d+\.\d+$`).MatchString(m.Runs.Image) {
		t.Errorf("runs = %+v, want using: docker on docker://ghcr.io/containercraft/konductor-action:vX.Y.Z", m.Runs)
	}

	var declaredIn, declaredOut []string
	for name, in := range m.Inputs {
		declaredIn = append(declaredIn, inputEnv(name))
		if strings.TrimSpace(in.Description) == "" || in.Default == nil || in.Required {
			t.Errorf("input %s needs a description and a default, and then is not required", name)
		}
	}
	for name, out := range m.Outputs {
		declaredOut = append(declaredOut, name)
		if strings.TrimSpace(out.Description) == "" {
			t.Errorf("output %s needs a description", name)
		}
	}

	// A push deploy, and a pull request with each command the code accepts
	// (some outputs belong to one command), recording what is read.
	var mu sync.Mutex
	read := map[string]bool{}
	written := map[string]bool{}
	flows := []string{"push"}
	for _, c := range acceptedCommands(t) {
		flows = append(flows, "pull_request "+c)
	}
	for _, flow := range flows {
		h := newHarness(t, "dev")
		h.file("konductor.yaml", "stacks:\n  dev:\n    branch: main\n")
		h.fake.results["dev"] = []*result.Result{{Project: "app", Stack: "dev", Status: result.Succeeded,
			Counts: map[result.Op]int{result.OpCreate: 1}, Outputs: map[string]result.Output{"url": {Value: `"https://dev"`}}}}
		if event, command, ok := strings.Cut(flow, " "); ok && event == "pull_request" {
			h.env[inputEnv(action.InputCommand)] = command
			h.changed("Pulumi.dev.yaml")
			h.prEvent("opened", headSHA, "acme/platform")
		} else {
			h.event("push", readTestdata(t, "push.main.json"))
			h.env["GITHUB_REF"] = "refs/heads/main"
		}
		d := h.deps()
		d.Action = githubactions.New(githubactions.WithWriter(h.stdout), githubactions.WithGetenv(func(k string) string {
			if strings.HasPrefix(k, "INPUT_") {
				mu.Lock()
				read[k] = true
				mu.Unlock()
			}
			return h.env[k]
		}))
		if err := action.Run(t.Context(), d); err != nil {
			t.Fatalf("%s: %v\n%s", flow, err, h.stdout)
		}
		for name := range h.outputs() {
			written[name] = true
		}
	}
	if len(flows) < 3 || len(written) == 0 {
		t.Fatalf("flows %v wrote outputs %v: the check would prove nothing", flows, written)
	}
	diff(t, "input (INPUT_* variable)", declaredIn, "declared in action.yml", keys(read), "read by the code")
	diff(t, "output", declaredOut, "declared in action.yml", keys(written), "written by the code")
}

// acceptedCommands are the command input's values, as the code's own
// refusal of an unknown one lists them.
func acceptedCommands(t *testing.T) []string {
	t.Helper()
	_, err := action.ReadInputs(githubactions.New(githubactions.WithWriter(io.Discard),
		githubactions.WithGetenv(func(k string) string {
			if k == inputEnv(action.InputCommand) {
				return "no-such-command"
			}
			return ""
		})))
	_, list, ok := strings.Cut(fmt.Sprint(err), "is not one of ")
	if !ok {
		t.Fatalf("an unknown command is not refused with the list of commands: %v", err)
	}
	list, _, _ = strings.Cut(list, "\n")
	return strings.Split(list, ", ")
}

// The defaults in action.yml mean what the code does when an input is
// absent, so the action and `konductor action` run by hand agree.
func TestActionYMLDefaultsMatchTheCode(t *testing.T) {
	t.Parallel()
	m := readMetadata(t)
	const token = "tok"
	withDefaults := map[string]string{}
	for name, in := range m.Inputs {
		if in.Default != nil {
			withDefaults[inputEnv(name)] = *in.Default
		}
	}
	// ${{ github.token }} is the workflow's token; the code falls back to
	// GITHUB_TOKEN.
	if withDefaults[inputEnv(action.InputGitHubToken)] != "${{ github.token }}" {
		t.Errorf("github-token defaults to %q, want the workflow's token", withDefaults[inputEnv(action.InputGitHubToken)])
	}
	withDefaults[inputEnv(action.InputGitHubToken)] = token
	read := func(env map[string]string) *action.Inputs {
		in, err := action.ReadInputs(githubactions.New(githubactions.WithWriter(io.Discard),
			githubactions.WithGetenv(func(k string) string { return env[k] })))
		if err != nil {
			t.Fatalf("%v (env %v)", err, env)
		}
		return in
	}
	got, want := read(withDefaults), read(map[string]string{"GITHUB_TOKEN": token})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with action.yml's defaults: %+v\nwith no inputs:          %+v", got, want)
	}
}

// The README's input and output tables list what action.yml declares, with
// the same defaults.
func TestREADMETablesMatchActionYML(t *testing.T) {
	t.Parallel()
	m := readMetadata(t)
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	inputs := table(t, string(b), "### Inputs")
	outputs := table(t, string(b), "### Outputs")
	var names []string
	for name, in := range m.Inputs {
		names = append(names, name)
		row, ok := inputs[name]
		if !ok {
			continue
		}
		want := ""
		if *in.Default != "" {
			want = "`" + *in.Default + "`"
		}
		if len(row) < 2 || row[1] != want {
			t.Errorf("README input %s: default cell %q, want %q", name, row, want)
		}
	}
	diff(t, "input", names, "declared in action.yml", keys(inputs), "in README's table")
	names = names[:0]
	for name := range m.Outputs {
		names = append(names, name)
	}
	diff(t, "output", names, "declared in action.yml", keys(outputs), "in README's table")
}

// table returns the rows of the markdown table under heading, by the
// backquoted name in the first cell.
func table(t *testing.T, doc, heading string) map[string][]string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q section", heading)
	}
	rows := map[string][]string{}
	for _, l := range strings.Split(rest, "\n") {
		if strings.HasPrefix(l, "#") {
			break
		}
		if !strings.HasPrefix(l, "| `") {
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(l, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows[strings.Trim(cells[0], "`")] = cells
	}
	if len(rows) == 0 {
		t.Fatalf("README's %q section has no table rows", heading)
	}
	return rows
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// diff reports the names in one list and not the other, both ways.
func diff(t *testing.T, what string, a []string, aFrom string, b []string, bFrom string) {
	t.Helper()
	sort.Strings(a)
	sort.Strings(b)
	for _, n := range a {
		if !slices.Contains(b, n) {
			t.Errorf("%s %s is %s but not %s", what, n, aFrom, bFrom)
		}
	}
	for _, n := range b {
		if !slices.Contains(a, n) {
			t.Errorf("%s %s is %s but not %s", what, n, bFrom, aFrom)
		}
	}
}
