package metadata

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitizeLabelValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"konductor", "konductor"},
		{"", ""},
		{"owner/name", "owner_name"},
		{"feature/x-1", "feature_x-1"},
		{"2025-01-01T00:00:00Z", "2025-01-01T00_00_00Z"},
		{"-lead-and-trail-", "lead-and-trail"},
		{"ac-2,ac-3", "ac-2_ac-3"},
		{"ünïcode", "n_code"},
		{"///", ""},
		{strings.Repeat("a", 63), strings.Repeat("a", 63)},
		{strings.Repeat("a", 62) + "-b", strings.Repeat("a", 62)},
		{strings.Repeat("x", 200), strings.Repeat("x", 63)},
	} {
		got := SanitizeLabelValue(tc.in)
		if got != tc.want {
			t.Errorf("SanitizeLabelValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !ValidLabelValue(got) {
			t.Errorf("SanitizeLabelValue(%q) = %q is not a valid label value", tc.in, got)
		}
	}
}

func TestSanitizeLabelKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"team", "team"},
		{"app.kubernetes.io/name", "app.kubernetes.io/name"},
		{"Example.COM/Cost Center", "example.com/Cost-Center"},
		{"a/b/c", "a/b-c"},
		{"/name", "name"},
		{"..bad..prefix../x", "bad.prefix/x"},
		{"cost center!", "cost-center"},
		{"!!!", ""},
		{strings.Repeat("p", 300) + "/n", strings.Repeat("p", 253) + "/n"},
		{"k/" + strings.Repeat("n", 100), "k/" + strings.Repeat("n", 63)},
	} {
		got := SanitizeLabelKey(tc.in)
		if got != tc.want {
			t.Errorf("SanitizeLabelKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got != "" && !ValidLabelKey(got) {
			t.Errorf("SanitizeLabelKey(%q) = %q is not a valid key", tc.in, got)
		}
	}
}

func testFacts() Facts {
	return Facts{
		Project: "platform",
		Stack:   "dev",
		Git: Git{
			Repository: "acme/infra",
			Commit:     "0123456789abcdef0123456789abcdef01234567",
			Branch:     "feature/labels",
			Actor:      "octocat",
		},
		Compliance: Compliance{
			Fisma: Fisma{Level: "moderate", ATO: ATO{ID: "ato-42", Authorized: "2025-01-01T00:00:00Z"}},
			Nist:  Nist{Controls: []string{"ac-2", "ac-3"}},
			Scip:  Scip{Environment: "prod-us-west", Ownership: Ownership{Operator: Owner{Name: "Platform Team", Contacts: []string{"ops@example.com"}}}},
		},
		Labels: map[string]string{"team": "platform", "cost center": "R&D 42"},
	}
}

func assertValidKubernetes(t *testing.T, labels, annotations map[string]string) {
	t.Helper()
	for k, v := range labels {
		if !ValidLabelKey(k) || !ValidLabelValue(v) {
			t.Errorf("invalid label %q=%q", k, v)
		}
	}
	for k := range annotations {
		if !ValidLabelKey(k) {
			t.Errorf("invalid annotation key %q", k)
		}
	}
}

func TestKubernetesMetadata(t *testing.T) {
	t.Parallel()
	f := testFacts()
	labels, annotations := f.KubernetesMetadata("cert_manager")
	assertValidKubernetes(t, labels, annotations)

	wantLabels := map[string]string{
		LabelManagedBy:                                   "konductor",
		LabelStack:                                       "dev",
		LabelModule:                                      "cert_manager",
		LabelGitCommit:                                   "0123456789abcdef0123456789abcdef01234567",
		"konductor.io/project":                           "platform",
		"konductor.io/git-branch":                        "feature_labels",
		"konductor.io/git-repository":                    "acme_infra",
		"compliance.konductor.io/fisma-level":            "moderate",
		"compliance.konductor.io/fisma-ato-id":           "ato-42",
		"compliance.konductor.io/fisma-ato-authorized":   "2025-01-01T00_00_00Z",
		"compliance.konductor.io/nist-controls":          "ac-2_ac-3",
		"compliance.konductor.io/scip-environment":       "prod-us-west",
		"compliance.konductor.io/scip-operator":          "Platform_Team",
		"compliance.konductor.io/scip-operator-contacts": "ops_example.com",
		"team":        "platform",
		"cost-center": "R_D_42",
	}
	if !maps.Equal(labels, wantLabels) {
		t.Errorf("labels:\n got %v\nwant %v", labels, wantLabels)
	}
	wantAnnotations := map[string]string{
		"konductor.io/git-branch":                        "feature/labels",
		"konductor.io/git-repository":                    "acme/infra",
		"compliance.konductor.io/fisma-ato-authorized":   "2025-01-01T00:00:00Z",
		"compliance.konductor.io/nist-controls":          "ac-2,ac-3",
		"compliance.konductor.io/scip-operator":          "Platform Team",
		"compliance.konductor.io/scip-operator-contacts": "ops@example.com",
		"cost-center": "R&D 42",
	}
	if !maps.Equal(annotations, wantAnnotations) {
		t.Errorf("annotations:\n got %v\nwant %v", annotations, wantAnnotations)
	}
}

