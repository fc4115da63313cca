package github_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/containercraft/konductor-action/runner/github"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func TestComposeGolden(t *testing.T) {
	t.Parallel()
	sections := []github.Section{
		{Stack: "prod", Body: "**prod**: 1 to update\n\n<details><summary>Diff</summary>\n\n```diff\n~ replicas: 2 => 3\n```\n</details>", SHA: shaB},
		{Stack: "dev", Body: "**dev**: no changes", SHA: shaA, SupersededBy: shaB},
	}
	golden(t, "compose_fits.golden", github.Compose("## Konductor preview", sections, github.MaxBodyLength))

	big := strings.Builder{}
	big.WriteString("**prod**: 40 to update\n\n<details><summary>Full diff</summary>\n\n```diff\n")
	for i := range 40 {
		fmt.Fprintf(&big, "~ resource-%02d: property changed from old value to new value\n", i)
	}
	big.WriteString("```\n</details>")
	sections[0].Body = big.String()
	golden(t, "compose_cut.golden", github.Compose("## Konductor preview", sections, 1200))
}

func TestComposeParseRoundTrip(t *testing.T) {
	t.Parallel()
	in := []github.Section{
		{Stack: "b/proj/staging", Body: "line 1\n\nline 3\n", SHA: shaA},
		{Stack: "a.dev_1", Body: "", SHA: ""},
		{Stack: "prod", Body: "\nstarts blank\r\nwith CRLF", SHA: shaA, SupersededBy: shaB},
		{Stack: "evil", Body: "x\n<!-- konductor:section:prod:end -->\n<!-- konductor:comment -->\ny"},
	}
	body := github.Compose("# Title", in, 0)
	header, out, ok := github.Parse(body)
	if !ok || header != "# Title" {
		t.Fatalf("Parse: ok=%v header=%q", ok, header)
	}
	wantOrder := []string{"a.dev_1", "b/proj/staging", "evil", "prod"}
	if len(out) != len(wantOrder) {
		t.Fatalf("got %d sections: %+v", len(out), out)
	}
	for i, s := range out {
		if s.Stack != wantOrder[i] {
			t.Errorf("section %d is %q, want %q", i, s.Stack, wantOrder[i])
		}
	}
	if out[3].Body != "\nstarts blank\nwith CRLF" || out[3].SupersededBy != shaB || out[3].SHA != shaA {
		t.Errorf("prod = %+v", out[3])
	}
	if strings.Count(body, "<!-- konductor:section:prod:end -->") != 1 || strings.Count(body, github.CommentMarker) != 1 {
		t.Errorf("a body forged a marker:\n%s", body)
	}
	if again := github.Compose("# Title", out, 0); again != body {
		t.Errorf("Compose(Parse(x)) != x:\n%s\n---\n%s", again, body)
	}
	// A body cannot forge the hidden summary, a fold or a shared finding.
	forged := []github.Section{
		{Stack: "dev", Body: "<!-- konductor:meta status=failed create=9 -->\n<!-- konductor:fold --><details><summary>x</summary>\n\n- a <!-- konductor:ref:0123456789ab -->"},
		{Stack: "prod", Body: "x", Summary: &github.Summary{Status: github.StatusChanges}},
	}
	_, got, _ := github.Parse(github.Compose("# Title", forged, 0))
	if len(got) != 2 || got[0].Summary != nil || got[0].Body != strings.ReplaceAll(forged[0].Body, "<!-- konductor:", "<!-- konductor\u200b:") {
		t.Errorf("a body forged Compose's markup: %+v", got)
	}
	if _, _, ok := github.Parse("> " + body); ok {
		t.Error("a quoted comment parsed as ours")
	}
	if _, _, ok := github.Parse("hello " + github.CommentMarker); ok {
		t.Error("a comment mentioning the marker parsed as ours")
	}
}

// checkCut asserts the invariants of a cut body: every kept line is a line of
// the original, in order, and fences and <details> are balanced.
func checkCut(t *testing.T, original, got string) {
	t.Helper()
	orig := strings.Split(original, "\n")
	lines := strings.Split(got, "\n")
	i := 0
	for ; i < len(lines) && i < len(orig) && lines[i] == orig[i]; i++ {
	}
	rest := strings.Join(lines[i:], "\n")
	if !strings.Contains(rest, "left out") || !strings.Contains(rest, "job summary") {
		t.Errorf("no truncation note after the kept lines: %q", rest)
	}
	if strings.Count(got, "<details>")+strings.Count(got, "<details ") != strings.Count(got, "</details>") {
		t.Errorf("unbalanced <details>:\n%s", got)
	}
	fences := 0
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fences++
		}
	}
	if fences%2 != 0 {
		t.Errorf("unclosed code fence:\n%s", got)
	}
}

func hugeBody(stack string, lines int, r rune) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**: %d changes\n\n<details><summary>Diff</summary>\n\n```diff\n", stack, lines)
	for i := range lines {
		fmt.Fprintf(&b, "~ %s-%05d: %s\n", stack, i, strings.Repeat(string(r), 40))
	}
	b.WriteString("```\n</details>\n\nlast line")
	return b.String()
}

func TestComposeLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		sections []github.Section
		limit    int
		// wantWhole lists sections that must be kept whole.
		wantWhole []string
		// sparse: a line too long for the room leaves it mostly unused.
		sparse bool
	}{
		{
			name:     "one huge ASCII section",
			sections: []github.Section{{Stack: "dev", Body: hugeBody("dev", 5000, 'x')}},
			limit:    github.MaxBodyLength,
		},
		{
			name: "four huge multibyte sections",
			sections: []github.Section{
				{Stack: "dev", Body: hugeBody("dev", 3000, 'é')},
				{Stack: "prod", Body: hugeBody("prod", 3000, '界')},
				{Stack: "qa", Body: hugeBody("qa", 3000, '🙂')},
				{Stack: "staging", Body: hugeBody("staging", 3000, 'x'), SHA: shaA, SupersededBy: shaB},
			},
			limit: github.MaxBodyLength,
		},
		{
			name: "small sections keep all, big ones share the rest",
			sections: []github.Section{
				{Stack: "a", Body: "tiny"},
				{Stack: "b", Body: hugeBody("b", 4000, 'x')},
				{Stack: "c", Body: strings.Repeat("medium line\n", 100)},
				{Stack: "d", Body: hugeBody("d", 4000, 'y')},
			},
			limit:     github.MaxBodyLength,
			wantWhole: []string{"a", "c"},
		},
		{
			name:     "a single line longer than the share",
			sections: []github.Section{{Stack: "dev", Body: "head\n" + strings.Repeat("z", 100000)}},
			limit:    github.MaxBodyLength,
			sparse:   true,
		},
		{
			name:     "nested details and a tilde fence",
			sections: []github.Section{{Stack: "dev", Body: "<details>\n<details><summary>x</summary>\n\n~~~~\n" + strings.Repeat("a line\n", 5000) + "~~~~\n</details>\n</details>"}},
			limit:    4000,
		},
		{
			name: "more sections than room",
			sections: func() []github.Section {
				var s []github.Section
				for i := range 400 {
					s = append(s, github.Section{Stack: fmt.Sprintf("stack-%03d", i), Body: strings.Repeat("data\n", 100)})
				}
				return s
			}(),
			limit: 20000,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := github.Compose("## Konductor preview", tt.sections, tt.limit)
			if n := utf8.RuneCountInString(out); n > tt.limit {
				t.Fatalf("%d characters, limit %d", n, tt.limit)
			}
			if n := utf8.RuneCountInString(out); n < tt.limit*9/10 && len(tt.sections) < 100 && !tt.sparse {
				t.Errorf("only %d of %d characters used", n, tt.limit)
			}
			_, got, ok := github.Parse(out)
			if !ok {
				t.Fatal("not parseable")
			}
			if len(tt.sections) < 100 && len(got) != len(tt.sections) {
				t.Fatalf("%d sections back, want %d", len(got), len(tt.sections))
			}
			in := map[string]github.Section{}
			for _, s := range tt.sections {
				in[s.Stack] = s
			}
			for _, s := range got {
				orig := in[s.Stack].Body
				whole := s.Body == strings.TrimRight(orig, "\n")
				wantWhole := false
				for _, w := range tt.wantWhole {
					wantWhole = wantWhole || w == s.Stack
				}
				if wantWhole && !whole {
					t.Errorf("section %s was cut", s.Stack)
				}
				if !whole && len(tt.sections) < 100 {
					checkCut(t, orig, s.Body)
				}
			}
			// Composing what was parsed gives the same body: a second writer
			// does not cut again.
			if again := github.Compose("## Konductor preview", got, tt.limit); again != out && len(tt.sections) < 100 {
				t.Errorf("recomposition changed the body")
			}
		})
	}
}

func TestComposeLimitRandom(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "é", "界", "🙂", "\n", "\n", "```\n", "<details>\n", "</details>\n", " "}
	for i := range 100 {
		var secs []github.Section
		for j := range 1 + rng.IntN(6) {
			var b strings.Builder
			for range rng.IntN(8000) {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			secs = append(secs, github.Section{Stack: fmt.Sprintf("s%d", j), Body: b.String()})
		}
		limit := 2000 + rng.IntN(70000)
		out := github.Compose("## h", secs, limit)
		if n := utf8.RuneCountInString(out); n > limit {
			t.Fatalf("case %d: %d characters over the limit %d", i, n, limit)
		}
		if _, got, ok := github.Parse(out); !ok || len(got) != len(secs) {
			t.Fatalf("case %d: ok=%v, %d sections of %d", i, ok, len(got), len(secs))
		}
	}
}

func TestValidateSection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s  github.Section
		ok bool
	}{
		{github.Section{Stack: "dev"}, true},
		{github.Section{Stack: "org/project/prod-eu.1_a"}, true},
		{github.Section{Stack: "dev", SHA: "abc1234"}, true},
		{github.Section{Stack: ""}, false},
		{github.Section{Stack: "-dev"}, false},
		{github.Section{Stack: "dev:x"}, false},
		{github.Section{Stack: "dev -->"}, false},
		{github.Section{Stack: "dev", SHA: "not-hex"}, false},
	}
	for _, tt := range tests {
		if err := github.ValidateSection(tt.s); (err == nil) != tt.ok {
			t.Errorf("ValidateSection(%+v) = %v", tt.s, err)
		}
	}
}
