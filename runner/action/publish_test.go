package action_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/containercraft/konductor-action/runner/action"
	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/runner/result"
	"github.com/containercraft/konductor-action/test/fakegithub"
)

// GitHub rate-limiting the comment for an hour does not hold the run for
// an hour: its GitHub calls stop at the budget, the failure says so, and
// the job summary has the report.
func TestGitHubBudgetSpent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dev")
	h.changed("Pulumi.dev.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	h.fake.results["dev"] = []*result.Result{{Project: "app", Stack: "dev", Status: result.Succeeded,
		Counts: map[result.Op]int{result.OpCreate: 1},
		Steps:  []result.Step{{Op: result.OpCreate, URN: "urn:pulumi:dev::app::pulumi:index:Stash::s", Type: "pulumi:index:Stash", Name: "s"}}}}
	h.srv.SetHook(func(r fakegithub.Request) {
		if strings.HasSuffix(r.Path, "/comments") {
			h.srv.ExhaustRateLimit(time.Now().Add(time.Hour))
		}
	})
	start := time.Now()
	err := h.run()
	if !errors.Is(err, action.ErrFailed) || !strings.Contains(err.Error(), github.ErrBudget.Error()) {
		t.Fatalf("err = %v, want ErrFailed saying %q", err, github.ErrBudget)
	}
	out := h.stdout.String()
	for _, want := range []string{"pull request comment not updated (dev)", "the job summary has the full report", "5m0s for the whole run"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if s := h.summary(); !strings.Contains(s, "`dev` — preview has changes") {
		t.Errorf("summary lacks the report:\n%s", s)
	}
	if len(h.srv.Comments(owner, repo, prNum)) != 0 {
		t.Error("a comment was written")
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("the run took %s", d)
	}
}