func TestLongComplianceValueNeverBreaksALabel(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("AC-2(4) enhanced audit; ", 9)[:200]
	f := Facts{Stack: "dev", Compliance: Compliance{Fisma: Fisma{ATO: ATO{ID: long}}, Nist: Nist{Exceptions: []string{long, long}}}}
	labels, annotations := f.KubernetesMetadata("aws")
	assertValidKubernetes(t, labels, annotations)
	for _, key := range []string{"compliance.konductor.io/fisma-ato-id", "compliance.konductor.io/nist-exceptions"} {
		if v, ok := labels[key]; !ok || len(v) > 63 {
			t.Errorf("label %s = %q (present %v), want a valid label", key, v, ok)
		}
	}
	if got := annotations["compliance.konductor.io/fisma-ato-id"]; got != long {
		t.Errorf("annotation keeps %q, want the full 200-character value", got)
	}
	if got := annotations["compliance.konductor.io/nist-exceptions"]; got != long+","+long {
		t.Errorf("annotation keeps %q, want the full joined list", got)
	}
}

func TestManagedKeysWinOverUserLabels(t *testing.T) {
	t.Parallel()
	f := Facts{Stack: "dev", Labels: map[string]string{
		LabelStack:                  "prod",
		LabelManagedBy:              "someone",
		"konductor.io/git-commit":   "fake", // konductor has no commit: the key stays unset
		"app.kubernetes.io/part-of": "platform",
	}}
	labels, _ := f.KubernetesMetadata("m")
	if labels[LabelStack] != "dev" || labels[LabelManagedBy] != ManagedByValue {
		t.Errorf("managed keys lost to user labels: %v", labels)
	}
	if v, ok := labels[LabelGitCommit]; ok {
		t.Errorf("user set the reserved commit label to %q", v)
	}
	if labels["app.kubernetes.io/part-of"] != "platform" {
		t.Errorf("user label dropped: %v", labels)
	}
}

func TestAWSTags(t *testing.T) {
	t.Parallel()
	f := testFacts()
	f.Labels["aws:reserved"] = "x"
	f.Labels["bad#key"] = "v{al}ue"
	f.Labels[strings.Repeat("k", 200)] = strings.Repeat("v", 300)
	tags := f.AWSTags("aws")
	want := map[string]string{
		TagManagedBy:                       "konductor",
		TagStack:                           "dev",
		TagModule:                          "aws",
		TagGitCommit:                       "0123456789abcdef0123456789abcdef01234567",
		"konductor:project":                "platform",
		"konductor:git-repository":         "acme/infra",
		"konductor:git-branch":             "feature/labels",
		"aws_reserved":                     "x",
		"bad_key":                          "v_al_ue",
		"team":                             "platform",
		"cost center":                      "R_D 42",
		"konductor:compliance:fisma-level": "moderate",
	}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("tag %q = %q, want %q", k, tags[k], v)
		}
	}
	for k, v := range tags {
		if utf8.RuneCountInString(k) > 128 || utf8.RuneCountInString(v) > 256 {
			t.Errorf("tag %q=%q exceeds AWS limits", k, v)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			t.Errorf("tag %q uses the reserved aws: prefix", k)
		}
		for _, r := range k + v {
			if !isAWSTagChar(r) {
				t.Errorf("tag %q=%q has character %q AWS rejects", k, v, r)
			}
		}
	}
	long := fitKey(strings.Repeat("k", 200), 128)
	if got := tags[long]; got != strings.Repeat("v", 253)+"..." {
		t.Errorf("long tag %q = %q, want the value cut to 256 with a marker", long, got)
	}
	if fitKey(strings.Repeat("k", 200), 128) == fitKey(strings.Repeat("k", 201), 128) {
		t.Error("two long keys with the same start must stay distinct")
	}
}

