package action_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/test/testenv"
)

// The scale benchmarks run the built binary as users do and report their
// figures as metrics (seconds, ratios, MiB); each ratio is measured side by
// side in the same iteration. `make bench` runs them:
//
//	go test ./test/action -run '^$' -bench . -benchtime 3x
//
// They are figures, never assertions: the machine is shared.

// benchRepo is a copy of examples/platform with n stacks s1…sn, each the
// example's dev stack (kubernetes and cert_manager in render mode, the
// pinned chart offline), initialised on a file backend of its own.
type benchRepo struct {
	dir    string
	stacks []string
	env    []string
}

func newBenchRepo(b *testing.B, n int) *benchRepo {
	b.Helper()
	testenv.PluginPath(b)
	chart := testenv.CertManagerChart(b)
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "platform", "Pulumi.dev.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	project, err := os.ReadFile(filepath.Join("..", "..", "examples", "platform", "Pulumi.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	r := &benchRepo{dir: b.TempDir()}
	state := filepath.Join(r.dir, ".konductor", "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		b.Fatal(err)
	}
	vals := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": b.TempDir(), "PULUMI_HOME": b.TempDir(),
		"KONDUCTOR_PULUMI_ROOT": testenv.PulumiRoot(b), "KONDUCTOR_PLUGIN_PATH": os.Getenv("KONDUCTOR_PLUGIN_PATH"),
		"PULUMI_BACKEND_URL": "file://" + state, "PULUMI_CONFIG_PASSPHRASE": "bench",
	}
	for k, v := range vals {
		r.env = append(r.env, k+"="+v)
	}
	testenv.Write(b, filepath.Join(r.dir, "Pulumi.yaml"), string(project))
	for i := 1; i <= n; i++ {
		s := fmt.Sprintf("s%d", i)
		cfg := strings.ReplaceAll(string(example), "chart_path: .konductor/charts/cert-manager", "chart_path: "+chart)
		cfg = strings.ReplaceAll(cfg, ".konductor/manifests/dev", ".konductor/manifests/"+s)
		testenv.Write(b, filepath.Join(r.dir, "Pulumi."+s+".yaml"), cfg)
		testenv.Pulumi(b, r.dir, func(k string) string { return vals[k] }, "stack", "init", s)
		r.stacks = append(r.stacks, s)
	}
	return r
}

// measured is one process's wall time and peak memory: its own peak
// resident set (VmHWM) and the peak of the sum over its process tree (the
// pulumi CLI, provider and policy pack processes it starts), sampled.
type measured struct {
	wall         time.Duration
	selfKiB      int64
	treeKiB      int64
	stdout, full string
}

func measure(b *testing.B, cmd *exec.Cmd) measured {
	b.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var m measured
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			m.wall = time.Since(start)
			m.stdout, m.full = out.String(), out.String()+errb.String()
			if err != nil {
				b.Fatalf("%v: %v\n%s", cmd.Args, err, m.full)
			}
			return m
		case <-tick.C:
			pid := cmd.Process.Pid
			if v := statusKiB(pid, "VmHWM:"); v > m.selfKiB {
				m.selfKiB = v
			}
			if v := treeRSS(pid); v > m.treeKiB {
				m.treeKiB = v
			}
		}
	}
}

// statusKiB reads a kB field of /proc/<pid>/status.
func statusKiB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// treeRSS sums the resident sets of pid and its descendants now.
func treeRSS(root int) int64 {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so cut at the last ')'.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) > 1 {
			parent[pid], _ = strconv.Atoi(fields[1])
		}
	}
	var sum int64
	for pid := range parent {
		for p := pid; p > 1; p = parent[p] {
			if p == root {
				sum += statusKiB(pid, "VmRSS:")
				break
			}
		}
	}
	return sum
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

