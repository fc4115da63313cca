package report

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/containercraft/konductor-action/runner/result"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name+".golden.md")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n%s", name, file, got)
	}
}

func urn(typ, name string) string { return "urn:pulumi:dev::platform::" + typ + "::" + name }

func small() *result.Result {
	return &result.Result{Project: "platform", Stack: "dev", Operation: result.Preview, Status: result.Succeeded, Commit: "0123456789abcdef",
		Counts: map[result.Op]int{result.OpCreate: 1, result.OpSame: 3},
		Steps:  []result.Step{{Op: result.OpCreate, URN: urn("kubernetes:core/v1:Namespace", "apps"), Type: "kubernetes:core/v1:Namespace", Name: "apps", Diffs: []result.PropertyDiff{{Path: "metadata.name", Kind: result.Added, New: `"apps"`}}}},
	}
}

// medium has every section: violations, a delete, a replace with reasons,
// updates with diffs (one secret), creates, outputs and diagnostics.
func medium() *result.Result {
	return &result.Result{Project: "platform", Stack: "prod", Operation: result.Preview, Status: result.Blocked, Commit: "fedcba9876543210",
		Counts: map[result.Op]int{result.OpCreate: 2, result.OpUpdate: 2, result.OpDelete: 1, result.OpReplace: 1, result.OpSame: 10},
		Violations: []result.Violation{
			{Pack: "konductor-baseline", Rule: "k8s-no-privileged", Level: "mandatory", URN: urn("kubernetes:apps/v1:Deployment", "web"), Type: "kubernetes:apps/v1:Deployment", Name: "web", Message: "Containers must not run privileged.\ncontainer app is privileged. Remediation: set securityContext.privileged to false."},
			{Pack: "konductor-baseline", Rule: "k8s-image-pinned", Level: "advisory", URN: urn("kubernetes:apps/v1:Deployment", "web"), Type: "kubernetes:apps/v1:Deployment", Name: "web", Message: "Images are pinned.\nimage nginx:latest uses latest."},
		},
		Steps: []result.Step{
			{Op: result.OpDelete, Type: "aws:s3/bucketV2:BucketV2", Name: "old-logs"},
			{Op: result.OpReplace, Type: "kubernetes:core/v1:Namespace", Name: "apps", ReplaceReasons: []string{"metadata.name"}, DeleteBeforeReplace: true,
				Diffs: []result.PropertyDiff{{Path: "metadata.name", Kind: result.Updated, Old: `"apps"`, New: `"applications"`, Replaces: true}}},
			{Op: result.OpUpdate, Type: "kubernetes:apps/v1:Deployment", Name: "web", Diffs: []result.PropertyDiff{
				{Path: "spec.replicas", Kind: result.Updated, Old: "2", New: "3"},
				{Path: "spec.template.spec.containers[0].image", Kind: result.Updated, Old: `"nginx:1.25"`, New: `"nginx:latest"`},
				{Path: "spec.template.metadata.annotations.token", Kind: result.Updated, Old: result.SecretText, New: result.SecretText},
				{Path: "metadata.labels.tier", Kind: result.Added, New: "`web`"},
			}},
			{Op: result.OpUpdate, Type: "aws:kms/key:Key", Name: "state", Diffs: []result.PropertyDiff{{Path: "enableKeyRotation", Kind: result.Updated, Old: "false", New: "true"}}},
			{Op: result.OpCreate, Type: "kubernetes:core/v1:ConfigMap", Name: "settings <!-- konductor:section:prod:end -->"},
			{Op: result.OpCreate, Type: "kubernetes:core/v1:Secret", Name: "creds"},
		},
		Outputs:     map[string]result.Output{"endpoint": {Value: `"https://x"`, Old: `"http://x"`, Change: result.Updated}, "password": {Value: result.SecretText, Secret: true}},
		Diagnostics: []result.Diagnostic{{Severity: "warning", Message: "deprecated field"}, {Severity: "info", Message: "not shown"}},
	}
}

// huge builds n steps: 1% deletes, 1% replaces, 30% updates, the rest creates.
func huge(n int) *result.Result {
	r := &result.Result{Project: "platform", Stack: "big", Operation: result.Preview, Status: result.Succeeded, Counts: map[result.Op]int{}}
	for i := range n {
		s := result.Step{Type: "kubernetes:core/v1:ConfigMap", Name: fmt.Sprintf("cm-%05d", i)}
		switch {
		case i%100 == 0:
			s.Op = result.OpDelete
		case i%100 == 1:
			s.Op, s.ReplaceReasons = result.OpReplace, []string{"metadata.name"}
		case i%100 < 32:
			s.Op = result.OpUpdate
			s.Diffs = []result.PropertyDiff{{Path: "data.key", Kind: result.Updated, Old: `"old value of some length"`, New: `"new value of some length"`}}
		default:
			s.Op = result.OpCreate
			s.Diffs = []result.PropertyDiff{{Path: "data.key", Kind: result.Added, New: `"value"`}}
		}
		s.URN = urn(s.Type, s.Name)
		r.Counts[s.Op]++
		r.Steps = append(r.Steps, s)
	}
	return r
}

