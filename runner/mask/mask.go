// Package mask keeps secret values out of everything konductor writes: the
// comment, the job summary, outputs, annotations and logs. The CLI and the
// action share it, as tfcmt keeps its masking in pkg/mask.
package mask

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/containercraft/konductor-action/runner/report"
	"github.com/containercraft/konductor-action/runner/result"
)

// Redacted replaces a masked value.
const Redacted = result.SecretText

// MinLength is the shortest value masked in text: masking a one- or
// two-character value would garble everything we write and hide nothing.
const MinLength = 3

// Masker replaces secret values with [secret] in everything konductor
// writes: the comment, the job summary, outputs and logs. Besides the value
// itself it masks the forms the value takes when quoted (Go and JSON
// strings), escaped for markdown, and each of its lines. It is safe for
// concurrent use.
type Masker struct {
	mu       sync.RWMutex
	values   map[string]bool // as added
	forms    map[string]bool // every form masked
	replacer *strings.Replacer
	longest  int
}

// New returns a Masker for values.
func New(values ...string) *Masker {
	m := &Masker{values: map[string]bool{}, forms: map[string]bool{}}
	m.Add(values...)
	return m
}

// Add adds secret values.
func (m *Masker) Add(values ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for _, v := range values {
		if v == "" || m.values[v] {
			continue
		}
		m.values[v] = true
		changed = true
		for _, f := range forms(v) {
			if len([]rune(f)) >= MinLength {
				m.forms[f] = true
			}
		}
	}
	if !changed {
		return
	}
	// Longest first, so a value is masked whole before any part of it.
	all := slices.Collect(maps.Keys(m.forms))
	slices.SortFunc(all, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	pairs := make([]string, 0, 2*len(all))
	m.longest = 0
	for _, f := range all {
		pairs = append(pairs, f, Redacted)
		m.longest = max(m.longest, len(f))
	}
	m.replacer = strings.NewReplacer(pairs...)
}

// forms are the ways v can appear in text we write.
func forms(v string) []string {
	out := []string{v}
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	one := func(s string) {
		add(s)
		q := strconv.Quote(s)
		add(q[1 : len(q)-1])
		if j, err := json.Marshal(s); err == nil {
			add(string(j[1 : len(j)-1]))
		}
		add(report.Escape(s))
	}
	one(v)
	// Encoded forms: a value sent in a URL, or base64'd whole (a
	// Kubernetes Secret's data) or inside a longer encoded text.
	add(url.QueryEscape(v))
	add(url.PathEscape(v))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		add(enc.EncodeToString([]byte(v)))
	}
	for _, core := range base64Cores(v) {
		add(core)
	}
	if strings.ContainsAny(v, "\r\n") {
		for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
			one(l)
		}
	}
	return out
}

// minBase64Core is the shortest base64 run masked for a value inside a
// longer encoded text: shorter runs would match unrelated base64.
const minBase64Core = 8

// base64Cores returns, for each of the three alignments a value can have
// inside a longer base64 text, the characters that depend on the value's
// bytes alone: whatever surrounds it, its encoding contains one of them.
func base64Cores(v string) []string {
	n := len(v)
	var out []string
	for k := 0; k < 3; k++ {
		buf := make([]byte, k+n+2)
		copy(buf[k:], v)
		enc := base64.StdEncoding.EncodeToString(buf)
		var core strings.Builder
		for j := range enc {
			first, last := 6*j/8, (6*j+5)/8
			if first >= k && last <= k+n-1 {
				core.WriteByte(enc[j])
			}
		}
		if c := core.String(); len(c) >= minBase64Core {
			out = append(out, c, strings.NewReplacer("+", "-", "/", "_").Replace(c))
		}
	}
	return out
}

// Values returns the values added, for ::add-mask::, each multi-line value
// also line by line (as GitHub masks line by line).
func (m *Masker) Values() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []string
	for _, v := range slices.Sorted(maps.Keys(m.values)) {
		out = append(out, v)
		if strings.ContainsAny(v, "\r\n") {
			for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
				if !slices.Contains(out, l) {
					out = append(out, l)
				}
			}
		}
	}
	return out
}

