package result_test

import (
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner/result"
)

func preview(label, commit string, extra ...result.Step) *result.Result {
	steps := []result.Step{
		{Op: result.OpUpdate, URN: "urn:pulumi:dev::p::kubernetes:core/v1:Namespace::apps", Diffs: []result.PropertyDiff{
			{Path: `metadata.labels["team"]`, Kind: result.Updated, Old: `"a"`, New: label},
			{Path: `metadata.labels["konductor.io/git-commit"]`, Kind: result.Updated, Old: `"old"`, New: commit},
		}},
		{Op: result.OpUpdate, URN: "urn:pulumi:dev::p::kubernetes:core/v1:Namespace::other", Diffs: []result.PropertyDiff{
			{Path: `metadata.labels["konductor.io/git-commit"]`, Kind: result.Updated, Old: `"old"`, New: commit},
		}},
		{Op: result.OpSame, URN: "urn:pulumi:dev::p::kubernetes:core/v1:Namespace::same"},
	}
	return &result.Result{Steps: append(steps, extra...)}
}

func TestReviewIgnoresCommitLabels(t *testing.T) {
	rv := result.ReviewOf(preview(`"b"`, `"pr-head"`))
	if d := result.Differences(rv, preview(`"b"`, `"merge"`)); len(d) != 0 {
		t.Errorf("only the commit label differs, yet: %+v", d)
	}
	back, err := result.DecodeReview(rv.Encode())
	if err != nil || back.Digest != rv.Digest || len(back.Changes) != len(rv.Changes) {
		t.Fatalf("decode(encode) = %+v, %v; want %+v", back, err, rv)
	}
	if d := result.Differences(back, preview(`"b"`, `"merge"`)); len(d) != 0 {
		t.Errorf("a decoded review differs: %+v", d)
	}
}

func TestReviewNamesDifferences(t *testing.T) {
	rv := result.ReviewOf(preview(`"b"`, `"x"`))
	extra := result.Step{Op: result.OpCreate, URN: "urn:pulumi:dev::p::kubernetes:core/v1:Namespace::extra"}
	d := result.Differences(rv, preview(`"c"`, `"x"`, extra))
	var got []string
	for _, x := range d {
		got = append(got, x.Name+": "+x.Why)
	}
	want := "apps: changed since the review|extra: not in the review"
	if strings.Join(got, "|") != want {
		t.Errorf("differences %q, want %q", strings.Join(got, "|"), want)
	}
	// A reviewed change no longer planned is counted.
	d = result.Differences(result.ReviewOf(preview(`"b"`, `"x"`, extra)), preview(`"b"`, `"x"`))
	if len(d) != 1 || !strings.Contains(d[0].Why, "1 reviewed change(s) no longer planned") {
		t.Errorf("differences %+v", d)
	}
	for _, bad := range []string{"", "xyz", strings.Repeat("a", 32) + "-!!", strings.Repeat("a", 32) + "-AAAA"} {
		if _, err := result.DecodeReview(bad); err == nil {
			t.Errorf("DecodeReview(%q) accepted", bad)
		}
	}
}