func TestGolden(t *testing.T) {
	golden(t, "small", Markdown(small(), Options{}))
	golden(t, "medium", Markdown(medium(), Options{}))
	golden(t, "huge", Markdown(huge(10000), Options{}))
}

func TestOrderOfImportance(t *testing.T) {
	md := Markdown(medium(), Options{})
	order := []string{"🛑 `prod` — preview blocked by policy", "**Policy violations**", "🛑 mandatory", "⚠️ advisory", "**Deletes and replaces**", "🗑️ delete", "🔁 replace", "**Updates**", "**Creates**", "Full diff"}
	last := -1
	for _, s := range order {
		i := strings.Index(md, s)
		if i < 0 || i < last {
			t.Fatalf("%q missing or out of order in:\n%s", s, md)
		}
		last = i
	}
	if !strings.Contains(md, "because `metadata.name` changed (deleted before it is recreated)") {
		t.Error("replace reason missing")
	}
	if strings.Contains(md, "<!-- konductor") {
		t.Error("a resource name forged a hidden marker")
	}
}

// The header says what changes in each module, unchanged modules included,
// without counting the modules' own components.
func TestModulesLine(t *testing.T) {
	r := &result.Result{Stack: "dev", Operation: result.Preview, Status: result.Succeeded,
		Modules: []string{"aws", "cert_manager", "kubernetes"}, Counts: map[result.Op]int{result.OpUpdate: 1, result.OpCreate: 3}}
	r.Steps = []result.Step{
		{Op: result.OpCreate, Type: result.ModuleType, Name: "cert_manager", Module: "cert_manager"},
		{Op: result.OpCreate, Type: "kubernetes:helm.sh/v4:Chart", Name: "cert-manager", Module: "cert_manager"},
		{Op: result.OpCreate, Type: "kubernetes:core/v1:Namespace", Name: "cert-manager", Module: "cert_manager"},
		{Op: result.OpUpdate, Type: "kubernetes:core/v1:Namespace", Name: "apps", Module: "kubernetes"},
	}
	md := Markdown(r, Options{})
	want := "Modules: `aws` no changes · `cert_manager` 2 to create · `kubernetes` 1 to update"
	if !strings.Contains(md, "\n"+want+"\n") {
		t.Errorf("modules line %q missing:\n%s", want, md)
	}
	// The module's component is counted among the creates, not listed.
	if !strings.Contains(md, "- ➕ 1 internal resource (providers, module components), listed in the full diff\n- ➕ create `kubernetes:helm.sh/v4:Chart`") ||
		strings.Contains(md, "- ➕ create `"+result.ModuleType+"`") {
		t.Errorf("module component listed among creates:\n%s", md)
	}
	r.Operation = result.Up
	if md := Markdown(r, Options{}); !strings.Contains(md, "`cert_manager` 2 created · `kubernetes` 1 updated") {
		t.Errorf("up tense:\n%s", md)
	}
}

// One finding on several resources of a type is one line naming them.
func TestViolationsGrouped(t *testing.T) {
	v := func(name string, level string) result.Violation {
		return result.Violation{Pack: "konductor-baseline", Rule: "protect-stateful", Level: level, URN: "urn:" + name,
			Type: "kubernetes:core/v1:Namespace", Name: name, Message: "Namespace is stateful and not protected."}
	}
	r := &result.Result{Stack: "dev", Operation: result.Preview, Status: result.Succeeded, Counts: map[result.Op]int{},
		Violations: []result.Violation{v("apps", "advisory"), v("platform", "advisory"), v("prod", "mandatory")}}
	md := Markdown(r, Options{})
	want := "- ⚠️ advisory `konductor-baseline/protect-stateful` on `kubernetes:core/v1:Namespace` **apps**, **platform**: Namespace is stateful and not protected."
	if !strings.Contains(md, want) || !strings.Contains(md, "- 🛑 mandatory `konductor-baseline/protect-stateful` on `kubernetes:core/v1:Namespace` **prod**:") {
		t.Errorf("lacks the grouped lines:\n%s", md)
	}
	if n := strings.Count(md, "protect-stateful"); n != 2 {
		t.Errorf("%d violation lines, want 2:\n%s", n, md)
	}
}

