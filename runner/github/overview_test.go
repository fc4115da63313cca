package github_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/containercraft/konductor-action/runner/github"
	"github.com/containercraft/konductor-action/runner/report"
	"github.com/containercraft/konductor-action/runner/result"
)

// A stack's result as the engine gives it; the helpers below add to it.
func stackResult(stack string, status result.Status) *result.Result {
	return &result.Result{Project: "platform", Stack: stack, Operation: result.Preview, Status: status, Counts: map[result.Op]int{result.OpSame: 12}}
}

func urnOf(stack, typ, name string) string {
	return "urn:pulumi:" + stack + "::platform::" + typ + "::" + name
}

func addStep(r *result.Result, op result.Op, typ, name, module string, diffs ...result.PropertyDiff) {
	r.Steps = append(r.Steps, result.Step{Op: op, URN: urnOf(r.Stack, typ, name), Type: typ, Name: name, Module: module, Diffs: diffs})
	r.Counts[op]++
}

// firstDeploy adds what a module's first deploy creates: its component and
// provider (konductor's own) and a namespace and a deployment.
func firstDeploy(r *result.Result, module string) {
	addStep(r, result.OpCreate, result.ModuleType, module, module)
	addStep(r, result.OpCreate, "pulumi:providers:kubernetes", module+"-provider", module)
	addStep(r, result.OpCreate, "kubernetes:core/v1:Namespace", module+"-system", module)
	addStep(r, result.OpCreate, "kubernetes:apps/v1:Deployment", module+"-controller", module)
}

var (
	unprotected = result.Violation{Pack: "konductor-baseline", Rule: "protect-stateful", Level: "advisory", Type: "kubernetes:core/v1:Namespace", Name: "apps",
		Message: "kubernetes:core/v1:Namespace is stateful and not protected. Remediation: set the protect resource option."}
	privileged = result.Violation{Pack: "konductor-baseline", Rule: "k8s-no-privileged", Level: "mandatory", Type: "kubernetes:apps/v1:Deployment", Name: "web",
		Message: "Containers must not run privileged. Remediation: set securityContext.privileged to false."}
)

func withViolation(r *result.Result, v result.Violation) {
	v.URN = urnOf(r.Stack, v.Type, v.Name)
	r.Violations = append(r.Violations, v)
}

// section renders a result the way the action does for its comment.
func section(r *result.Result, budget int) github.Section {
	body := report.Markdown(r, report.Options{Budget: budget, FullDiffAt: "the job summary"})
	return github.Section{Stack: r.Stack, Body: strings.TrimRight(body, "\n") + "\n\n<sub>why: Pulumi." + r.Stack + ".yaml changed</sub>",
		SHA: shaA, Summary: github.SummaryOf(r)}
}

// eightStacks is a platform of eight stacks: changes, no changes, a shared
// advisory finding, a mandatory one shared by both production stacks, a
// failure and a destroy.
func eightStacks() []*result.Result {
	dev := stackResult("dev", result.Succeeded)
	firstDeploy(dev, "cert_manager")
	withViolation(dev, unprotected)
	dev.Diagnostics = []result.Diagnostic{{Severity: "warning", Message: "kubernetes:batch/v1beta1:CronJob is deprecated"}}

	staging := stackResult("staging", result.Succeeded)
	addStep(staging, result.OpUpdate, "kubernetes:apps/v1:Deployment", "web", "kubernetes",
		result.PropertyDiff{Path: "spec.replicas", Kind: result.Updated, Old: "2", New: "3"})
	withViolation(staging, unprotected)
	staging.Diagnostics = dev.Diagnostics

	var prods []*result.Result
	for _, name := range []string{"prod-eu", "prod-us"} {
		p := stackResult(name, result.Blocked)
		addStep(p, result.OpUpdate, "kubernetes:apps/v1:Deployment", "web", "kubernetes",
			result.PropertyDiff{Path: "spec.template.spec.containers[0].securityContext.privileged", Kind: result.Added, New: "true"})
		withViolation(p, privileged)
		withViolation(p, unprotected)
		prods = append(prods, p)
	}

	sandbox := stackResult("sandbox", result.Failed)
	sandbox.Error = "error: kubernetes:core/v1:Namespace sandbox: cluster unreachable"

	dr := stackResult("dr", result.Succeeded)
	addStep(dr, result.OpDelete, "aws:s3/bucketV2:BucketV2", "old-logs", "aws")
	addStep(dr, result.OpReplace, "kubernetes:core/v1:Namespace", "apps", "kubernetes",
		result.PropertyDiff{Path: "metadata.name", Kind: result.Updated, Old: `"apps"`, New: `"applications"`, Replaces: true})
	dr.Steps[1].ReplaceReasons = []string{"metadata.name"}

	return append([]*result.Result{dev, stackResult("qa", result.Succeeded), staging, sandbox, stackResult("perf", result.Succeeded), dr}, prods...)
}

