package report

import (
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner/result"
)

// A stack whose run was cancelled says so in its title, not "failed".
func TestCancelledTitle(t *testing.T) {
	r := &result.Result{Stack: "dev", Operation: result.Up, Status: result.Failed, Counts: map[result.Op]int{},
		Error: "cancelled: up failed with 1 error(s), listed under Diagnostics"}
	if md := Markdown(r, Options{}); !strings.HasPrefix(md, "### ❌ `dev` — up cancelled\n") {
		t.Errorf("cancelled:\n%s", md)
	}
	r.Error = "provider exploded"
	if md := Markdown(r, Options{}); !strings.HasPrefix(md, "### ❌ `dev` — up failed\n") {
		t.Errorf("failed:\n%s", md)
	}
}
