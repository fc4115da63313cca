package mask_test

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/containercraft/konductor-action/runner/mask"
	"github.com/containercraft/konductor-action/runner/result"
)

func TestMaskerForms(t *testing.T) {
	t.Parallel()
	const tricky = `p@ss"wo\rd_*<x>`
	m := mask.New(tricky, "two\nlines", "ab", "")
	j, _ := json.Marshal(tricky)
	for _, text := range []string{
		tricky,
		strconv.Quote(tricky),                         // how result renders strings
		string(j),                                     // JSON outputs
		`p@ss"wo\\rd\_\*&lt;x&gt;`,                    // markdown-escaped text
		"first two\nlines last", "line: two", "lines", // each line alone
	} {
		got := m.String(text)
		for _, leak := range []string{"p@ss", "two", "lines"} {
			if strings.Contains(got, leak) {
				t.Errorf("String(%q) = %q: holds %q", text, got, leak)
			}
		}
		if !strings.Contains(got, mask.Redacted) {
			t.Errorf("String(%q) = %q: nothing masked", text, got)
		}
	}
	// Values too short to mask without garbling everything are not
	// replaced in text, but still go to ::add-mask::.
	if got := m.String("abc cab"); got != "abc cab" {
		t.Errorf("a 2-character value was masked: %q", got)
	}
	want := []string{"ab", tricky, "two\nlines", "two", "lines"}
	if got := m.Values(); !reflect.DeepEqual(got, want) {
		t.Errorf("Values() = %q, want %q", got, want)
	}
}

func TestWriter(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	m := mask.New("s3cr3t-value")
	w := m.Writer(&out)
	for _, chunk := range []string{"a s3c", "r3t-v", "alue b\nnext s3cr3t", "-value", " no newline"} {
		if _, err := io.WriteString(w, chunk); err != nil {
			t.Fatal(err)
		}
	}
	if got := out.String(); got != "a [secret] b\n" {
		t.Errorf("before Flush: %q, want only the complete line", got)
	}
	// A value added later is masked in what is still held.
	m.Add("no newline")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "a [secret] b\nnext [secret] [secret]" {
		t.Errorf("after Flush: %q", got)
	}
}

func TestMaskResult(t *testing.T) {
	t.Parallel()
	m := mask.New("hunter22")
	r := &result.Result{Stack: "dev", Error: "bad hunter22",
		Steps:       []result.Step{{Name: "x-hunter22", URN: "urn::x-hunter22", Diffs: []result.PropertyDiff{{Path: "p", Old: `"hunter22"`, New: `"n"`}}, ReplaceReasons: []string{"hunter22"}}},
		Outputs:     map[string]result.Output{"o": {Value: `"hunter22"`, Old: "hunter22"}},
		Violations:  []result.Violation{{Rule: "r", Name: "hunter22", Message: "m hunter22", Description: "about hunter22"}},
		Diagnostics: []result.Diagnostic{{Message: "d hunter22"}},
		Counts:      map[result.Op]int{result.OpCreate: 1},
	}
	orig, _ := json.Marshal(r)
	got, _ := json.Marshal(m.Result(r))
	if strings.Contains(string(got), "hunter22") || strings.Count(string(got), "[secret]") != 11 {
		t.Errorf("masked result = %s", got)
	}
	if again, _ := json.Marshal(r); !bytes.Equal(again, orig) {
		t.Error("Result modified its argument")
	}
}

// When a secret value changes, the new value is recognised and masked, and
// the old one (from state, unknown to us) is hidden with it.
func TestMaskResultHidesChangedSecretsOldValue(t *testing.T) {
	m := mask.New("new-s3cret-value")
	r := &result.Result{Counts: map[result.Op]int{}, Steps: []result.Step{{Op: result.OpUpdate, Diffs: []result.PropertyDiff{
		{Path: "input", Kind: result.Updated, Old: `"old-s3cret-value"`, New: `"new-s3cret-value"`},
		{Path: "plain", Kind: result.Updated, Old: `"a"`, New: `"b"`},
	}}}, Outputs: map[string]result.Output{"x": {Value: `"new-s3cret-value"`, Old: `"old-s3cret-value"`, Change: result.Updated}}}
	got := m.Result(r)
	b, _ := json.Marshal(got)
	if strings.Contains(string(b), "s3cret") {
		t.Fatalf("a secret survived masking: %s", b)
	}
	if d := got.Steps[0].Diffs[1]; d.Old != `"a"` || d.New != `"b"` {
		t.Errorf("plain diff changed: %+v", d)
	}
}

// JSON masks string values and keeps the document valid (and, with
// nothing to mask, byte for byte what json.Marshal gives).
func TestMaskerJSON(t *testing.T) {
	m := mask.New(`se"cr\et-42`, "true")
	type row struct {
		Stack  string `json:"stack"`
		Reason string `json:"reason"`
		OK     bool   `json:"ok"`
	}
	got := m.JSON([]row{{"dev", `changed se"cr\et-42`, true}})
	var back []map[string]any
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if back[0]["reason"] != "changed [secret]" || back[0]["ok"] != true || strings.Contains(got, "et-42") {
		t.Errorf("JSON = %s", got)
	}
	if got := m.JSON(row{"dev", "plain", false}); got != `{"stack":"dev","reason":"plain","ok":false}` {
		t.Errorf("JSON = %s", got)
	}
}