func sections(rs []*result.Result, budget int) []github.Section {
	var out []github.Section
	for _, r := range rs {
		out = append(out, section(r, budget))
	}
	return out
}

func TestOverviewGolden(t *testing.T) {
	t.Parallel()
	all := eightStacks()
	one := github.Compose(github.DefaultHeader, sections(all[:1], 0), github.MaxBodyLength)
	golden(t, "overview_1.golden", one)
	two := github.Compose(github.DefaultHeader, sections(all[:2], 0), github.MaxBodyLength)
	golden(t, "overview_2.golden", two)
	eight := github.Compose(github.DefaultHeader, sections(all, 0), github.MaxBodyLength)
	golden(t, "overview_8.golden", eight)

	// One stack: its section alone, no table, nothing folded.
	if strings.Contains(one, "| Stack |") || strings.Contains(one, "<details><summary>✅") {
		t.Errorf("one stack got a table or a fold:\n%s", one)
	}
	// Two stacks: a row each, linking to an anchor in its section; the
	// stack without changes folded.
	for _, w := range []string{
		"| [`dev`](#user-content-konductor-dev) | ✅ has changes | 2 | – | – | – | ⚠️ 1 advisory | 2 |",
		"| [`qa`](#user-content-konductor-qa) | ✅ no changes | – | – | – | – | – | – |",
		`<a name="konductor-dev"></a>`, `<a name="konductor-qa"></a>`,
		"<details><summary>✅ <code>qa</code> — no changes</summary>\n\n### ✅ `qa` — preview no changes",
	} {
		if !strings.Contains(two, w) {
			t.Errorf("two stacks: no %q in\n%s", w, two)
		}
	}
	// Headline counts set konductor's own resources apart.
	if !strings.Contains(two, "**2** to create · 2 internal (providers, module components)") {
		t.Errorf("headline counts internal resources with the modules':\n%s", two)
	}

	// Eight stacks: the table in stack order, the failures marked as such.
	rows := []string{
		"| [`dev`](#user-content-konductor-dev) | ✅ has changes |",
		"| [`dr`](#user-content-konductor-dr) | ⚠️ has changes | – | – | 1 | 1 | – | – |",
		"| [`perf`](#user-content-konductor-perf) | ✅ no changes |",
		"| [`prod-eu`](#user-content-konductor-prod-eu) | 🛑 blocked by policy | – | 1 | – | – | 🛑 1 mandatory · ⚠️ 1 advisory | – |",
		"| [`prod-us`](#user-content-konductor-prod-us) | 🛑 blocked by policy |",
		"| [`qa`](#user-content-konductor-qa) | ✅ no changes |",
		"| [`sandbox`](#user-content-konductor-sandbox) | ❌ failed |",
		"| [`staging`](#user-content-konductor-staging) | ✅ has changes | – | 1 |",
	}
	last := -1
	for _, w := range rows {
		i := strings.Index(eight, w)
		if i < last {
			t.Errorf("eight stacks: row %q missing or out of order", w)
		}
		last = i
	}
	if i := strings.Index(eight, "<!-- konductor:section:"); i < last {
		t.Error("the table is not above the sections")
	}
	// A finding several stacks share is said once, naming them, the
	// mandatory one first; each section refers to it.
	shared := []string{
		"- `prod-eu`, `prod-us` — 🛑 mandatory `konductor-baseline/k8s-no-privileged` on `kubernetes:apps/v1:Deployment` **web**: Containers must not run privileged.",
		"- `dev`, `prod-eu`, `prod-us`, `staging` — ⚠️ advisory `konductor-baseline/protect-stateful` on `kubernetes:core/v1:Namespace` **apps**:",
		"- `dev`, `staging` — ⚠️ kubernetes:batch/v1beta1:CronJob is deprecated",
	}
	last = -1
	for _, w := range shared {
		i := strings.Index(eight, w)
		if i < last || strings.Count(eight, w) != 1 {
			t.Errorf("eight stacks: shared finding %q missing, repeated or out of order", w)
		}
		last = i
	}
	if n := strings.Count(eight, "Containers must not run privileged"); n != 1 {
		t.Errorf("the mandatory finding is said %d times", n)
	}
	if n := strings.Count(eight, "- ⚠️ advisory `konductor-baseline/protect-stateful` — [in several stacks, said once above](#user-content-konductor-findings)"); n != 4 {
		t.Errorf("%d sections refer to the shared advisory finding, want 4", n)
	}
	for _, stack := range []string{"qa", "perf"} {
		if !strings.Contains(eight, "<details><summary>✅ <code>"+stack+"</code> — no changes</summary>") {
			t.Errorf("%s is not folded", stack)
		}
	}
	if strings.Contains(eight, "<summary>❌") || strings.Contains(eight, "<summary>🛑") {
		t.Error("a failing section is folded")
	}

	for name, body := range map[string]string{"one": one, "two": two, "eight": eight} {
		checkRoundTrip(t, name, body, github.MaxBodyLength)
	}
}

