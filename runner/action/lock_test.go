package action_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/engine"
	"github.com/containercraft/konductor-action/test/testenv"
)

const stashStack = "config:\n  app:stash:\n    enabled: true\n    values:\n      color: blue\n"

// writeLock leaves a lock as a killed update of the real CLI would: taken
// at `at`, by runner@fv-az12 (pid 4242).
func writeLock(t *testing.T, h *harness, at time.Time) string {
	t.Helper()
	p := filepath.Join(h.workspace, engine.LocalStateDir, ".pulumi", "locks", "organization", "app", "dev", "0a0b0c0d-0000-4000-8000-000000000002.json")
	testenv.Write(t, p, `{"pid":4242,"username":"runner","hostname":"fv-az12","timestamp":"`+at.UTC().Format(time.RFC3339)+`"}`)
	return p
}

// A deploy does not wait 10 minutes for a lock older than stale-lock-age:
// it fails at once, naming the holder, its age and how to clear it.
func TestStaleLockNotWaitedFor(t *testing.T) {
	t.Parallel()
	h, _ := engineHarness(t, stashStack)
	h.file("konductor.yaml", "stacks:\n  dev:\n    branch: main\n")
	h.event("push", readTestdata(t, "push.main.json"))
	h.env["INPUT_STALE-LOCK-AGE"] = "30m"
	taken := h.clock.Now().Add(-2*time.Hour - 5*time.Minute)
	writeLock(t, h, taken)
	if err := h.run(); err == nil {
		t.Fatalf("up on a stale lock succeeded:\n%s", h.stdout.String())
	}
	if got := h.clock.Sleeps(); len(got) != 0 {
		t.Errorf("waited %v for a stale lock", got)
	}
	want := []string{
		"not waiting: the lock is 2h5m old, at least stale-lock-age (30m), so its update is most likely gone",
		"stack dev is locked by runner@fv-az12 (pid 4242) since " + taken.UTC().Format(time.RFC3339),
		"if that run is gone: `konductor cancel --stack dev`",
		"from a workflow: run it with `command: cancel` and `stacks: dev`",
	}
	for _, w := range want {
		if s := h.summary(); !strings.Contains(s, w) {
			t.Errorf("summary lacks %q:\n%s", w, s)
		}
	}
}

// command: cancel keeps a lock younger than stale-lock-age (its update
// may be running; exit 1, and it says whose lock it is and how to force
// it), and removes it when told to: then the deploy runs.
func TestCommandCancel(t *testing.T) {
	t.Parallel()
	h, _ := engineHarness(t, stashStack)
	h.file("konductor.yaml", "stacks:\n  dev:\n    branch: main\n")
	h.event("workflow_dispatch", readTestdata(t, "workflow_dispatch.json"))
	h.env["INPUT_COMMAND"] = "cancel"
	h.env["INPUT_STACKS"] = "dev"
	lock := writeLock(t, h, time.Now().Add(-14*time.Minute))

	err := h.run()
	if err == nil || !strings.Contains(err.Error(), "cancel: dev") {
		t.Fatalf("cancel of a fresh lock: err = %v\n%s", err, h.stdout.String())
	}
	if _, err := os.Stat(lock); err != nil {
		t.Errorf("the fresh lock was removed: %v", err)
	}
	for _, w := range []string{
		"### 🔒 `dev` — cancel: lock kept",
		"Lock kept: runner@fv-az12 (pid 4242) since ",
		"14m ago",
		"a lock 14m old is younger than the stale age (1h): its update may still be running",
		"`command: cancel` with `stacks: dev` and `stale-lock-age: 0s`",
		"Pending operations: none",
	} {
		if s := h.summary(); !strings.Contains(s, w) {
			t.Errorf("summary lacks %q:\n%s", w, s)
		}
	}

	h.env["INPUT_STALE-LOCK-AGE"] = "0s"
	if err := h.run(); err != nil {
		t.Fatalf("cancel with stale-lock-age 0s: %v\n%s", err, h.stdout.String())
	}
	if _, err := os.Stat(lock); !os.IsNotExist(err) {
		t.Errorf("the lock is still there: %v", err)
	}
	if s := h.summary(); !strings.Contains(s, "### ✅ `dev` — cancel: cleared") || !strings.Contains(s, "Lock removed: runner@fv-az12 (pid 4242)") {
		t.Errorf("summary:\n%s", s)
	}

	// Unknown stacks and a bad age are bad input (exit 2), nothing done.
	for in, want := range map[[2]string]string{
		{"nope", "1h"}:  "input stacks: no stack nope in . (stacks: dev)",
		{"dev", "soon"}: `input stale-lock-age: "soon" is not a lock age`,
		{"", "1h"}:      "input stacks: command cancel needs the stacks",
	} {
		h.env["INPUT_STACKS"], h.env["INPUT_STALE-LOCK-AGE"] = in[0], in[1]
		if err := h.run(); err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, action.ErrBadInput) {
			t.Errorf("stacks %q, age %q: err = %v, want bad input %q", in[0], in[1], err, want)
		}
	}
}