func TestTagLimitKeepsPriority(t *testing.T) {
	t.Parallel()
	f := testFacts()
	f.Labels = map[string]string{}
	for i := range 60 {
		f.Labels[fmt.Sprintf("user-%02d", i)] = "v"
	}
	for name, tags := range map[string]map[string]string{"aws": f.AWSTags("m"), "azure": f.AzureTags("m")} {
		if len(tags) != MaxTags {
			t.Errorf("%s: %d tags, want %d", name, len(tags), MaxTags)
		}
		for _, k := range []string{TagManagedBy, TagStack, TagModule, TagGitCommit, "konductor:project", "konductor:git-repository", "konductor:git-branch"} {
			if _, ok := tags[k]; !ok {
				t.Errorf("%s: required tag %s dropped", name, k)
			}
		}
		// 7 konductor tags leave 43 places: user-00..user-42 by key order,
		// and the compliance tags (lowest priority) are dropped.
		for i := range 60 {
			_, ok := tags[fmt.Sprintf("user-%02d", i)]
			if ok != (i < 43) {
				t.Errorf("%s: user-%02d present=%v", name, i, ok)
			}
		}
		if _, ok := tags["konductor:compliance:fisma-level"]; ok {
			t.Errorf("%s: compliance tag kept over user labels", name)
		}
		if again := map[string]map[string]string{"aws": f.AWSTags("m"), "azure": f.AzureTags("m")}[name]; !maps.Equal(again, tags) {
			t.Errorf("%s: tags are not deterministic", name)
		}
	}
}

func TestAzureTags(t *testing.T) {
	t.Parallel()
	f := testFacts()
	f.Labels = map[string]string{"a<b>c%d&e\\f?g/h": "any <value> / ok", "Team": "x", "team": "y", strings.Repeat("n", 600): "v"}
	tags := f.AzureTags("azure")
	if tags["a_b_c_d_e_f_g_h"] != "any <value> / ok" {
		t.Errorf("forbidden name characters not replaced: %v", tags)
	}
	// Names are case-insensitive: one of Team/team, the first by key order.
	if tags["Team"] != "x" || tags["team"] != "" {
		t.Errorf("case-insensitive duplicate names: Team=%q team=%q", tags["Team"], tags["team"])
	}
	for k, v := range tags {
		if strings.ContainsAny(k, `<>%&\?/`) || utf8.RuneCountInString(k) > 512 || utf8.RuneCountInString(v) > 256 {
			t.Errorf("tag %q=%q breaks Azure rules", k, v)
		}
	}
	if tags["konductor:git-repository"] != "acme/infra" {
		t.Errorf("repository tag = %q", tags["konductor:git-repository"])
	}
	for k := range azureStorageRules.merge(f, "azure", nil) {
		if utf8.RuneCountInString(k) > 128 {
			t.Errorf("storage account tag name %q longer than 128", k)
		}
	}
}

func TestOwnTagsKeptButNeverOverKonductorKeys(t *testing.T) {
	t.Parallel()
	f := testFacts()
	tags := awsRules.merge(f, "aws", map[string]string{"Name": "state", TagStack: "prod", "team": "own"})
	if tags["Name"] != "state" || tags["team"] != "own" || tags[TagStack] != "dev" {
		t.Errorf("merge with own tags: %v", tags)
	}
}

