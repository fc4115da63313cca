package action_test

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/result"
)

// gatedRuns holds every fake run until the test releases it, so a test
// decides the order stacks finish in.
type gatedRuns struct {
	mu       sync.Mutex
	running  []string
	most     int
	finished []string
	started  chan string
	release  map[string]chan struct{}
}

func newGatedRuns(stacks []string) *gatedRuns {
	g := &gatedRuns{started: make(chan string, len(stacks)), release: map[string]chan struct{}{}}
	for _, s := range stacks {
		g.release[s] = make(chan struct{})
	}
	return g
}

// onRun is the fake runner's hook: progress before and after the wait.
func (g *gatedRuns) onRun(w io.Writer, req runner.Request) {
	g.mu.Lock()
	g.running = append(g.running, req.Stack)
	g.most = max(g.most, len(g.running))
	g.mu.Unlock()
	fmt.Fprintf(w, "%s: first line\n", req.Stack)
	g.started <- req.Stack
	<-g.release[req.Stack]
	fmt.Fprintf(w, "%s: last line\n", req.Stack)
	g.mu.Lock()
	g.running = slices.DeleteFunc(g.running, func(s string) bool { return s == req.Stack })
	g.finished = append(g.finished, req.Stack)
	g.mu.Unlock()
}

// Four stacks, two at a time, finishing out of plan order: the summary and
// the result output keep the plan's order, each stack's log is one
// uninterrupted group, and never more than two run at once.
func TestParallelStacks(t *testing.T) {
	t.Parallel()
	stacks := []string{"dev", "prod", "qa", "staging"}
	h := newHarness(t, stacks...)
	h.env["INPUT_PARALLEL"] = "2"
	h.changed("Pulumi.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	g := newGatedRuns(stacks)
	h.fake.onRun = g.onRun
	// Release the later stack of each running pair first.
	go func() {
		var running []string
		for released := 0; released < len(stacks); released++ {
			for len(running) < min(2, len(stacks)-released) {
				running = append(running, <-g.started)
			}
			last := slices.MaxFunc(running, func(a, b string) int { return slices.Index(stacks, a) - slices.Index(stacks, b) })
			running = slices.DeleteFunc(running, func(s string) bool { return s == last })
			close(g.release[last])
		}
	}()
	done := make(chan error)
	go func() { done <- h.run() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the run did not finish: were the stacks run two at a time?")
	}

	if g.most != 2 {
		t.Errorf("at most %d stacks ran at once, want 2 (the parallel input)", g.most)
	}
	if slices.Equal(g.finished, stacks) {
		t.Fatalf("the stacks finished in plan order %v: the test proves nothing", g.finished)
	}
	summary := h.summary()
	var order []string
	for _, m := range regexp.MustCompile("`([a-z]+)` — preview").FindAllStringSubmatch(summary, -1) {
		order = append(order, m[1])
	}
	if !slices.Equal(order, stacks) {
		t.Errorf("summary order %v, want the plan's %v (finished %v)", order, stacks, g.finished)
	}
	out := h.outputs()
	if want := `"dev":{"operation":"preview","status":"succeeded"`; !strings.HasPrefix(out["result"], "{"+want) {
		t.Errorf("result output = %s", out["result"])
	}
	body := h.comment()
	for _, s := range stacks {
		if !strings.Contains(body, "`"+s+"` — preview no changes") {
			t.Errorf("comment lacks %s:\n%s", s, body)
		}
	}
	stdout := h.stdout.String()
	for _, s := range stacks {
		group := regexp.MustCompile(`::group::` + s + ` \(preview succeeded, [^)]*\)\n` + s + `: first line\n` + s + `: last line\n::endgroup::\n`)
		if !group.MatchString(stdout) {
			t.Errorf("%s's log is not one group of its own lines:\n%s", s, stdout)
		}
	}
}

// A failed stack among parallel ones: the others still run and report.
func TestParallelFailureIsolated(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev", "prod", "qa")
	h.env["INPUT_PARALLEL"] = "3"
	h.changed("Pulumi.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	h.fake.errs["prod"] = fmt.Errorf("the engine could not start")
	h.fake.results["qa"] = []*result.Result{{Stack: "qa", Status: result.Failed, Counts: map[result.Op]int{}, Error: "provider exploded"}}
	err := h.run()
	if err == nil || !strings.Contains(err.Error(), "stacks failed: prod, qa") {
		t.Fatalf("err = %v", err)
	}
	body := h.comment()
	for _, w := range []string{"`dev` — preview no changes", "`prod` — preview failed", "the engine could not start", "`qa` — preview failed", "provider exploded"} {
		if !strings.Contains(body, w) {
			t.Errorf("comment lacks %q:\n%s", w, body)
		}
	}
}
