// Package backend finds the Pulumi state backend a stack uses, the way the
// Pulumi CLI does, so a repository that works with `pulumi up` works with
// konductor unchanged: PULUMI_BACKEND_URL, then `backend.url` in
// Pulumi.yaml, then the current `pulumi login`, then Pulumi Cloud when
// PULUMI_ACCESS_TOKEN is set. With none of these, konductor's embedded file
// backend (state under the work dir) serves a laptop; in a workflow it is
// good for nothing but a preview, since its state vanishes with the runner.
package backend

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containercraft/konductor-action/modules"
	"gopkg.in/yaml.v3"
)

// Source says where a backend URL came from.
type Source string

// The sources, in the order the Pulumi CLI tries them.
const (
	FromEnv      Source = "PULUMI_BACKEND_URL"
	FromProject  Source = "backend.url in Pulumi.yaml"
	FromLogin    Source = "the current `pulumi login`"
	FromToken    Source = "PULUMI_ACCESS_TOKEN (Pulumi Cloud)"
	FromEmbedded Source = "konductor's embedded file backend"
)

// StateDir is where the embedded backend keeps state, under the work dir.
const StateDir = ".konductor/state"

// CloudURL is Pulumi Cloud's API, unless PULUMI_API says otherwise.
const CloudURL = "https://api.pulumi.com"

// Backend is a resolved backend.
type Backend struct {
	URL    string
	Source Source
}

// Embedded reports whether b is konductor's embedded file backend.
func (b Backend) Embedded() bool { return b.Source == FromEmbedded }

// String is the backend for people: its URL without credentials, and
// where it came from.
func (b Backend) String() string { return Redact(b.URL) + " (" + string(b.Source) + ")" }

// Resolve finds the backend of the project in dir. getenv reads the
// environment the CLI will run with.
func Resolve(dir string, getenv func(string) string) (Backend, error) {
	if u := getenv("PULUMI_BACKEND_URL"); u != "" {
		return Backend{URL: u, Source: FromEnv}, nil
	}
	if u, err := projectURL(dir); err != nil {
		return Backend{}, err
	} else if u != "" {
		return Backend{URL: u, Source: FromProject}, nil
	}
	if u := currentLogin(getenv); u != "" {
		return Backend{URL: u, Source: FromLogin}, nil
	}
	if getenv("PULUMI_ACCESS_TOKEN") != "" {
		u := getenv("PULUMI_API")
		if u == "" {
			u = CloudURL
		}
		return Backend{URL: u, Source: FromToken}, nil
	}
	abs, err := filepath.Abs(filepath.Join(dir, StateDir))
	if err != nil {
		return Backend{}, err
	}
	return Backend{URL: "file://" + abs, Source: FromEmbedded}, nil
}

// HowToConfigure names the ways to give konductor a backend.
const HowToConfigure = "set PULUMI_BACKEND_URL (for example s3://bucket, azblob://container, gs://bucket), " +
	"set backend.url in Pulumi.yaml, or pass PULUMI_ACCESS_TOKEN for Pulumi Cloud"

// projectURL reads backend.url from dir/Pulumi.yaml.
func projectURL(dir string) (string, error) {
	file := filepath.Join(dir, "Pulumi.yaml")
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var p struct {
		Backend struct {
			URL string `yaml:"url"`
		} `yaml:"backend"`
	}
	if err := yaml.Unmarshal(b, &p); err != nil {
		// The config loader reports a malformed project file in detail.
		return "", nil
	}
	return p.Backend.URL, nil
}

// currentLogin is the backend of the last `pulumi login`, as the CLI keeps
// it in $PULUMI_HOME/credentials.json (~/.pulumi by default).
func currentLogin(getenv func(string) string) string {
	home := getenv("PULUMI_HOME")
	if home == "" {
		h := getenv("HOME")
		if h == "" {
			return ""
		}
		home = filepath.Join(h, ".pulumi")
	}
	b, err := os.ReadFile(filepath.Join(home, "credentials.json"))
	if err != nil {
		return ""
	}
	var creds struct {
		Current string `json:"current"`
	}
	if json.Unmarshal(b, &creds) != nil {
		return ""
	}
	return creds.Current
}

// safeQuery are the query parameters of Pulumi's blob backends that carry
// no credential: their values may be shown. Any other value is redacted.
var safeQuery = []string{
	"region", "endpoint", "use_path_style", "s3ForcePathStyle", "disableSSL", "profile", "awssdk",
	"localemu", "domain", "protocol", "storage_account", "cdn", "project", "access_id",
}

// Redact returns u without credentials: no password in its userinfo, no
// value of a query parameter that may be a credential (SAS tokens,
// signatures, keys).
func Redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" {
		if strings.ContainsAny(u, "@?") {
			return "[redacted backend URL]"
		}
		return u
	}
	if p.User != nil {
		p.User = url.User(modules.Secret)
	}
	if p.RawQuery != "" {
		q := p.Query()
		for k := range q {
			if !slices.Contains(safeQuery, k) {
				q[k] = []string{modules.Secret}
			}
		}
		p.RawQuery = strings.ReplaceAll(q.Encode(), url.QueryEscape(modules.Secret), modules.Secret)
	}
	return strings.ReplaceAll(p.String(), url.QueryEscape(modules.Secret), modules.Secret)
}

// Secrets returns the parts of u that Redact hides, to mask wherever
// text is written.
func Secrets(u string) []string {
	p, err := url.Parse(u)
	if err != nil {
		return nil
	}
	var out []string
	if p.User != nil {
		out = append(out, p.User.Username())
		if pw, ok := p.User.Password(); ok {
			out = append(out, pw)
		}
		out = append(out, p.User.String())
	}
	for k, vs := range p.Query() {
		if slices.Contains(safeQuery, k) {
			continue
		}
		out = append(out, vs...)
	}
	return slices.DeleteFunc(out, func(s string) bool { return s == "" })
}

// ErrEmbedded is wrapped when an operation needs a real backend.
var ErrEmbedded = errors.New("no state backend is configured")

// CheckWorkflow refuses, in a workflow, what the embedded backend cannot
// do: its state is created empty in the runner's workspace and vanishes
// with it, so a deploy's, refresh's or destroy's record of what exists
// would be lost, and a drift check would compare against nothing.
func (b Backend) CheckWorkflow(operation string, drift bool) error {
	if !b.Embedded() {
		return nil
	}
	what := operation
	if drift {
		what = "a drift check"
	}
	if operation == "preview" && !drift {
		return nil
	}
	return fmt.Errorf("%w: %s needs state that outlives this runner, and konductor's embedded file backend is created empty in the workspace for each run: %s", ErrEmbedded, what, HowToConfigure)
}
