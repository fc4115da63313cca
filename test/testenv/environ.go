package testenv

import (
	"os"
	"testing"
)

// Environ returns a private environment for engine runs: the pinned tools,
// a throwaway PULUMI_HOME and a test passphrase, plus extra (which wins).
func Environ(t testing.TB, extra map[string]string) []string {
	t.Helper()
	vals := map[string]string{
		"KONDUCTOR_PULUMI_ROOT":    PulumiRoot(t),
		"KONDUCTOR_PLUGIN_PATH":    os.Getenv("KONDUCTOR_PLUGIN_PATH"),
		"PULUMI_HOME":              t.TempDir(),
		"PULUMI_CONFIG_PASSPHRASE": "test-passphrase",
		"PATH":                     os.Getenv("PATH"),
		"HOME":                     os.Getenv("HOME"),
	}
	for k, v := range extra {
		vals[k] = v
	}
	out := make([]string, 0, len(vals))
	for k, v := range vals {
		out = append(out, k+"="+v)
	}
	return out
}

// Getenv turns an environ into a lookup function.
func Getenv(environ []string) func(string) string {
	m := map[string]string{}
	for _, kv := range environ {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				m[kv[:i]] = kv[i+1:]
				break
			}
		}
	}
	return func(k string) string { return m[k] }
}
