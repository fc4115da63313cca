package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/containercraft/konductor-action/modules"
	"github.com/containercraft/konductor-action/modules/metadata"
	"github.com/containercraft/konductor-action/test/testenv"
)

// Bad build flags exit 2 before go runs.
func TestBuildBadInput(t *testing.T) {
	t.Setenv(EnvSource, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"build"}, "at least one --with"},
		{[]string{"build", "--with", "@v1.0.0"}, "no module path"},
		{[]string{"build", "--with", "=./web"}, "want <module path>=<local dir>"},
		{[]string{"build", "--with", "./web"}, "a local directory needs its module path"},
		{[]string{"build", "--with", "example.com/web=/nonexistent"}, "holds no go.mod"},
		{[]string{"build", "--with", "example.com/a", "--with", "example.com/a@v1.0.0"}, "given twice"},
		{[]string{"build", "--with", "example.com/a"}, "not a released version"},
		{[]string{"build", "--with", "example.com/a", "--konductor", "."}, "not a konductor checkout"},
		{[]string{"build", "--with", "example.com/a", "--nope"}, "unknown flag"},
	} {
		var out, errb bytes.Buffer
		if code := Main(tc.args, &out, &errb); code != ExitBadInput || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", tc.args, code, ExitBadInput, tc.want, errb.String())
		}
	}
	t.Setenv("PATH", t.TempDir())
	var out, errb bytes.Buffer
	if code := Main([]string{"build", "--with", "example.com/a", "--konductor", "v1.0.0"}, &out, &errb); code != ExitFailed || !strings.Contains(errb.String(), "go is not on PATH") {
		t.Errorf("no go: exit %d:\n%s", code, errb.String())
	}
}

// A custom build's modules are listed beside the built-in ones; one taking a
// built-in's name makes every command fail (exit 1), which `konductor build`
// catches by running the binary once.
func TestExtraModules(t *testing.T) {
	web := modules.Define(modules.Spec[struct {
		Port int `yaml:"port" doc:"the port"`
	}]{Name: "acme_web", Description: "extra"})
	var out, errb bytes.Buffer
	if code := Main([]string{"modules"}, &out, &errb, web); code != ExitOK || !strings.Contains(out.String(), "acme_web — extra") || !strings.Contains(out.String(), "kubernetes —") {
		t.Errorf("modules with an extra: exit %d\n%s%s", code, out.String(), errb.String())
	}
	dup := modules.Define(modules.Spec[struct{}]{Name: "kubernetes"})
	out.Reset()
	errb.Reset()
	if code := Main([]string{"modules"}, &out, &errb, dup); code != ExitFailed || !strings.Contains(errb.String(), `module "kubernetes" is added twice, or takes the name of a built-in`) {
		t.Errorf("a duplicate: exit %d\n%s", code, errb.String())
	}
}