// String masks s.
func (m *Masker) String(s string) string {
	m.mu.RLock()
	r := m.replacer
	m.mu.RUnlock()
	if r == nil {
		return s
	}
	return r.Replace(s)
}

// Result returns a copy of r with every string in it masked, map keys
// included. It goes through r's JSON form, so a field added to the result
// later is masked too.
func (m *Masker) Result(r *result.Result) *result.Result {
	if r == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err == nil {
		var tree any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err = d.Decode(&tree); err == nil {
			if b, err = json.Marshal(m.tree(tree)); err == nil {
				var out result.Result
				if err = json.Unmarshal(b, &out); err == nil {
					maskOldSides(&out)
					return &out
				}
			}
		}
	}
	// Not reached for a result; never pass one on unmasked.
	return &result.Result{Project: m.String(r.Project), Stack: m.String(r.Stack), Operation: r.Operation,
		Status: result.Failed, Counts: map[result.Op]int{}, Error: "the result could not be masked: " + m.String(err.Error())}
}

// maskOldSides hides the previous value of a property whose new value is
// masked: when a secret changes, the old secret comes from state, where we
// have no plaintext to recognise it by.
func maskOldSides(r *result.Result) {
	for i := range r.Steps {
		for j := range r.Steps[i].Diffs {
			d := &r.Steps[i].Diffs[j]
			if strings.Contains(d.New, result.SecretText) && d.Old != "" {
				d.Old = result.SecretText
			}
		}
	}
	for k, o := range r.Outputs {
		if strings.Contains(o.Value, result.SecretText) && o.Old != "" {
			o.Old = result.SecretText
			r.Outputs[k] = o
		}
	}
}

// JSON returns v as compact JSON with every string in it masked: the
// document stays valid whatever the secrets are. With nothing to mask it
// is json.Marshal's, field order included.
func (m *Masker) JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	if m.String(string(b)) == string(b) {
		return string(b)
	}
	var tree any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if d.Decode(&tree) != nil {
		return "{}"
	}
	if b, err = json.Marshal(m.tree(tree)); err != nil {
		return "{}"
	}
	return string(b)
}

func (m *Masker) tree(v any) any {
	switch x := v.(type) {
	case string:
		return m.String(x)
	case []any:
		for i := range x {
			x[i] = m.tree(x[i])
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[m.String(k)] = m.tree(e)
		}
		return out
	}
	return v
}

// Writer returns a writer that masks what it passes to w. It masks line by
// line: a partial line is held until its newline, Flush or Close (or until
// it grows past 64 KiB), so a value split across writes is still masked.
func (m *Masker) Writer(w io.Writer) *Writer {
	return &Writer{m: m, w: w}
}

// Writer is a masking io.Writer.
type Writer struct {
	mu  sync.Mutex
	m   *Masker
	w   io.Writer
	buf []byte
}

const maxPartialLine = 64 << 10

// Write implements io.Writer.
func (mw *Writer) Write(p []byte) (int, error) {
	mw.mu.Lock()
	defer mw.mu.Unlock()
	mw.buf = append(mw.buf, p...)
	cut := bytes.LastIndexByte(mw.buf, '\n') + 1
	if cut == 0 && len(mw.buf) > maxPartialLine {
		cut = len(mw.buf)
	}
	if cut > 0 {
		if err := mw.emit(mw.buf[:cut]); err != nil {
			return 0, err
		}
		mw.buf = append(mw.buf[:0], mw.buf[cut:]...)
	}
	return len(p), nil
}

func (mw *Writer) emit(b []byte) error {
	_, err := io.WriteString(mw.w, mw.m.String(string(b)))
	return err
}

// Flush writes a held partial line.
func (mw *Writer) Flush() error {
	mw.mu.Lock()
	defer mw.mu.Unlock()
	if len(mw.buf) == 0 {
		return nil
	}
	err := mw.emit(mw.buf)
	mw.buf = mw.buf[:0]
	return err
}

// Close flushes; it does not close the underlying writer.
func (mw *Writer) Close() error { return mw.Flush() }
