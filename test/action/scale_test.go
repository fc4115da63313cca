package action_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/test/testenv"
)

// One stack's configuration is wrong: its section says so, the other stack
// is previewed and reported, and the step exits 2.
func TestInvalidStackIsolated(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{
		"dev":  "config:\n  app:kubernetes:\n    enabled: true\n    namespaces:\n      - name: Not_Valid\n",
		"prod": stackConfig("rendered/prod", "platform"),
	})
	w.changed("Pulumi.yaml")
	r := w.step("pull_request", prPayload(t, "opened", shaA, "acme/platform"), map[string]string{"INPUT_PARALLEL": "2"})
	if r.code != 2 || !strings.Contains(r.stderr, "invalid configuration in dev (see its section); the other stacks ran") {
		t.Errorf("exit: %s", r)
	}
	contains(t, "comment", w.comment(),
		"`dev` — preview invalid configuration", "app:kubernetes.namespaces[0].name",
		"`prod` — preview has changes", "`kubernetes:core/v1:Namespace` **apps**")
	contains(t, "summary", r.summary, "`dev` — preview invalid configuration", "`prod` — preview has changes")
	if strings.Index(r.summary, "`dev`") > strings.Index(r.summary, "`prod`") {
		t.Errorf("summary not in plan order:\n%s", r.summary)
	}
}

var slowPack string

// buildSlowPack builds testdata/slowpack once.
func buildSlowPack(t *testing.T) string {
	t.Helper()
	if slowPack == "" {
		out := filepath.Join(filepath.Dir(binary), "slowpack")
		cmd := exec.Command("go", "build", "-o", out, "./test/action/testdata/slowpack")
		cmd.Dir = filepath.Join("..", "..")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building slowpack: %v\n%s", err, b)
		}
		slowPack = out
	}
	return slowPack
}