// checkRoundTrip asserts that a comment reads back into sections that
// compose to the same comment: a writer of another stack changes nothing
// of this one's.
func checkRoundTrip(t *testing.T, name, body string, limit int) {
	t.Helper()
	header, secs, ok := github.Parse(body)
	if !ok || header != github.DefaultHeader {
		t.Fatalf("%s: Parse: ok=%v header=%q", name, ok, header)
	}
	for _, s := range secs {
		if strings.Contains(s.Body, "konductor:ref:") || strings.Contains(s.Body, "konductor:meta") || strings.HasPrefix(s.Body, "<!-- konductor:fold") {
			t.Errorf("%s: section %s read back with Compose's markup:\n%s", name, s.Stack, s.Body)
		}
	}
	if again := github.Compose(header, secs, limit); again != body {
		t.Errorf("%s: Compose(Parse(x)) != x:\n%s\n--- want ---\n%s", name, again, body)
	}
}

func TestOverviewParseKeepsSummaries(t *testing.T) {
	t.Parallel()
	in := sections(eightStacks(), 0)
	_, out, ok := github.Parse(github.Compose(github.DefaultHeader, in, github.MaxBodyLength))
	if !ok || len(out) != len(in) {
		t.Fatalf("ok=%v, %d sections", ok, len(out))
	}
	byStack := map[string]github.Section{}
	for _, s := range in {
		byStack[s.Stack] = s
	}
	for _, got := range out {
		want := byStack[got.Stack]
		if got.Body != want.Body {
			t.Errorf("%s: body differs:\n%s\n--- want ---\n%s", got.Stack, got.Body, want.Body)
		}
		if !reflect.DeepEqual(got.Summary, want.Summary) {
			t.Errorf("%s: summary %+v, want %+v", got.Stack, got.Summary, want.Summary)
		}
	}
}

func TestOverviewDigest(t *testing.T) {
	t.Parallel()
	a := sections(eightStacks(), 0)
	b := sections(eightStacks(), 0)
	if x, y := github.Compose(github.DefaultHeader, a, github.MaxBodyLength), github.Compose(github.DefaultHeader, b, github.MaxBodyLength); x != y {
		t.Fatal("the same results composed two different comments")
	}
	// The same body with another summary is another section: its writer
	// must not take it for its own.
	c := a[0]
	s := *c.Summary
	s.Advisory++
	c.Summary = &s
	digestOf := func(sec github.Section) string {
		_, secs, _ := github.Parse(github.Compose("", []github.Section{sec}, 0))
		return secs[0].Digest
	}
	if digestOf(a[0]) == digestOf(c) {
		t.Error("the digest does not cover the summary")
	}
	plain := github.Section{Stack: "dev", Body: "body"}
	if digestOf(plain) != digestOf(github.Section{Stack: "dev", Body: "body\n"}) {
		t.Error("a section without summary changed digest")
	}
}

