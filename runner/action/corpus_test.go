package action_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/containercraft/konductor-action/runner"
	"github.com/containercraft/konductor-action/runner/result"
)

// One corpus of secrets driven through every path text takes on its way
// out: a config secret and an ESC-style secret (both reported by the
// runner as the stack's secret values), a secret in a provider error and in
// the stderr tail, one quoted by a policy, one in the backend URL, one that
// straddles the display cut of a long value, and their base64 and
// URL-encoded forms. Every byte the run wrote is searched: comment, job
// summary, outputs, annotations and log (but the ::add-mask:: lines).
func TestSecretCorpus(t *testing.T) {
	t.Parallel()
	const (
		cfgSecret  = "cfgSecret-Alpha-7781"
		escSecret  = "escToken-Beta-1209xyz"
		provSecret = "provPw-Gamma-55aa10"
		polSecret  = "quotedByPolicy-Delta-3b"
		sasSecret  = "SasSig-Epsilon-9c9c"
		cutSecret  = "straddle-Zeta-0042-tail"
		shortTrue  = "true" // short secrets: masked by ::add-mask::, never in our typed outputs
		shortPort  = "443"
	)
	h := newHarness(t, "dev")
	h.env["PULUMI_BACKEND_URL"] = "azblob://state?sig=" + sasSecret + "&region=x"
	h.changed("Pulumi.dev.yaml")
	h.prEvent("opened", headSHA, "acme/platform")
	h.fake.secrets["dev"] = []string{cfgSecret, escSecret, provSecret, polSecret, cutSecret, shortTrue, shortPort}

	urn := "urn:pulumi:dev::app::pulumi:index:Stash::stash-x"
	long := strings.Repeat("x", 388) + cutSecret // the old 400-byte cut left 11 bytes of it
	b := result.NewBuilder("app", "dev", result.Preview)
	b.Add(apitype.EngineEvent{ResourcePreEvent: &apitype.ResourcePreEvent{Metadata: apitype.StepEventMetadata{
		Op: "update", URN: urn, Type: "pulumi:index:Stash", Diffs: []string{"input", "encoded"},
		Old: &apitype.StepEventStateMetadata{URN: urn, Type: "pulumi:index:Stash", Inputs: map[string]any{"input": "old", "encoded": "old"}},
		New: &apitype.StepEventStateMetadata{URN: urn, Type: "pulumi:index:Stash", Inputs: map[string]any{
			"input":   long,
			"encoded": "data:" + base64.StdEncoding.EncodeToString([]byte("user=admin;pw="+cfgSecret+";")),
		}},
	}}})
	b.Add(apitype.EngineEvent{PolicyEvent: &apitype.PolicyEvent{ResourceURN: urn, PolicyPackName: "team", PolicyName: "no-plain-tokens",
		EnforcementLevel: "mandatory", Message: "Tokens must not be plain.\nfound token \"" + polSecret + "\" in input"}})
	b.Add(apitype.EngineEvent{DiagnosticEvent: &apitype.DiagnosticEvent{URN: urn, Severity: "error",
		Message: "provider error: auth failed for https://api.example.com/?key=" + url.QueryEscape(escSecret+"/+") + " with password " + provSecret}})
	b.Add(apitype.EngineEvent{ResOutputsEvent: &apitype.ResOutputsEvent{Metadata: apitype.StepEventMetadata{
		Type: "pulumi:pulumi:Stack", URN: "urn:pulumi:dev::app::pulumi:pulumi:Stack::app-dev",
		New: &apitype.StepEventStateMetadata{Outputs: map[string]any{
			"endpoint": "https://db.example.com:443", "conn": "postgres://u:" + cfgSecret + "@db", "enabled": true,
		}},
	}}})
	b.Add(apitype.EngineEvent{SummaryEvent: &apitype.SummaryEvent{ResourceChanges: map[apitype.OpType]int{"update": 1}}})
	res := b.Result()
	res.Status = result.Failed
	res.Error = "stderr tail:\nerror: " + escSecret + " rejected\n" + base64.URLEncoding.EncodeToString([]byte(escSecret))
	h.fake.results["dev"] = []*result.Result{res}
	h.fake.onRun = func(w io.Writer, _ runner.Request) {
		io.WriteString(w, "engine: using "+cfgSecret+" and "+url.PathEscape(escSecret)+"\n")
	}
	_ = h.run()

	stdout := h.stdout.String()
	var log []string
	for _, l := range strings.Split(stdout, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			log = append(log, l)
		}
	}
	written := map[string]string{
		"comment": h.comment(), "summary": h.summary(), "outputs": readFile(t, h.env["GITHUB_OUTPUT"]),
		"log and annotations": strings.Join(log, "\n"),
	}
	long6 := []string{cfgSecret, escSecret, provSecret, polSecret, sasSecret, cutSecret}
	var forms []string
	for _, s := range long6 {
		forms = append(forms, s, s[:10], url.QueryEscape(s+"/+"), base64.StdEncoding.EncodeToString([]byte(s)))
	}
	for where, text := range written {
		for _, f := range forms {
			if strings.Contains(text, f) {
				t.Errorf("%s holds %q", where, f)
			}
		}
	}
	// The encoded secret inside a longer base64 value is caught too.
	if strings.Contains(h.summary(), "data:"+base64.StdEncoding.EncodeToString([]byte("user=admin;pw="))[:16]) &&
		strings.Contains(h.summary(), base64.StdEncoding.EncodeToString([]byte("user=admin;pw=" + cfgSecret))[24:36]) {
		t.Errorf("the base64'd secret is in the summary:\n%s", h.summary())
	}
	// Not vacuous: each path did carry text to the outputs.
	for _, want := range []string{"no-plain-tokens", "provider error", "stderr tail"} {
		if !strings.Contains(h.comment()+h.summary(), want) {
			t.Errorf("nothing of %q was written", want)
		}
	}
	if !strings.Contains(strings.Join(log, "\n"), "::error") {
		t.Errorf("no annotation was written:\n%s", stdout)
	}
	// Our typed outputs are never masked text: short secrets equal to
	// "true" and "443" do not corrupt them.
	out := h.outputs()
	if out["has-changes"] != "true" || out["mandatory-violations"] != "1" {
		t.Errorf("typed outputs corrupted: %v", out)
	}
	var so map[string]map[string]any
	if err := json.Unmarshal([]byte(out["stack-outputs"]), &so); err != nil {
		t.Fatalf("stack-outputs %q: %v", out["stack-outputs"], err)
	}
	// Full values (not the display string); a value holding a secret is
	// left out whole.
	if so["dev"]["enabled"] != true {
		t.Errorf("stack-outputs = %v", so)
	}
	if _, ok := so["dev"]["conn"]; ok {
		t.Errorf("stack-outputs hold the secret-bearing conn: %v", so)
	}
	for _, m := range []string{cfgSecret, escSecret, sasSecret, shortTrue, shortPort} {
		if !strings.Contains(stdout, "::add-mask::"+m+"\n") {
			t.Errorf("no ::add-mask:: for %q", m)
		}
	}
}