// SIGTERM while two stacks are being deployed side by side: both updates
// are cancelled (the engine interrupted, its lock released, no process
// left behind), each section says so, the step fails; a rerun deploys both.
func TestSIGTERMCancelsAllStacks(t *testing.T) {
	t.Parallel()
	stacks := []string{"dev", "prod"}
	w := newWorld(t, map[string]string{"dev": stackConfig("rendered/dev", "dev"), "prod": stackConfig("rendered/prod", "prod")})
	settings := filepath.Join(w.workspace, "konductor.yaml")
	if err := os.WriteFile(settings, []byte("stacks:\n  dev: {branch: main}\n  prod: {branch: main}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	markers := t.TempDir()
	env := map[string]string{
		"GITHUB_SHA": pushSHA, "GITHUB_REF": "refs/heads/main",
		"INPUT_PARALLEL": "2", "INPUT_POLICY-PACKS": buildSlowPack(t), "SLOWPACK_DIR": markers,
	}
	s := w.start("push", fixture(t, "push.main.json"), env)
	// The pack holds each stack's deploy (after its policy preview) and
	// says so: then both updates are under way.
	deadline := time.Now().Add(3 * time.Minute)
	for _, st := range stacks {
		for {
			if _, err := os.Stat(filepath.Join(markers, st+".waiting")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				_ = s.cmd.Process.Kill()
				t.Fatalf("%s's deploy never started:\n%s", st, s.wait())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if locks := lockFiles(t, w.state); len(locks) != 2 {
		t.Errorf("lock files while both deploy = %v, want one per stack", locks)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan run)
	go func() { stopped <- s.wait() }()
	var r run
	select {
	case r = <-stopped:
	case <-time.After(2 * time.Minute):
		_ = s.cmd.Process.Kill()
		t.Fatalf("konductor did not stop after SIGTERM")
	}
	if r.code != 1 {
		t.Errorf("exit after SIGTERM: %s", r)
	}
	for _, st := range stacks {
		contains(t, "summary after SIGTERM", r.summary, "`"+st+"` — up cancelled")
	}
	contains(t, "stdout after SIGTERM", r.stdout, "::warning::konductor: cancelled (terminated signal received): interrupting the running stacks")
	if n := strings.Count(r.summary, "cancelled"); n < 2 {
		t.Errorf("the summary does not say both were cancelled:\n%s", r.summary)
	}
	if locks := lockFiles(t, w.state); len(locks) != 0 {
		t.Errorf("locks left after cancelling: %v", locks)
	}
	if left := processesRunning(t, slowPack); len(left) > 0 {
		t.Errorf("policy pack processes left running: %v", left)
	}

	r = w.step("push", fixture(t, "push.main.json"), env)
	if r.code != 0 {
		t.Fatalf("rerun: %s", r)
	}
	for _, st := range stacks {
		contains(t, "rerun summary", r.summary, "`"+st+"` — up succeeded")
		if _, err := os.Stat(filepath.Join(w.workspace, "rendered", st)); err != nil {
			t.Errorf("%s was not deployed by the rerun: %v", st, err)
		}
	}
}

// lockFiles lists the file backend's update locks.
func lockFiles(t *testing.T, state string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(filepath.Join(state, ".pulumi", "locks"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// processesRunning lists the pids whose executable is exe.
func processesRunning(t *testing.T, exe string) []int {
	t.Helper()
	return processes(t, func(dir string) bool {
		target, err := os.Readlink(filepath.Join(dir, "exe"))
		return err == nil && target == exe
	})
}

// processes lists the pids whose /proc directory match accepts.
func processes(t *testing.T, match func(dir string) bool) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if match(filepath.Join("/proc", e.Name())) {
			out = append(out, pid)
		}
	}
	return out
}

// The matrix fan-out: `konductor plan --matrix` (and the action's command:
// plan, its matrix output) lists the affected stacks; each entry then runs
// as its own process, as a matrix job does, all at once on one pull
// request: one comment holds every planned stack's section.
func TestMatrixFanOut(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{
		"dev": stackConfig("rendered/dev", "dev"), "prod": stackConfig("rendered/prod", "prod"), "qa": stackConfig("rendered/qa", "qa"),
	})
	testenv.Write(t, filepath.Join(w.workspace, "konductor.yaml"),
		"stacks:\n  dev: {paths: [\"dev/**\"]}\n  prod: {paths: [\"prod/**\", \"shared/**\"]}\n  qa: {paths: [\"qa/**\"]}\n")
	w.changed("dev/values.yaml", "shared/labels.yaml", "prod/values.yaml", "README.md")
	payload := prPayload(t, "opened", shaA, "acme/platform")

	s := w.startCommand([]string{"plan", "--matrix"}, "pull_request", payload, nil)
	r := s.wait()
	if r.code != 0 {
		t.Fatalf("plan --matrix: %s", r)
	}
	const want = `{"include":[{"stack":"dev","operation":"preview","reason":"1 changed file under its paths"},` +
		`{"stack":"prod","operation":"preview","reason":"2 changed files under its paths"}]}` + "\n"
	if r.stdout != want {
		t.Fatalf("plan --matrix printed\n%s\nwant\n%s", r.stdout, want)
	}
	var matrix struct {
		Include []struct{ Stack, Operation string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &matrix); err != nil {
		t.Fatal(err)
	}

	r = w.startCommand([]string{"plan"}, "pull_request", payload, nil).wait()
	var p struct {
		Operation string
		Stacks    []struct {
			Stack         string
			AffectedPaths []string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || r.code != 0 {
		t.Fatalf("plan: %v\n%s", err, r)
	}
	if len(p.Stacks) != 2 || p.Operation != "preview" || strings.Join(p.Stacks[1].AffectedPaths, ",") != "shared/labels.yaml,prod/values.yaml" {
		t.Errorf("plan = %+v", p)
	}

	// The action's command: plan gives the same matrix as a step output.
	r = w.step("pull_request", payload, map[string]string{"INPUT_COMMAND": "plan"})
	if r.code != 0 || r.outputMap(t)["matrix"]+"\n" != want {
		t.Errorf("command plan: %s", r)
	}
	contains(t, "plan summary", r.summary, "| `dev` | 1 changed file under its paths |")
	if len(w.comments()) != 0 {
		t.Errorf("planning commented on the pull request")
	}

	jobs := make([]*started, len(matrix.Include))
	for i, e := range matrix.Include {
		jobs[i] = w.start("pull_request", payload, map[string]string{"INPUT_STACKS": e.Stack})
	}
	for i, j := range jobs {
		if r := j.wait(); r.code != 0 {
			t.Errorf("job %s: %s", matrix.Include[i].Stack, r)
		}
	}
	body := w.comment()
	contains(t, "comment", body, "<!-- konductor:section:dev:begin", "`dev` — preview has changes",
		"<!-- konductor:section:prod:begin", "`prod` — preview has changes")
	if strings.Contains(body, "section:qa") {
		t.Errorf("qa is not affected but has a section:\n%s", body)
	}
}

// countingCLI is a KONDUCTOR_PULUMI_ROOT whose bin/pulumi records each
// invocation (its subcommand) in a log, then runs the pinned CLI.
func countingCLI(t *testing.T) (root, log string) {
	t.Helper()
	root = t.TempDir()
	log = filepath.Join(t.TempDir(), "calls")
	script := "#!/bin/sh\necho \"$*\" >> " + log + "\nexec " + filepath.Join(testenv.PulumiRoot(t), "bin", "pulumi") + " \"$@\"\n"
	testenv.Write(t, filepath.Join(root, "bin", "pulumi"), script)
	if err := os.Chmod(filepath.Join(root, "bin", "pulumi"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root, log
}

// cliCalls counts the logged invocations by subcommand ("stack select").
func cliCalls(t *testing.T, log string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(read(t, log)), "\n") {
		f := strings.Fields(strings.TrimPrefix(l, "--non-interactive "))
		switch {
		case len(f) == 0:
		case f[0] == "stack" && len(f) > 1:
			n["stack "+f[1]]++
		default:
			n[f[0]]++
		}
	}
	return n
}

// Two stacks deployed at once, each with an encrypted config value: what
// they share is paid once. The CLI is resolved once (pulumi version) and
// each stack selected once, although each is read for its secrets, then
// previewed with the policies, then deployed.
func TestSharedSetupPaidOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"dev": stackConfig("rendered/dev", "dev"), "prod": stackConfig("rendered/prod", "prod")})
	testenv.Write(t, filepath.Join(w.workspace, "konductor.yaml"), "stacks:\n  dev: {branch: main}\n  prod: {branch: main}\n")
	for _, s := range []string{"dev", "prod"} {
		testenv.Pulumi(t, w.workspace, w.getenv, "config", "set", "--stack", s, "--secret", "--path", "kubernetes.namespaces[0].annotations.token", "tok-"+s+"-9f1")
	}
	root, log := countingCLI(t)
	r := w.step("push", fixture(t, "push.main.json"), map[string]string{
		"GITHUB_SHA": pushSHA, "GITHUB_REF": "refs/heads/main", "INPUT_PARALLEL": "2", "KONDUCTOR_PULUMI_ROOT": root,
	})
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	contains(t, "summary", r.summary, "`dev` — up succeeded", "`prod` — up succeeded")
	calls := cliCalls(t, log)
	if calls["version"] != 1 || calls["stack select"] != 2 || calls["config"] != 2 || calls["preview"] != 2 || calls["up"] != 2 {
		t.Errorf("CLI calls = %v, want version 1, stack select 2 (once per stack), config 2, preview 2, up 2", calls)
	}
}

// P4's premise: a pull request that affects no stack starts no engine, not
// even the CLI's version check.
func TestNoOpPullRequestStartsNoEngine(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]string{"dev": stackConfig("rendered/dev", "platform")})
	testenv.Write(t, filepath.Join(w.workspace, "konductor.yaml"), "stacks:\n  dev:\n    paths: [\"infra/**\"]\n")
	w.changed("README.md")
	root, log := countingCLI(t)
	r := w.step("pull_request", prPayload(t, "opened", shaA, "acme/platform"), map[string]string{"KONDUCTOR_PULUMI_ROOT": root})
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	contains(t, "comment", w.comment(), "No stacks affected")
	if calls := read(t, log); calls != "" {
		t.Errorf("the Pulumi CLI ran for a no-op pull request:\n%s", calls)
	}
}