func TestOverviewEditedByHand(t *testing.T) {
	t.Parallel()
	body := github.Compose(github.DefaultHeader, sections(eightStacks()[:3], 0), github.MaxBodyLength)
	// Someone mangles a hidden summary line and deletes the shared
	// findings: every section still reads back, the table says "?".
	edited := strings.Replace(body, "<!-- konductor:meta status=changes create=", "<!-- konductor:meta status=changes create=x", 1)
	start, end := strings.Index(edited, "<a name=\"konductor-findings\">"), strings.Index(edited, "<!-- konductor:overview:end -->")
	if start < 0 || end < start {
		t.Fatalf("no shared findings in\n%s", body)
	}
	edited = edited[:start] + edited[end:]
	_, secs, ok := github.Parse(edited)
	if !ok || len(secs) != 3 {
		t.Fatalf("ok=%v, %d sections", ok, len(secs))
	}
	if secs[0].Stack != "dev" || secs[0].Summary != nil {
		t.Errorf("dev: summary %+v from a mangled line", secs[0].Summary)
	}
	if !strings.Contains(secs[2].Body, "said once above") {
		t.Errorf("staging: a reference without its finding was lost:\n%s", secs[2].Body)
	}
	again := github.Compose(github.DefaultHeader, secs, github.MaxBodyLength)
	if !strings.Contains(again, "| [`dev`](#user-content-konductor-dev) | ? | ? |") {
		t.Errorf("no row of \"?\" for the mangled summary:\n%s", again)
	}
	if _, back, _ := github.Parse(again); len(back) != 3 {
		t.Errorf("%d sections after recomposing", len(back))
	}
}

func TestOverviewNoteIsNoRow(t *testing.T) {
	t.Parallel()
	note := github.Section{Stack: "0-no-stacks-affected", Body: "### ✅ No stacks affected", Summary: &github.Summary{Status: github.StatusNote}}
	dev := section(eightStacks()[0], 0)
	body := github.Compose(github.DefaultHeader, []github.Section{note, dev}, 0)
	if strings.Contains(body, "| Stack |") || strings.Contains(body, "<details>\n<summary>") {
		t.Errorf("a note and one stack got a table:\n%s", body)
	}
	qa := section(stackResult("qa", result.Succeeded), 0)
	body = github.Compose(github.DefaultHeader, []github.Section{note, dev, qa}, 0)
	if strings.Contains(body, "no-stacks-affected`]") || !strings.Contains(body, "[`qa`]") {
		t.Errorf("the note has a row, or qa has none:\n%s", body)
	}
	checkRoundTrip(t, "note", body, 0)
}

// bigResult is a stack with n updates whose report fills its whole budget.
func bigResult(stack string, status result.Status, n int) *result.Result {
	r := stackResult(stack, status)
	for i := range n {
		addStep(r, result.OpUpdate, "kubernetes:core/v1:ConfigMap", fmt.Sprintf("%s-config-%04d", stack, i), "kubernetes",
			result.PropertyDiff{Path: "data.settings", Kind: result.Updated, Old: `"a value before the change"`, New: `"a value after the change"`})
	}
	if status == result.Blocked {
		withViolation(r, privileged)
	}
	if status == result.Failed {
		r.Error = "error: update failed"
	}
	return r
}