// P1, runner overhead: `konductor preview` of the example stack against a
// bare Automation-API program (testdata/bare) previewing the same inline
// program with the same CLI, backend and baseline pack, alternated.
func BenchmarkP1RunnerOverhead(b *testing.B) {
	r := newBenchRepo(b, 1)
	bare := filepath.Join(b.TempDir(), "bare")
	build := exec.Command("go", "build", "-o", bare, "./test/action/testdata/bare")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building bare: %v\n%s", err, out)
	}
	baseline := filepath.Join(filepath.Dir(binary), "konductor-baseline")
	var kon, floor []time.Duration
	for b.Loop() {
		k := exec.Command(binary, "preview", "--stack", "s1", "--cwd", r.dir)
		k.Env = r.env
		f := exec.Command(bare, r.dir, "s1", baseline)
		f.Env = r.env
		// Alternate which goes first, so neither always gets the warmer cache.
		if len(kon)%2 == 0 {
			kon = append(kon, measure(b, k).wall)
			floor = append(floor, measure(b, f).wall)
		} else {
			floor = append(floor, measure(b, f).wall)
			kon = append(kon, measure(b, k).wall)
		}
	}
	b.ReportMetric(median(kon).Seconds(), "konductor-s")
	b.ReportMetric(median(floor).Seconds(), "bare-s")
	b.ReportMetric(median(kon).Seconds()/median(floor).Seconds(), "ratio")
}

// P3, many stacks: one `konductor action` run (workflow_dispatch, every
// stack, parallel = the CPU count) of 1, 2, 4 and 8 copies of the example
// stack; the ratio is 8 stacks against one. Memory: the peak resident set
// of konductor itself and of its whole process tree, for 8 stacks.
func BenchmarkP3ManyStacks(b *testing.B) {
	r := newBenchRepo(b, 8)
	event := filepath.Join(b.TempDir(), "event.json")
	testenv.Write(b, event, "{}")
	walls := map[int][]time.Duration{}
	var last measured
	for b.Loop() {
		for _, n := range []int{1, 2, 4, 8} {
			tmp := b.TempDir()
			cmd := exec.Command(binary, "action")
			cmd.Dir = r.dir
			cmd.Env = append(slices.Clone(r.env), "GITHUB_EVENT_NAME=workflow_dispatch", "GITHUB_EVENT_PATH="+event,
				"GITHUB_WORKSPACE="+r.dir, "GITHUB_REF=refs/heads/main", "GITHUB_SHA="+pushSHA,
				"GITHUB_STEP_SUMMARY="+filepath.Join(tmp, "summary"), "GITHUB_OUTPUT="+filepath.Join(tmp, "output"),
				"INPUT_STACKS="+strings.Join(r.stacks[:n], ","))
			m := measure(b, cmd)
			if got := strings.Count(read(b, filepath.Join(tmp, "summary")), "preview has changes"); got != n {
				b.Fatalf("%d stacks previewed, want %d:\n%s", got, n, m.full)
			}
			walls[n] = append(walls[n], m.wall)
			if n == 8 {
				last = m
			}
		}
	}
	for _, n := range []int{1, 2, 4, 8} {
		b.ReportMetric(median(walls[n]).Seconds(), fmt.Sprintf("stacks-%d-s", n))
	}
	b.ReportMetric(median(walls[8]).Seconds()/median(walls[1]).Seconds(), "ratio-8/1")
	b.ReportMetric(mib(last.selfKiB), "konductor-peak-MiB")
	b.ReportMetric(mib(last.treeKiB), "tree-peak-MiB")
}

// P4, a no-op pull request: end-to-end wall time of `konductor action` on
// a pull request that affects no stack, the fake GitHub on loopback
// answering (changed files, comment). TestNoOpPullRequestStartsNoEngine
// checks that no engine starts.
func BenchmarkP4NoOpPullRequest(b *testing.B) {
	w := newWorld(b, map[string]string{"dev": stackConfig("rendered/dev", "platform")})
	testenv.Write(b, filepath.Join(w.workspace, "konductor.yaml"), "stacks:\n  dev:\n    paths: [\"infra/**\"]\n")
	w.changed("README.md")
	payload := prPayload(b, "opened", shaA, "acme/platform")
	var walls []time.Duration
	for b.Loop() {
		start := time.Now()
		if r := w.step("pull_request", payload, nil); r.code != 0 {
			b.Fatalf("%s", r)
		}
		walls = append(walls, time.Since(start))
	}
	b.ReportMetric(median(walls).Seconds(), "wall-s")
}
