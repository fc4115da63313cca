// Package policy prepares the policy packs a run applies: the built-in
// konductor-baseline pack, users' own packs (a prebuilt binary, or a Go
// package directory built here and cached by content hash), and one
// policy-pack config file per pack from konductor.yaml, validated first.
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/containercraft/konductor-action/policies/rules"
	"github.com/containercraft/konductor-action/runner/config"
)

// BaselineName is the name of the built-in pack.
const BaselineName = "konductor-baseline"

// EnvBaseline overrides where the baseline pack binary is.
const EnvBaseline = "KONDUCTOR_BASELINE_PACK"

// Options locate packs and where built ones are cached.
type Options struct {
	// Baseline is the baseline pack binary; empty disables it (tests of
	// other packs) unless found next to the running executable.
	Baseline string
	// CacheDir holds packs built from source.
	CacheDir string
	// Go is the go command for building packs from source ("go").
	Go string
	// Advisory names rules ("<pack>/<rule>") that run as advisory for this
	// run only: the ones a reviewer overrode for the deploy at hand.
	Advisory []string
}

// Set is the packs and their config files for one run.
type Set struct {
	// Packs are absolute binary paths, in order.
	Packs []string
	// Configs are the matching policy-pack config files (same order).
	Configs []string
	// Names are the packs' names in konductor.yaml (baseline, or the base
	// name of a user pack's path).
	Names []string
}