func TestDecodeCompliance(t *testing.T) {
	t.Parallel()
	c, err := DecodeCompliance(map[string]any{
		"fisma": map[string]any{"level": "moderate", "ato": map[string]any{"id": "a1", "authorized": "2025-01-01", "eol": "2026-01-01"}},
		"nist":  map[string]any{"controls": []any{"ac-2"}, "auxiliary": []any{"x"}, "exceptions": []any{}},
		"scip": map[string]any{
			"environment": "prod",
			"ownership":   map[string]any{"operator": map[string]any{"name": "ops", "contacts": []any{"a@b"}}, "provider": map[string]any{"name": "cloud"}},
			"provider":    map[string]any{"name": "aws", "regions": []any{"us-east-1"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Fisma.ATO.EOL != "2026-01-01" || c.Nist.Controls[0] != "ac-2" || c.Scip.Ownership.Operator.Contacts[0] != "a@b" || c.Scip.Provider.Regions[0] != "us-east-1" {
		t.Errorf("decoded %+v", c)
	}
	for _, bad := range []map[string]any{
		{"fisma": map[string]any{"levle": "low"}},
		{"fisma": map[string]any{"level": "extreme"}},
		{"nist": map[string]any{"controls": "ac-2"}},
	} {
		if _, err := DecodeCompliance(bad); err == nil {
			t.Errorf("DecodeCompliance(%v) accepted", bad)
		}
	}
	if c, err := DecodeCompliance(nil); err != nil || len(c.fields()) != 0 {
		t.Errorf("empty block: %+v, %v", c, err)
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestGitFromEnvInActions(t *testing.T) {
	t.Parallel()
	noGit := func(string, ...string) (string, error) {
		t.Error("git run although the environment has everything")
		return "", nil
	}
	g := gitFacts(env(map[string]string{
		"GITHUB_REPOSITORY": "acme/infra", "GITHUB_SHA": "abc", "GITHUB_REF_NAME": "42/merge",
		"GITHUB_HEAD_REF": "feature/x", "GITHUB_ACTOR": "octocat",
	}), ".", noGit)
	if g != (Git{Repository: "acme/infra", Commit: "abc", Branch: "feature/x", Actor: "octocat"}) {
		t.Errorf("pull request: %+v", g)
	}
	g = gitFacts(env(map[string]string{
		"GITHUB_REPOSITORY": "acme/infra", "GITHUB_SHA": "abc", "GITHUB_REF_NAME": "main", "GITHUB_ACTOR": "octocat",
	}), ".", noGit)
	if g.Branch != "main" {
		t.Errorf("push: branch %q, want main", g.Branch)
	}
}

func TestGitFromLocalCheckout(t *testing.T) {
	t.Parallel()
	fake := func(_ string, args ...string) (string, error) {
		switch strings.Join(args, " ") {
		case "rev-parse HEAD":
			return "def", nil
		case "rev-parse --abbrev-ref HEAD":
			return "HEAD", nil // detached
		case "config --get remote.origin.url":
			return "https://x-access-token:secret@github.com/acme/infra.git", nil
		}
		return "", errors.New("not set")
	}
	g := gitFacts(env(nil), ".", fake)
	if g != (Git{Repository: "acme/infra", Commit: "def"}) {
		t.Errorf("local: %+v", g)
	}
}

func TestRepositoryFromRemote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"git@github.com:acme/infra.git":              "acme/infra",
		"https://github.com/acme/infra":              "acme/infra",
		"https://user:token@github.com/acme/infra/":  "acme/infra",
		"ssh://git@gitlab.com/group/sub/project.git": "group/sub/project",
		"/srv/git/infra.git":                         "",
		"":                                           "",
		"https://example.com/":                       "",
	} {
		if got := repositoryFromRemote(in); got != want {
			t.Errorf("repositoryFromRemote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGitFromEnvRealRepository(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	gitEnv := append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
	for _, args := range [][]string{
		{"init", "-q", "-b", "trunk"},
		{"-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "x"},
		{"remote", "add", "origin", "git@github.com:acme/infra.git"},
	} {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = gitEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	g := GitFromEnv(env(nil), dir)
	if g.Repository != "acme/infra" || g.Branch != "trunk" || len(g.Commit) != 40 {
		t.Errorf("from %s: %+v", dir, g)
	}
	// Not a repository, or no such directory: empty facts, no error.
	if g := GitFromEnv(env(nil), filepath.Join(dir, "missing")); g.Commit != "" || g.Repository != "" {
		t.Errorf("missing dir: %+v", g)
	}
}