// Updates that change only konductor's git metadata (every commit does, on
// every resource) are counted on one line, not listed; the real change is
// listed with its diff and without the metadata noise.
func TestVolatileMetadataSetApart(t *testing.T) {
	commit := func(name string, more ...result.PropertyDiff) result.Step {
		return result.Step{Op: result.OpUpdate, Type: "kubernetes:core/v1:Service", Name: name, Module: "cert_manager",
			Diffs: append([]result.PropertyDiff{
				{Path: `metadata.labels["konductor.io/git-commit"]`, Kind: result.Updated, Old: `"aaa"`, New: `"bbb"`},
				{Path: `tags["konductor:git-branch"]`, Kind: result.Updated, Old: `"main"`, New: `"pr"`},
			}, more...)}
	}
	r := &result.Result{Stack: "dev", Operation: result.Preview, Status: result.Succeeded, Counts: map[result.Op]int{result.OpUpdate: 3}}
	r.Steps = []result.Step{commit("a"), commit("b"),
		commit("apps", result.PropertyDiff{Path: `metadata.labels["tier"]`, Kind: result.Updated, Old: `"workloads"`, New: `"frontend"`})}
	md := Markdown(r, Options{})
	for _, want := range []string{"**3** to update (2 only git metadata)", "- 🏷️ 2 resources: only konductor's git metadata (commit, branch) changes",
		"✏️ update `kubernetes:core/v1:Service` **apps**", "`metadata.labels[\"tier\"]`"} {
		if !strings.Contains(md, want) {
			t.Errorf("lacks %q:\n%s", want, md)
		}
	}
	before, _, _ := strings.Cut(md, "Full diff")
	if strings.Contains(before, "**a**") || strings.Contains(before, "git-commit") {
		t.Errorf("metadata-only noise listed above the full diff:\n%s", md)
	}
}

// Every budget yields text within it, cut at line ends, with every fence and
// <details> closed, and every delete and replace named while room allows.
func TestBudget(t *testing.T) {
	r := huge(10000)
	for _, budget := range []int{65536, 30000, 8000} {
		md := Markdown(r, Options{Budget: budget})
		if n := utf8.RuneCountInString(md); n > budget {
			t.Errorf("budget %d: %d characters", budget, n)
		}
		if strings.Count(md, "<details>") != strings.Count(md, "</details>") {
			t.Errorf("budget %d: unbalanced <details>", budget)
		}
		if strings.Count(md, "```")%2 != 0 {
			t.Errorf("budget %d: unclosed code fence", budget)
		}
		if !strings.Contains(md, "the full diff is in the job summary") {
			t.Errorf("budget %d: no note on what was left out", budget)
		}
	}
	md := Markdown(r, Options{})
	for _, s := range r.Steps {
		if (s.Op == result.OpDelete || s.Op == result.OpReplace) && !strings.Contains(md, "**"+esc(s.Name)+"**") {
			t.Fatalf("10,000 resources: %s %s not named", s.Op, s.Name)
		}
	}
}

// BenchmarkRender10k measures P2: 10,000 resources to a comment. The figure
// to report is ns/op and the peak heap (b.ReportMetric).
func BenchmarkRender10k(b *testing.B) {
	r := huge(10000)
	b.ReportAllocs()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	for b.Loop() {
		_ = Markdown(r, Options{})
	}
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.TotalAlloc-before)/float64(b.N)/(1<<20), "MiB-alloc/op")
}

// A module's first deploy: the headline counts the module's resources,
// its component and provider apart; the engine's tally also counts the
// stack, which is not listed.
func TestHeadcount(t *testing.T) {
	r := &result.Result{Project: "platform", Stack: "dev", Operation: result.Preview, Status: result.Succeeded,
		Counts: map[result.Op]int{result.OpCreate: 5, result.OpUpdate: 1},
		Steps: []result.Step{
			{Op: result.OpCreate, Type: result.ModuleType, Name: "kubernetes", Module: "kubernetes"},
			{Op: result.OpCreate, Type: "pulumi:providers:kubernetes", Name: "k8s", Module: "kubernetes"},
			{Op: result.OpCreate, Type: "kubernetes:core/v1:Namespace", Name: "apps", Module: "kubernetes"},
			{Op: result.OpCreate, Type: "kubernetes:core/v1:Namespace", Name: "system", Module: "kubernetes"},
			{Op: result.OpUpdate, Type: "pulumi:providers:aws", Name: "aws"},
		},
	}
	if h := Headcount(r); h != (Headline{Create: 3, Internal: 3}) {
		t.Errorf("Headcount = %+v", h)
	}
	md := Markdown(r, Options{})
	for _, w := range []string{"**3** to create · 3 internal (providers, module components)", "Modules: `kubernetes` 2 to create"} {
		if !strings.Contains(md, w) {
			t.Errorf("no %q in\n%s", w, md)
		}
	}
	if strings.Contains(md, "to update") {
		t.Errorf("a provider's update is counted as a change to review:\n%s", md)
	}
}

func TestFindingsAreLinesOfTheReport(t *testing.T) {
	r := medium()
	f := Findings(r)
	if len(f) != 3 {
		t.Fatalf("Findings = %q, want two violations and a warning", f)
	}
	lines := strings.Split(Markdown(r, Options{}), "\n")
	for _, l := range f {
		if !slices.Contains(lines, l) {
			t.Errorf("finding %q is not a line of the report", l)
		}
	}
}
