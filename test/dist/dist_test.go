// Package dist_test runs `konductor action` from the install tree the
// container image ships (`make dist`), as GitHub runs the image: a clean
// environment holding only HOME, the image's PATH, GITHUB_* and the INPUT_*
// variables with action.yml's defaults. No KONDUCTOR_* variable, no Go, no
// project files: everything it needs must come from the tree.
//
// The tree is KONDUCTOR_DIST when set (a dist/ or an image's /opt/konductor),
// else built by `make dist` into a temporary dir, the recipe the Dockerfile
// runs; a second test checks that the Dockerfile ships that tree.
package dist_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/containercraft/konductor-action/test/fakegithub"
	"github.com/containercraft/konductor-action/test/testenv"
)

const (
	owner   = "acme"
	repo    = "platform"
	prNum   = 2
	headSHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	root    = "../.."
	// imagePath is the final stage's PATH (debian's default).
	imagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

var tree string

func TestMain(m *testing.M) {
	tree = os.Getenv("KONDUCTOR_DIST")
	cleanup := func() {}
	if tree == "" {
		dir, err := os.MkdirTemp("", "konductor-dist-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cleanup = func() { os.RemoveAll(dir) }
		tree = filepath.Join(dir, "dist")
		mk := exec.Command("make", "--no-print-directory", "dist", "DIST="+tree)
		mk.Dir = root
		if out, err := mk.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "make dist: %v\n%s", err, out)
			cleanup()
			os.Exit(1)
		}
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// The tree holds what the Dockerfile's final stage copies.
func TestTreeLayout(t *testing.T) {
	for _, f := range []string{"bin/konductor", "bin/konductor-baseline", "bin/pulumi", "plugins/pulumi-resource-kubernetes"} {
		fi, err := os.Stat(filepath.Join(tree, f))
		if err != nil {
			t.Errorf("dist tree lacks %s: %v", f, err)
			continue
		}
		if fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", f)
		}
	}
}

// A pull request on a repository using the kubernetes module (render mode):
// the action previews it with the tree's Pulumi CLI, provider and baseline
// pack, and leaves one comment.
func TestPullRequestFromTheTree(t *testing.T) {
	if _, err := lookPath("go", imagePath); err == nil {
		t.Fatalf("go is on the image PATH %s: the run would not prove the tree is self-contained", imagePath)
	}
	p := newPRRun(t)
	stdout, stderr := p.run(t)
	p.check(t, stdout, stderr)
}

// GitHub runs the image as root (it has no USER) on a workspace, HOME and
// file-command files owned by the runner's user: uid 1001 on GitHub-hosted
// runners, any uid on self-hosted ones. konductor must write the outputs and
// summary and read the commit from the checkout, which git refuses to do in
// a repository another uid owns ("dubious ownership") unless safe.directory
// allows it; the tree must not rely on the image's system gitconfig for that.
func TestRootOnAWorkspaceOwnedByAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: konductor must run as root on files owned by another uid")
	}
	p := newPRRun(t)
	// A checkout on a branch, as actions/checkout leaves it.
	git(t, p.ws, "init", "-q", "-b", "changes")
	git(t, p.ws, "add", ".")
	git(t, p.ws, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-q", "-m", "change")
	commit := git(t, p.ws, "rev-parse", "HEAD")
	// GitHub sets GITHUB_SHA (the merge commit): without it the commit
	// stamped on resources comes from the checkout, as outside Actions.
	delete(p.env, "GITHUB_SHA")
	// No system gitconfig: this machine's, or the image's safe.directory,
	// must not be what makes git work.
	p.env["GIT_CONFIG_NOSYSTEM"] = "1"
	const workspaceUID, runnerUID = 4242, 1001
	chownR(t, p.ws, workspaceUID)
	chownR(t, p.env["HOME"], workspaceUID)
	for _, f := range []string{p.env["GITHUB_OUTPUT"], p.env["GITHUB_STEP_SUMMARY"]} {
		// The runner creates the file-command files before the step runs.
		testenv.Write(t, f, "")
		chownR(t, f, runnerUID)
	}

	stdout, stderr := p.run(t)
	p.check(t, stdout, stderr)
	// The job summary's full diff shows the labels stamped on the namespace.
	summary, _ := os.ReadFile(p.env["GITHUB_STEP_SUMMARY"])
	var missing []string
	for _, w := range []string{"`dev` — preview has changes", `konductor.io/git-commit"]: "` + commit + `"`, `konductor.io/git-branch"]: "changes"`} {
		if !strings.Contains(string(summary), w) {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		t.Errorf("job summary lacks %q (the commit and branch are read from the checkout):\n%s\n--- stdout\n%s\n--- stderr\n%s", missing, summary, stdout, stderr)
	}
}

// prRun is a pull request changing Pulumi.dev.yaml, run by the tree's
// `konductor action` with the environment GitHub gives a container action,
// against a fake GitHub.
type prRun struct {
	srv *fakegithub.Server
	ws  string
	env map[string]string
}

func newPRRun(t *testing.T) *prRun {
	t.Helper()
	ws := t.TempDir()
	testenv.Write(t, filepath.Join(ws, "Pulumi.yaml"), "name: app\nruntime: go\n")
	testenv.Write(t, filepath.Join(ws, "Pulumi.dev.yaml"), `config:
  app:kubernetes:
    enabled: true
    render_dir: rendered/dev
    namespaces:
      - name: apps
        labels:
          team: platform
`)
	srv := fakegithub.New(t)
	srv.AddPullRequest(fakegithub.PullRequest{Owner: owner, Repo: repo, Number: prNum, HeadRepo: owner + "/" + repo, HeadRef: "changes", HeadSHA: headSHA})
	srv.SetPullRequestFiles(owner, repo, prNum, []fakegithub.File{{Filename: "Pulumi.dev.yaml"}})

	tmp := t.TempDir()
	event := filepath.Join(tmp, "event.json")
	testenv.Write(t, event, string(prPayload(t)))
	env := map[string]string{
		"HOME":                t.TempDir(),
		"PATH":                imagePath,
		"GITHUB_ACTIONS":      "true",
		"GITHUB_EVENT_NAME":   "pull_request",
		"GITHUB_EVENT_PATH":   event,
		"GITHUB_REPOSITORY":   owner + "/" + repo,
		"GITHUB_SHA":          headSHA,
		"GITHUB_REF":          "refs/pull/2/merge",
		"GITHUB_API_URL":      srv.URL(),
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_RUN_ID":       "7",
		"GITHUB_WORKSPACE":    ws,
		"GITHUB_STEP_SUMMARY": filepath.Join(tmp, "summary"),
		"GITHUB_OUTPUT":       filepath.Join(tmp, "output"),
	}
	for k, v := range actionDefaults(t) {
		env[k] = v
	}
	return &prRun{srv: srv, ws: ws, env: env}
}

// run runs the action in the workspace and fails the test if it fails.
func (p *prRun) run(t *testing.T) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(tree, "bin", "konductor"), "action")
	cmd.Dir = p.ws
	for k, v := range p.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		t.Fatalf("konductor action: %v\n--- stdout\n%s\n--- stderr\n%s", err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// check asserts the run's comment, outputs and GitHub calls.
func (p *prRun) check(t *testing.T, stdout, stderr string) {
	t.Helper()
	cs := p.srv.Comments(owner, repo, prNum)
	if len(cs) != 1 {
		t.Fatalf("%d comments, want 1\n--- stdout\n%s\n--- stderr\n%s", len(cs), stdout, stderr)
	}
	for _, w := range []string{"<!-- konductor:section:dev:begin sha=" + headSHA, "`dev` — preview has changes",
		"`kubernetes:core/v1:Namespace` **apps**", "why: Pulumi.dev.yaml changed"} {
		if !strings.Contains(cs[0].Body, w) {
			t.Errorf("comment lacks %q:\n%s", w, cs[0].Body)
		}
	}
	outputs, _ := os.ReadFile(p.env["GITHUB_OUTPUT"])
	if !strings.Contains(string(outputs), "has-changes=true\n") {
		t.Errorf("outputs:\n%s", outputs)
	}
	for _, r := range p.srv.Unexpected() {
		t.Errorf("unexpected GitHub call: %s %s", r.Method, r.Path)
	}
}

// git runs git in dir as the test's user and returns its trimmed stdout.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// chownR gives path and everything under it to uid (group uid too).
func chownR(t *testing.T, path string, uid int) {
	t.Helper()
	err := filepath.WalkDir(path, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// actionDefaults are the INPUT_* variables GitHub sets from action.yml when
// a workflow passes no `with:`; the token expression becomes the fake's.
func actionDefaults(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Inputs map[string]struct {
			Default string `yaml:"default"`
		} `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for name, in := range m.Inputs {
		v := in.Default
		if v == "${{ github.token }}" {
			v = fakegithub.DefaultToken
		}
		env["INPUT_"+strings.ToUpper(name)] = v
	}
	return env
}

// prPayload is GitHub's documented pull_request payload with our head commit.
func prPayload(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "runner", "plan", "testdata", "pull_request.opened.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	p["pull_request"].(map[string]any)["head"].(map[string]any)["sha"] = headSHA
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lookPath finds file in a PATH value (exec.LookPath reads the process's).
func lookPath(file, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("not found")
}