// DefaultBaseline finds the baseline pack: $KONDUCTOR_BASELINE_PACK, else
// konductor-baseline next to the running executable.
func DefaultBaseline(getenv func(string) string) string {
	if p := getenv(EnvBaseline); p != "" {
		return p
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(exe), BaselineName)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Prepare validates the stack's policy settings and returns the pack set.
// Invalid settings are config.Errors naming konductor.yaml.
func Prepare(ctx context.Context, st *config.Stack, opts Options, tmp string) (*Set, error) {
	eff := Effective(st)
	file := st.SettingsFile
	if file == "" {
		file = filepath.Join(st.Dir, config.SettingsFile)
	}
	var errs config.Errors
	userNames := map[string]bool{}
	for _, p := range eff.Packs {
		userNames[packName(p)] = true
	}
	byPack := map[string]map[string]any{}
	ruleNames := slices.Sorted(maps.Keys(eff.Rules))
	for _, name := range ruleNames {
		r := eff.Rules[name]
		pack, rule, scoped := strings.Cut(name, "/")
		if !scoped {
			pack, rule = BaselineName, name
			br, ok := rules.Lookup(rule)
			if !ok {
				errs = append(errs, &config.FieldError{File: file, Path: "policies.rules." + name,
					Reason: "unknown rule" + config.DidYouMean(rule, ruleList()) + "; a user pack's rule is written <pack>/<rule>"})
				continue
			}
			for _, k := range slices.Sorted(maps.Keys(r.Properties)) {
				path := "policies.rules." + name + ".properties." + k
				i := slices.IndexFunc(br.Properties, func(p rules.Property) bool { return p.Name == k })
				switch {
				case i >= 0:
					// The engine checks types too, but only once the run has
					// started, and without naming the file.
					if err := br.Properties[i].Check(r.Properties[k]); err != nil {
						errs = append(errs, &config.FieldError{File: file, Path: path, Reason: err.Error()})
					}
				case br.Retired[k] != "":
					errs = append(errs, &config.FieldError{File: file, Path: path,
						Reason: "no longer a property: " + br.Retired[k]})
				default:
					errs = append(errs, &config.FieldError{File: file, Path: path,
						Reason: "unknown property" + config.DidYouMean(k, propNames(br))})
				}
			}
		} else if !userNames[pack] {
			errs = append(errs, &config.FieldError{File: file, Path: "policies.rules." + name,
				Reason: fmt.Sprintf("no policy pack %q is configured (packs: %s)", pack, strings.Join(slices.Sorted(maps.Keys(userNames)), ", "))})
			continue
		}
		for i, who := range r.OverrideBy {
			if !validOverrider(who) {
				errs = append(errs, &config.FieldError{File: file, Path: fmt.Sprintf("policies.rules.%s.override_by[%d]", name, i),
					Reason: fmt.Sprintf("%q is neither a GitHub login nor an org/team slug", who)})
			}
		}
		entry := map[string]any{}
		for k, v := range r.Properties {
			entry[k] = v
		}
		if r.Enforcement != "" {
			entry["enforcementLevel"] = r.Enforcement
		}
		if byPack[pack] == nil {
			byPack[pack] = map[string]any{}
		}
		byPack[pack][rule] = entry
	}
	if len(errs) > 0 {
		return nil, errs
	}
	for _, name := range opts.Advisory {
		pack, rule, _ := strings.Cut(name, "/")
		if byPack[pack] == nil {
			byPack[pack] = map[string]any{}
		}
		entry, _ := byPack[pack][rule].(map[string]any)
		if entry == nil {
			entry = map[string]any{}
		}
		if entry["enforcementLevel"] != "disabled" {
			entry["enforcementLevel"] = "advisory"
		}
		byPack[pack][rule] = entry
	}

	set := &Set{}
	add := func(name, bin string) error {
		cfg := filepath.Join(tmp, "policy-config-"+name+".json")
		b, err := json.MarshalIndent(orEmpty(byPack[name]), "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg, b, 0o600); err != nil {
			return err
		}
		set.Packs, set.Configs, set.Names = append(set.Packs, bin), append(set.Configs, cfg), append(set.Names, name)
		return nil
	}
	if eff.Baseline && opts.Baseline != "" {
		if err := add(BaselineName, opts.Baseline); err != nil {
			return nil, err
		}
	}
	for _, p := range eff.Packs {
		bin, err := resolve(ctx, st.Dir, p, opts)
		if err != nil {
			return nil, config.Errors{{File: file, Path: "policies.packs", Reason: err.Error()}}
		}
		if err := add(packName(p), bin); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// Settings are a stack's policy settings after merging.
type Settings struct {
	Packs    []string
	Rules    map[string]config.Rule
	Baseline bool
}

// Effective merges the repository-wide policies with the stack's own; the
// stack's win, rule by rule and property by property.
func Effective(st *config.Stack) Settings {
	s := st.Settings
	out := Settings{Rules: map[string]config.Rule{}, Baseline: true}
	if s == nil {
		return out
	}
	layers := []config.Policies{s.Policies}
	if ss, ok := s.Stacks[st.Name]; ok {
		layers = append(layers, ss.Policies)
	}
	for _, l := range layers {
		out.Packs = append(out.Packs, l.Packs...)
		for k, v := range l.Rules {
			prev := out.Rules[k]
			if v.Enforcement != "" {
				prev.Enforcement = v.Enforcement
			}
			if v.Override != "" {
				prev.Override = v.Override
			}
			if v.OverrideBy != nil {
				prev.OverrideBy = v.OverrideBy
			}
			if len(v.Properties) > 0 {
				merged := map[string]any{}
				for pk, pv := range prev.Properties {
					merged[pk] = pv
				}
				for pk, pv := range v.Properties {
					merged[pk] = pv
				}
				prev.Properties = merged
			}
			out.Rules[k] = prev
		}
		if l.Baseline != nil {
			out.Baseline = *l.Baseline
		}
	}
	return out
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func packName(p string) string {
	return strings.TrimSuffix(filepath.Base(filepath.Clean(p)), filepath.Ext(p))
}

// resolve returns a pack's binary: the path itself when it is an executable
// file, or a binary built from the Go package directory it names.
func resolve(ctx context.Context, workDir, p string, opts Options) (string, error) {
	path := p
	if !filepath.IsAbs(path) {
		path = filepath.Join(workDir, path)
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("policy pack %s: %w", p, err)
	}
	if !fi.IsDir() {
		if fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("policy pack %s: not an executable binary", p)
		}
		return path, nil
	}
	return build(ctx, p, path, opts)
}

// build compiles a pack directory, cached by the hash of its files.
func build(ctx context.Context, name, dir string, opts Options) (string, error) {
	goCmd := opts.Go
	if goCmd == "" {
		goCmd = "go"
	}
	if _, err := exec.LookPath(goCmd); err != nil {
		return "", fmt.Errorf("policy pack %s is a Go package directory, but no Go toolchain is on PATH to build it: use a prebuilt binary", name)
	}
	sum, err := hashDir(dir)
	if err != nil {
		return "", fmt.Errorf("policy pack %s: %w", name, err)
	}
	cache := opts.CacheDir
	if cache == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(c, "konductor", "packs")
	}
	bin := filepath.Join(cache, sum[:16], packName(name))
	// Stacks run side by side share one build: the others wait for it.
	mu, _ := building.LoadOrStore(bin, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	// A temp name of its own, so another process building the same pack
	// never renames a half-written file into place.
	tmp, err := os.CreateTemp(filepath.Dir(bin), packName(name)+".*.tmp")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", tmp.Name(), ".")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("policy pack %s failed to build: %v\n%s", name, err, strings.TrimSpace(string(out)))
	}
	return bin, os.Rename(tmp.Name(), bin)
}

// building serialises the builds of one pack binary within the process.
var building sync.Map

func hashDir(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != dir && (strings.HasPrefix(n, ".") || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s\x00", rel)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		return err
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func ruleList() []string {
	var names []string
	for _, r := range rules.All() {
		names = append(names, r.Name)
	}
	return names
}

func propNames(r rules.Rule) []string {
	var names []string
	for _, p := range r.Properties {
		names = append(names, p.Name)
	}
	return names
}

var (
	loginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	teamRE  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]+$`)
)

// validOverrider reports whether s is a GitHub login or an org/team slug.
func validOverrider(s string) bool { return loginRE.MatchString(s) || teamRE.MatchString(s) }

// Overridable says whether a reviewer may override the mandatory
// violations of pack's rule on stack st, and who may (empty: anyone with
// write access). Rules are keyed in konductor.yaml by bare name for the
// baseline pack, <pack>/<rule> otherwise.
func Overridable(st *config.Stack, pack, rule string) (ok bool, by []string) {
	key := pack + "/" + rule
	if pack == BaselineName {
		key = rule
	}
	r := Effective(st).Rules[key]
	return r.Override != "never", r.OverrideBy
}