// The generated main adds every --with module's Module; local directories
// are replaces, versions go through go get, with the Makefile's ldflags.
func TestBuildSteps(t *testing.T) {
	p, err := planBuild([]string{"example.com/a@v1.2.0", "example.com/b=../../../examples/custom-module", "example.com/c"}, "out", "v1.3.0", os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	main := string(p.mainGo())
	for _, w := range []string{`m1 "example.com/b"`, "konductor.Main(os.Args[1:], m0.Module, m1.Module, m2.Module)"} {
		if !strings.Contains(main, w) {
			t.Errorf("main.go lacks %q:\n%s", w, main)
		}
	}
	var got []string
	for _, s := range p.steps() {
		got = append(got, strings.Join(s, " "))
	}
	abs, _ := filepath.Abs("../../../examples/custom-module")
	want := []string{
		"mod init konductor-custom",
		"mod edit -require example.com/b@v0.0.0 -replace example.com/b=" + abs,
		"get github.com/containercraft/konductor-action@v1.3.0 example.com/a@v1.2.0 example.com/c",
		"mod tidy",
		"build -ldflags -X github.com/containercraft/konductor-action/cmd/konductor/cli.Version=v1.3.0" + pulumiFlag() + " -o " + p.out + " .",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func pulumiFlag() string {
	if PulumiVersion == "" {
		return ""
	}
	return " -X github.com/containercraft/konductor-action/cmd/konductor/cli.PulumiVersion=" + PulumiVersion
}

// The whole path of a custom build: the example's external module (its own
// go.mod) is built into a binary from this checkout with no network (every
// dependency is in the module cache: GOPROXY=off), the binary lists it, and
// a stack enabling it previews and deploys in render mode on the real Pulumi
// CLI, the manifests carrying the global metadata labels.
func TestBuildCustomBinary(t *testing.T) {
	testenv.PluginPath(t)
	testenv.PulumiRoot(t)
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("go is not on PATH")
	}
	// No proxy, and the checksum database left on: the build must need
	// neither (the local go.sums seed its go.sum).
	t.Setenv("GOPROXY", "off")
	bin := filepath.Join(t.TempDir(), "konductor-custom")
	var out, errb bytes.Buffer
	start := time.Now()
	code := Main([]string{"build", "--konductor", "../../..", "--with", "example.com/acme/konductor-web=../../../examples/custom-module", "-o", bin}, &out, &errb)
	if code != ExitOK {
		t.Fatalf("konductor build: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	t.Logf("konductor build took %s", time.Since(start).Round(time.Second))

	run := func(dir string, env []string, args ...string) string {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Dir, c.Env = dir, env
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		if err := c.Run(); err != nil {
			t.Fatalf("konductor-custom %v: %v\n--- stdout\n%s\n--- stderr\n%s", args, err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	mods := run("", os.Environ(), "modules")
	for _, w := range []string{"acme_web — a static page served by nginx", "depends on: kubernetes", "image", "docker.io/library/nginx:1.27.3", "kubernetes —"} {
		if !strings.Contains(mods, w) {
			t.Errorf("modules lacks %q:\n%s", w, mods)
		}
	}

	dir := t.TempDir()
	for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml"} {
		data, err := os.ReadFile(filepath.Join("../../../examples/custom-module/project", f))
		if err != nil {
			t.Fatal(err)
		}
		testenv.Write(t, filepath.Join(dir, f), string(data))
	}
	env := testenv.Environ(t, nil)
	preview := run(dir, env, "preview", "--stack", "dev")
	for _, w := range []string{"`dev` — preview has changes", "acme-web"} {
		if !strings.Contains(preview, w) {
			t.Errorf("preview lacks %q:\n%s", w, preview)
		}
	}
	run(dir, env, "up", "--stack", "dev")
	manifests, _ := filepath.Glob(filepath.Join(dir, "rendered", "dev", "1-manifest", "*.yaml"))
	var deployment string
	for _, m := range manifests {
		if data, _ := os.ReadFile(m); strings.Contains(string(data), "kind: Deployment") {
			deployment = string(data)
		}
	}
	if deployment == "" {
		t.Fatalf("no Deployment among the rendered manifests %v", manifests)
	}
	for _, w := range []string{
		metadata.LabelManagedBy + ": " + metadata.ManagedByValue,
		metadata.LabelStack + ": dev",
		metadata.LabelModule + ": acme_web",
		"image: docker.io/library/nginx:1.27.3",
	} {
		if !strings.Contains(deployment, w) {
			t.Errorf("the rendered Deployment lacks %q:\n%s", w, deployment)
		}
	}
}

// The example's image replaces the binary konductor's image runs (its
// ENTRYPOINT), on top of the published image; its action mirrors inputs of
// konductor's action.yml with the same defaults, and runs a docker image.
func TestCustomImageAndAction(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join("../../..", p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	entry := regexp.MustCompile(`(?m)^ENTRYPOINT \["([^"]+)"`).FindStringSubmatch(read("Dockerfile"))
	if entry == nil {
		t.Fatal("Dockerfile has no ENTRYPOINT")
	}
	custom := read("examples/custom-module/Dockerfile")
	for _, w := range []string{"\nFROM ghcr.io/containercraft/konductor-action:${KONDUCTOR_VERSION}\n", " " + entry[1] + "\n", "konductor build"} {
		if !strings.Contains(custom, w) {
			t.Errorf("examples/custom-module/Dockerfile lacks %q (the image's entrypoint is %s)", w, entry[1])
		}
	}

	type action struct {
		Inputs map[string]struct {
			Default string `yaml:"default"`
		} `yaml:"inputs"`
		Outputs map[string]any `yaml:"outputs"`
		Runs    struct {
			Using string `yaml:"using"`
			Image string `yaml:"image"`
		} `yaml:"runs"`
	}
	var ours, theirs action
	if err := yaml.Unmarshal([]byte(read("action.yml")), &ours); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(read("examples/custom-module/action.yml")), &theirs); err != nil {
		t.Fatal(err)
	}
	if theirs.Runs.Using != "docker" || !strings.HasPrefix(theirs.Runs.Image, "docker://") {
		t.Errorf("the example action runs %+v, want a docker:// image", theirs.Runs)
	}
	for name, in := range theirs.Inputs {
		if o, ok := ours.Inputs[name]; !ok || o.Default != in.Default {
			t.Errorf("input %s (default %q) is not konductor's (default %q, declared %v)", name, in.Default, o.Default, ok)
		}
	}
	for name := range theirs.Outputs {
		if _, ok := ours.Outputs[name]; !ok {
			t.Errorf("output %s is not konductor's", name)
		}
	}
}
