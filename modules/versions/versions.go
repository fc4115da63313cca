// Package versions holds the pinned default versions of what the modules
// install (Helm charts, images), read from the embedded versions.yaml so a
// bump is a one-line, reviewable change. Nothing resolves "latest".
package versions

import (
	_ "embed"
	"fmt"
	"regexp"
	"sort"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed versions.yaml
var file []byte

var (
	once   sync.Once
	pins   map[string]map[string]string
	errPin error
)

func load() {
	errPin = yaml.Unmarshal(file, &pins)
}

// Get returns the pinned value of key for module (e.g. Get("cert_manager",
// "version")). A missing pin is a programming error and panics, so a module
// can never silently deploy an unpinned version.
func Get(module, key string) string {
	v, err := Lookup(module, key)
	if err != nil {
		panic(err)
	}
	return v
}

// Lookup is Get returning an error instead of panicking.
func Lookup(module, key string) (string, error) {
	once.Do(load)
	if errPin != nil {
		return "", fmt.Errorf("versions.yaml: %w", errPin)
	}
	v := pins[module][key]
	if v == "" {
		return "", fmt.Errorf("versions.yaml: no pin for %s.%s", module, key)
	}
	return v, nil
}

// All returns every pin as "module.key" → value, for listings.
func All() map[string]string {
	once.Do(load)
	out := map[string]string{}
	for m, keys := range pins {
		for k, v := range keys {
			out[m+"."+k] = v
		}
	}
	return out
}

// Keys returns the sorted "module.key" names of every pin.
func Keys() []string {
	all := All()
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// exact is a chart or image version as the pins hold them: semver with an
// optional leading v, no ranges, wildcards or "latest".
var exact = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// IsExact reports whether v names one version (e.g. v1.21.2, 4.12.0-rc.1),
// so that what a stack deploys never moves without a commit: modules reject
// anything else where they take a version.
func IsExact(v string) bool { return exact.MatchString(v) }