// TestOverviewBudget: eight stacks, each job writing its own section with
// the whole budget (the matrix case), far over GitHub's limit together.
func TestOverviewBudget(t *testing.T) {
	t.Parallel()
	rs := []*result.Result{
		bigResult("a-blocked", result.Blocked, 30),
		bigResult("b-changes", result.Succeeded, 3000),
		bigResult("c-changes", result.Succeeded, 3000),
		stackResult("d-quiet", result.Succeeded),
		bigResult("e-changes", result.Succeeded, 3000),
		bigResult("f-failed", result.Failed, 30),
		bigResult("g-changes", result.Succeeded, 3000),
		bigResult("h-changes", result.Succeeded, 3000),
	}
	in := sections(rs, report.CommentLimit-2048)
	total := 0
	for _, s := range in {
		total += utf8.RuneCountInString(s.Body)
	}
	if total < 4*github.MaxBodyLength {
		t.Fatalf("only %d characters of sections: not a test of the limit", total)
	}
	body := github.Compose(github.DefaultHeader, in, github.MaxBodyLength)
	if n := utf8.RuneCountInString(body); n > github.MaxBodyLength || n < github.MaxBodyLength*9/10 {
		t.Fatalf("%d characters, want at most %d and most of it used", n, github.MaxBodyLength)
	}
	if strings.Count(body, "](#user-content-konductor-") != 8 {
		t.Errorf("the table does not have its eight rows:\n%s", body[:2000])
	}
	_, secs, _ := github.Parse(body)
	if len(secs) != 8 {
		t.Fatalf("%d sections back", len(secs))
	}
	for i, s := range secs {
		cut := strings.Contains(s.Body, "were left out to keep the comment within")
		switch want := in[i].Body; s.Stack {
		case "a-blocked", "f-failed", "d-quiet":
			// Failures come first: kept whole while stacks with only
			// changes are cut.
			if cut || s.Body != want {
				t.Errorf("%s was cut (%d of %d characters)", s.Stack, utf8.RuneCountInString(s.Body), utf8.RuneCountInString(want))
			}
		default:
			if !cut || !strings.HasPrefix(s.Body, "### ✅ `"+s.Stack+"` — preview has changes") {
				t.Errorf("%s: not cut, or its heading was:\n%.300s", s.Stack, s.Body)
			}
		}
	}
	checkRoundTrip(t, "budget", body, github.MaxBodyLength)
	golden(t, "overview_8_budget.golden", outline(body))
}

// outline is what a reviewer scanning a long comment sees: everything
// above the sections, then each section's heading and how much of it was
// left out.
func outline(body string) string {
	var b strings.Builder
	i := strings.Index(body, "<!-- konductor:section:")
	b.WriteString(body[:i])
	for _, l := range strings.Split(body[i:], "\n") {
		if strings.HasPrefix(l, "### ") || strings.HasPrefix(l, "<!-- konductor:fold") || strings.Contains(l, "✂️") {
			b.WriteString("…\n" + l + "\n")
		}
	}
	return b.String()
}

// TestOverviewMatrix: eight jobs, one per stack, each writing only its own
// section, in any order, leave the comment one job writing all eight
// would: the table and the shared findings come from what each section
// carries.
func TestOverviewMatrix(t *testing.T) {
	t.Parallel()
	all := sections(eightStacks(), 0)
	want := github.Compose(github.DefaultHeader, all, github.MaxBodyLength)
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7}, {7, 6, 5, 4, 3, 2, 1, 0}, {3, 0, 6, 1, 7, 2, 5, 4}} {
		e := newEnv(t, nil)
		for _, i := range order {
			if _, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, all[i]); err != nil {
				t.Fatal(err)
			}
		}
		m := marked(e.srv, prNum)
		if len(m) != 1 {
			t.Fatalf("order %v: %d comments", order, len(m))
		}
		if m[0].Body != want {
			t.Errorf("order %v: the comment differs from one job's:\n%s\n--- want ---\n%s", order, m[0].Body, want)
		}
		// A rerun of any job changes nothing.
		patches := count(e.srv, "PATCH", "")
		if _, err := e.gh.UpsertSection(context.Background(), owner, repo, prNum, all[order[0]]); err != nil {
			t.Fatal(err)
		}
		if n := count(e.srv, "PATCH", ""); n != patches {
			t.Errorf("order %v: a rerun edited the comment", order)
		}
	}
}
